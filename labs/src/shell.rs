//! The lab's command runner: where the reference commands of a replay, and `host` checks, run.
//! (The trainee types into their own bash: see [`crate::guided`].)
//!
//! Each command line runs with `sh -c` in the lab directory, with `docker` on `PATH` being the
//! lab's client (see [`crate::client`]) and `DOCKER_HOST` naming the lab's engine. `cd` is kept
//! between commands, as in a shell. Two ways to run a line:
//! - [`Shell::run_captured`]: output captured, stdin fed from the command's `input`;
//! - the same on a pseudo-terminal when the command needs one (`docker exec -it`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::api::OUTPUT_LIMIT;
use crate::scenario::StepCommand;

/// How long a reference command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Where and how commands run.
#[derive(Debug, Clone)]
pub struct Shell {
    /// The lab directory: where the shell starts and `cd` with no argument returns.
    home: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

/// What a captured command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// `None` when it was killed for running too long.
    pub exit_code: Option<i32>,
    /// stdout and stderr, interleaved as a terminal shows them (at most [`OUTPUT_LIMIT`] bytes).
    pub output: String,
}

impl Shell {
    /// A shell in `home` with these variables added to lab's own environment.
    pub fn new(home: &Path, env: Vec<(String, String)>) -> Shell {
        Shell {
            home: home.to_owned(),
            cwd: home.to_owned(),
            env,
        }
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Run later commands in `dir` (the trainee's shell was there after their last command).
    pub fn set_cwd(&mut self, dir: &Path) {
        self.cwd = dir.to_owned();
    }

    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// `cd DIR` as a whole line is the shell's own business: handle it here so it lasts.
    /// Answers the exit code when `line` was a `cd`.
    fn builtin_cd(&mut self, line: &str) -> Option<(i32, String)> {
        let mut words = line.split_whitespace();
        if words.next() != Some("cd") {
            return None;
        }
        let target = words.next();
        if words.next().is_some() || line.contains([';', '&', '|', '$', '`']) {
            return None;
        }
        let dir = match target {
            None | Some("~") => self.home.clone(),
            Some(dir) => self.cwd.join(dir),
        };
        match dir.canonicalize() {
            Ok(dir) if dir.is_dir() => {
                self.cwd = dir;
                Some((0, String::new()))
            }
            _ => Some((1, format!("sh: cd: can't cd to {}\n", target.unwrap_or("")))),
        }
    }

    fn command(&self, line: &str) -> Command {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(line)
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Run a reference command with its output captured and its input typed in, on a
    /// pseudo-terminal when it asks for one; killed after `timeout`.
    pub fn run_captured(&mut self, command: &StepCommand, timeout: Duration) -> Ran {
        if let Some((code, output)) = self.builtin_cd(&command.run) {
            return Ran {
                exit_code: Some(code),
                output,
            };
        }
        let result = if command.tty {
            self.run_on_pty(command, timeout)
        } else {
            self.run_piped(command, timeout)
        };
        result.unwrap_or_else(|e| Ran {
            exit_code: Some(127),
            output: format!("lab: cannot run the command: {e}\n"),
        })
    }

    fn run_piped(&self, command: &StepCommand, timeout: Duration) -> std::io::Result<Ran> {
        use std::os::unix::process::CommandExt;
        // `exec 2>&1` first: stderr joins stdout in one pipe, interleaved as on a terminal.
        let mut child = self
            .command(&format!("exec 2>&1\n{}", command.run))
            .stdin(if command.input.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            let input = typed(&command.input);
            // A writer thread: a command that doesn't read its input must not block us.
            std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
            });
        }
        let output = read_limited(child.stdout.take().expect("stdout is piped"));
        let deadline = Instant::now() + timeout;
        let exit_code = loop {
            if let Some(status) = child.try_wait()? {
                break Some(exit_code_of(status));
            }
            if Instant::now() >= deadline {
                kill_group(child.id());
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ok(Ran {
            exit_code,
            // A background process may hold the pipe open: give the reader a moment, no more.
            output: output.recv_timeout(Duration::from_secs(2)).unwrap_or_default(),
        })
    }

    fn run_on_pty(&self, command: &StepCommand, timeout: Duration) -> std::io::Result<Ran> {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(std::io::Error::other)?;
        let mut builder = CommandBuilder::new("/bin/sh");
        builder.args(["-c", &command.run]);
        builder.cwd(&self.cwd);
        for (key, value) in &self.env {
            builder.env(key, value);
        }
        let mut child = pty.slave.spawn_command(builder).map_err(std::io::Error::other)?;
        drop(pty.slave);
        let reader = pty.master.try_clone_reader().map_err(std::io::Error::other)?;
        let mut writer = pty.master.take_writer().map_err(std::io::Error::other)?;

        // Read in a thread, passing chunks on: the writer types a line only once the program
        // has answered the one before (a prompt), so input is never typed ahead of a terminal
        // being set up (which may flush it) and the transcript reads as a session would.
        let (chunks_tx, chunks) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 || chunks_tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut raw = Vec::new();
        let mut keep = |chunk: Vec<u8>, raw: &mut Vec<u8>| {
            if raw.len() < OUTPUT_LIMIT {
                raw.extend_from_slice(&chunk);
            }
        };
        let deadline = Instant::now() + timeout;
        for line in &command.input {
            wait_for_quiet(&chunks, &mut raw, &mut keep, deadline);
            // Enter on a terminal is a carriage return.
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\r")?;
            writer.flush()?;
        }
        let exit_code = loop {
            while let Ok(chunk) = chunks.try_recv() {
                keep(chunk, &mut raw);
            }
            if let Some(status) = child.try_wait()? {
                break Some(status.exit_code() as i32);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(writer);
        drop(pty.master);
        // What the program wrote last may still be on its way.
        while let Ok(chunk) = chunks.recv_timeout(Duration::from_millis(200)) {
            keep(chunk, &mut raw);
        }
        Ok(Ran {
            exit_code,
            output: terminal_text(&raw),
        })
    }
}

/// Wait until the program waits for input: it has said something since the last line was
/// typed, then been quiet for a moment with a prompt showing (the last line not ended) — or
/// until a minute (or `deadline`) passes. The cap is long because a command may work for a while
/// before its shell prompts again (`apt-get install` downloading), and a line typed meanwhile
/// would go to that command (dpkg and debconf read the terminal), not to the shell.
fn wait_for_quiet(
    chunks: &mpsc::Receiver<Vec<u8>>,
    raw: &mut Vec<u8>,
    keep: &mut impl FnMut(Vec<u8>, &mut Vec<u8>),
    deadline: Instant,
) {
    const QUIET: Duration = Duration::from_millis(150);
    let limit = deadline.min(Instant::now() + Duration::from_secs(60));
    let start = raw.len();
    while Instant::now() < limit {
        match chunks.recv_timeout(QUIET.min(limit.saturating_duration_since(Instant::now()))) {
            Ok(chunk) => keep(chunk, raw),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if raw.len() > start && shows_prompt(raw) {
                    return;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether the screen's last line has text: a prompt waiting at its end.
fn shows_prompt(raw: &[u8]) -> bool {
    let last_line = raw.rsplit(|b| *b == b'\n').next().unwrap_or_default();
    !terminal_text(last_line).trim().is_empty()
}

/// Input lines as typed: each followed by Enter.
fn typed(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// What a terminal showed, as plain text, line by line: a carriage return goes back to the
/// start of the line and later text overwrites it (a shell redrawing its prompt), `ESC [ K`
/// erases to the end of the line, backspace steps back, other escape sequences are dropped.
/// (A screen emulator would keep only the last screenful; a transcript needs every line.)
pub fn terminal_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut lines: Vec<String> = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut cursor: usize = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                lines.push(line.drain(..).collect());
                cursor = 0;
            }
            '\r' => cursor = 0,
            '\x08' => cursor = cursor.saturating_sub(1),
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters, then one final byte.
                    let mut last = None;
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            last = Some(c);
                            break;
                        }
                    }
                    if last == Some('K') {
                        line.truncate(cursor);
                    }
                } else {
                    chars.next();
                }
            }
            c if c.is_control() && c != '\t' => {}
            c => {
                if cursor < line.len() {
                    line[cursor] = c;
                } else {
                    line.push(c);
                }
                cursor += 1;
            }
        }
    }
    let mut out: String = lines.iter().map(|l| format!("{}\n", l.trim_end())).collect();
    out.push_str(line.iter().collect::<String>().trim_end());
    out
}

/// Read `pipe` to its end in a thread, keeping at most [`OUTPUT_LIMIT`] bytes.
fn read_limited(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            let room = OUTPUT_LIMIT.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..n.min(room)]);
        }
        let _ = tx.send(String::from_utf8_lossy(&out).into_owned());
    });
    rx
}

