//! The trainee's own bash, on their terminal, with lab's rc file (`lab.bashrc`).
//!
//! bash runs as lab's child on the same terminal: it takes the terminal's foreground for itself
//! and its jobs (so Ctrl-C, Ctrl-Z and `docker exec -it` behave as in any shell) and gives it
//! back when it exits. lab writes nothing to the terminal meanwhile; what it has to say goes
//! through the hook, which prints it before the prompt.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::scenario::vars::Vars;
use crate::session::{Session, history_file};

/// The rc file every lab shell reads.
const RC: &str = include_str!("lab.bashrc");

/// Where the state file the rc reads lives (the prompt, and whether the lab is over).
pub fn state_file(session: &Session) -> PathBuf {
    session.dir.join("shell.state")
}

/// Where the hook reports.
pub fn socket_path(session: &Session) -> PathBuf {
    session.dir.join("lab.sock")
}

/// Write what the rc reads before each prompt: the prompt's text (`volumes 3/12`) and `exit`
/// when the lab is over; and the lab's variables (see [`vars_script`]).
pub fn write_state(session: &Session, prompt: &str, over: bool) -> std::io::Result<()> {
    atomic_write(&session.dir.join("lab.vars"), &vars_script(&session.info.vars))?;
    atomic_write(
        &state_file(session),
        &format!("{prompt}\n{}\n", if over { "exit" } else { "" }),
    )
}

/// The lab's variables as exported shell variables — its names, its ports and, once the step
/// that reads one is done, each captured value — so that `${busybox_id}` typed or pasted from the
/// book means in the shell what it means in the lab, in the trainee's scripts and `sh -c` too.
pub fn vars_script(vars: &Vars) -> String {
    let mut script = String::new();
    for (name, value) in vars.iter() {
        // Single quotes keep the value as it is; a quote in it closes, escapes and reopens.
        script.push_str(&format!("export {name}='{}'\n", value.replace('\'', r"'\''")));
    }
    script
}

fn atomic_write(path: &Path, text: &str) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(temp, path)
}

/// Start `bash -i` with the lab's rc in the session's shell directory.
pub fn spawn(session: &Session, cwd: &Path) -> std::io::Result<Child> {
    let rc = session.dir.join("lab.bashrc");
    std::fs::write(&rc, RC)?;
    let history = history_file(&session.info.lab);
    if let Some(dir) = history.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut command = Command::new("bash");
    command
        .arg("--rcfile")
        .arg(&rc)
        .arg("-i")
        .current_dir(cwd)
        .envs(session.shell().env().iter().map(|(k, v)| (k, v)))
        .env("HISTFILE", &history)
        .env("__LAB_BIN", std::env::current_exe()?)
        .env("__LAB_DOCKER_DIR", session.bin_dir())
        .env(super::hook::SOCKET_ENV, socket_path(session))
        .env("__LAB_STATE", state_file(session))
        .env("__LAB_VARS", session.dir.join("lab.vars"));
    if let Some(home) = std::env::var_os("HOME") {
        let user_rc = Path::new(&home).join(".bashrc");
        if user_rc.is_file() {
            command.env("__LAB_USER_RC", user_rc);
        }
    }
    command.spawn()
}

/// After bash exits: make lab's own process group the terminal's foreground again (bash gives
/// it back as it exits; this makes sure, should bash have died).
pub fn reclaim_terminal() {
    // SAFETY: isatty, getpgrp and tcsetpgrp take plain integers; SIGTTOU is ignored around
    // tcsetpgrp (a background group that sets the foreground would otherwise be stopped) and
    // its previous disposition restored.
    unsafe {
        if libc::isatty(libc::STDIN_FILENO) != 1 {
            return;
        }
        let previous = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp());
        libc::signal(libc::SIGTTOU, previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_exported_and_quoted_for_the_shell() {
        let mut vars = Vars::default();
        vars.set("busybox_id", "0123456789ab");
        vars.set("odd", "it's $HOME");
        let script = vars_script(&vars);
        assert_eq!(
            script,
            "export busybox_id='0123456789ab'\nexport odd='it'\\''s $HOME'\n"
        );
        // What bash makes of it: the values as they are, in a child's environment.
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "{script}sh -c 'printf \"%s|%s\" \"$busybox_id\" \"$odd\"'"
            ))
            .env_remove("busybox_id")
            .env_remove("odd")
            .output()
            .expect("run bash");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "0123456789ab|it's $HOME");
    }
}
