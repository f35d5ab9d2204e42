//! The trainee's own bash, on their terminal, with lab's rc file (`lab.bashrc`).
//!
//! bash runs as lab's child on the same terminal: it takes the terminal's foreground for itself
//! and its jobs (so Ctrl-C, Ctrl-Z and `docker exec -it` behave as in any shell) and gives it
//! back when it exits. lab writes nothing to the terminal meanwhile; what it has to say goes
//! through the hook, which prints it before the prompt.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

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
/// when the lab is over; and the lab's variables as shell variables, so `${busybox_id}` typed
/// (or pasted from the book) means in the shell what it means in the lab.
pub fn write_state(session: &Session, prompt: &str, over: bool) -> std::io::Result<()> {
    let mut vars = String::new();
    for (name, value) in session.info.vars.iter() {
        vars.push_str(&format!("{name}='{}'\n", value.replace('\'', r"'\''")));
    }
    atomic_write(&session.dir.join("lab.vars"), &vars)?;
    atomic_write(
        &state_file(session),
        &format!("{prompt}\n{}\n", if over { "exit" } else { "" }),
    )
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