fn kill_group(pgid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created for this child
    // (process_group(0) made its id the group id); it touches no memory.
    unsafe {
        libc::kill(-(pgid as i32), libc::SIGKILL);
    }
}

fn exit_code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(run: &str) -> StepCommand {
        StepCommand {
            run: run.to_owned(),
            input: Vec::new(),
            tty: false,
            exit_code: 0,
            retry_for: None,
        }
    }

    #[test]
    fn output_interleaves_stdout_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = Shell::new(dir.path(), vec![]);
        let ran = shell.run_captured(&line("echo out; echo err >&2; exit 3"), COMMAND_TIMEOUT);
        assert_eq!(ran.exit_code, Some(3));
        assert_eq!(ran.output, "out\nerr\n");
    }

    #[test]
    fn input_is_typed_into_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = Shell::new(dir.path(), vec![]);
        let mut command = line("read a; read b; echo \"$b $a\"");
        command.input = vec!["one".into(), "two".into()];
        assert_eq!(shell.run_captured(&command, COMMAND_TIMEOUT).output, "two one\n");
    }

    #[test]
    fn cd_lasts_and_variables_are_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("web")).unwrap();
        let mut shell = Shell::new(dir.path(), vec![("LAB_X".into(), "x1".into())]);
        assert_eq!(
            shell.run_captured(&line("cd web"), COMMAND_TIMEOUT).exit_code,
            Some(0)
        );
        let ran = shell.run_captured(&line("basename $(pwd); echo $LAB_X"), COMMAND_TIMEOUT);
        assert_eq!(ran.output, "web\nx1\n");
        let failed = shell.run_captured(&line("cd nowhere"), COMMAND_TIMEOUT);
        assert_eq!(failed.exit_code, Some(1));
        assert_eq!(
            shell.run_captured(&line("cd"), COMMAND_TIMEOUT).exit_code,
            Some(0)
        );
        assert_eq!(shell.cwd(), dir.path().canonicalize().unwrap().as_path());
    }

    #[test]
    fn a_command_that_runs_too_long_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = Shell::new(dir.path(), vec![]);
        let ran = shell.run_captured(&line("echo started; sleep 30"), Duration::from_millis(200));
        assert_eq!(ran.exit_code, None);
        assert_eq!(ran.output, "started\n");
    }

    #[test]
    fn output_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = Shell::new(dir.path(), vec![]);
        let ran = shell.run_captured(&line("yes | head -c 10000000"), COMMAND_TIMEOUT);
        assert_eq!(ran.exit_code, Some(0));
        assert_eq!(ran.output.len(), OUTPUT_LIMIT);
    }

    #[test]
    fn a_tty_command_sees_a_terminal_and_its_input() {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = Shell::new(dir.path(), vec![]);
        // Input is typed at the program's prompt; the terminal echoes it.
        let mut command = line("test -t 0 && echo tty; printf 'name? '; read a; echo \"got $a\"");
        command.tty = true;
        command.input = vec!["hello".into()];
        let ran = shell.run_captured(&command, COMMAND_TIMEOUT);
        assert_eq!(ran.exit_code, Some(0));
        assert_eq!(ran.output, "tty\nname? hello\ngot hello\n");
    }

    #[test]
    fn terminal_text_drops_escapes() {
        assert_eq!(terminal_text(b"\x1b[1;32mok\x1b[0m\r\nnext\r\n"), "ok\nnext\n");
    }

    #[test]
    fn terminal_text_shows_a_redrawn_line_once() {
        assert_eq!(
            terminal_text(b"/x # \r\x1b[K/x # ls\r\nfile\r\n/x # "),
            "/x # ls\nfile\n/x #"
        );
        assert_eq!(terminal_text(b"abc\x08\x08X\n"), "aXc\n");
        assert_eq!(terminal_text(b"long line\rshort\n"), "shortline\n");
    }
}
