//! The guided run, driven on a pseudo-terminal like a trainee's: screens, hints, checks that
//! move the lab on, the transcript; then `lab hint`, `lab grade` and `lab reset` on what it left.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::common::{TempDir, TestDaemon, scenarios_dir, stable};

/// A program on a pseudo-terminal, and everything it printed so far.
struct Terminal {
    writer: Box<dyn Write + Send>,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    /// Where the next `expect` starts looking.
    mark: usize,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Terminal {
    fn spawn(command: CommandBuilder) -> Terminal {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 50,
                cols: 160,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let child = pty.slave.spawn_command(command).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            writer: pty.master.take_writer().unwrap(),
            output,
            seen: Vec::new(),
            mark: 0,
            child,
            _master: pty.master,
        }
    }

    /// Read until `needle` appears after what earlier calls consumed.
    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = String::from_utf8_lossy(&self.seen[self.mark..]).into_owned();
            if let Some(at) = text.find(needle) {
                self.mark += text[..at + needle.len()].len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => panic!("{needle:?} never appeared; the screen:\n{}", self.screen()),
            }
        }
    }

    /// Type a line and press Enter.
    fn type_line(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).unwrap();
        self.writer.write_all(b"\r").unwrap();
        self.writer.flush().unwrap();
    }

    /// Wait for the program to end, keeping what it printed last.
    fn finish(mut self) -> (u32, String) {
        let status = self.child.wait().unwrap();
        while let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(500)) {
            self.seen.extend_from_slice(&chunk);
        }
        (status.exit_code(), self.screen())
    }

    fn screen(&self) -> String {
        berth_lab::shell::terminal_text(&self.seen)
    }
}

/// `lab ARGS` on a terminal, against `daemon`, with sessions in `state`.
fn lab_on_terminal(daemon: &TestDaemon, state: &TempDir, args: &[&str]) -> Terminal {
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_lab"));
    command.args(["--host", &daemon.host()]);
    command.args(args);
    command.env("BERTH_LAB_HOME", state.path());
    command.env("BERTH_LAB_SCENARIOS", scenarios_dir());
    command.env("NO_COLOR", "1");
    command.env_remove("BERTH_HOST");
    command.cwd(state.path());
    Terminal::spawn(command)
}

/// A screen made stable: the engine's explain lines (their sentences belong to the engine)
/// become one placeholder line per block, and ids, paths and times are redacted.
fn stable_screen(screen: &str, daemon: &TestDaemon, state: &TempDir) -> String {
    let mut lines = Vec::new();
    let mut in_explain = false;
    for line in screen.lines() {
        if line == "  what the engine did:" {
            in_explain = true;
            lines.push("  what the engine did: [explain events]");
            continue;
        }
        if in_explain && (line.starts_with("  berth") || line.starts_with("  … and ")) {
            continue;
        }
        in_explain = false;
        lines.push(line);
    }
    let text = lines
        .join("\n")
        .replace(&state.path().display().to_string(), "[STATE]");
    let text = regex::Regex::new(r"engine: Berth Engine \S+")
        .unwrap()
        .replace_all(&text, "engine: Berth Engine [VERSION]");
    let text = regex::Regex::new(r"docker: \S+/berth ")
        .unwrap()
        .replace_all(&text, "docker: [BIN]/berth ");
    stable(&text, &[], Some(daemon.root.path()))
}

#[test]
fn a_trainee_does_first_container_at_the_prompt() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    let mut terminal = lab_on_terminal(&daemon, &state, &["run", "first-container"]);
    terminal.expect("[first-container 1/5] $ ");
    terminal.type_line("hint");
    terminal.expect("[first-container 1/5] $ ");
    terminal.type_line("help");
    terminal.expect("[first-container 1/5] $ ");
    terminal.type_line("docker ps");
    terminal.expect("[first-container 2/5] $ ");
    // A command that is not the step's: the step waits, and says how far it is.
    terminal.type_line("docker images hello-world");
    terminal.expect("[first-container 2/5] $ ");
    terminal.type_line("docker run hello-world");
    terminal.expect("[first-container 3/5] $ ");
    terminal.type_line("explain");
    terminal.expect("[first-container 3/5] $ ");
    terminal.type_line("check");
    terminal.expect("[first-container 3/5] $ ");
    terminal.type_line("docker ps -a");
    terminal.expect("[first-container 4/5] $ ");
    terminal.type_line("docker container run busybox");
    terminal.expect("[first-container 5/5] $ ");
    terminal.type_line("docker container inspect $(docker ps -lq) | grep -c '\"Cmd\"'");
    terminal.expect("You finished");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("  what the engine did:\n  berthd "),
        "berthd explains itself:\n{screen}"
    );
    insta::assert_snapshot!(stable_screen(&screen, &daemon, &state));

    // The transcript: every command typed, with its step and exit code.
    let transcript = std::fs::read_to_string(state.path().join("first-container/transcript.jsonl")).unwrap();
    let commands: Vec<(u64, String, i64)> = transcript
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["step"].as_u64().unwrap(),
                v["command"].as_str().unwrap().to_owned(),
                v["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        commands,
        [
            (0, "docker ps".to_owned(), 0),
            (1, "docker images hello-world".to_owned(), 0),
            (1, "docker run hello-world".to_owned(), 0),
            (2, "docker ps -a".to_owned(), 0),
            (3, "docker container run busybox".to_owned(), 0),
            (
                4,
                "docker container inspect $(docker ps -lq) | grep -c '\"Cmd\"'".to_owned(),
                0
            ),
        ]
    );

    // `lab hint` after the last step; `lab grade` gives every point.
    let lab = |args: &[&str]| {
        let output = daemon.lab(state.path()).args(args).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(lab(&["hint"]), "first-container: every step is done\n");
    let grade: serde_json::Value =
        serde_json::from_str(&lab(&["grade", "first-container", "--format", "json"])).unwrap();
    assert_eq!(
        (grade["score"].as_u64(), grade["max_score"].as_u64()),
        (Some(5), Some(5)),
        "{grade}"
    );
    let csv = lab(&["grade", "first-container", "--format", "csv"]);
    assert!(csv.ends_with("first-container,total,5,5,passed,\n"), "{csv}");

    // `lab reset` removes the lab's containers, and leaves one it did not make.
    let bystander = daemon.berth(&["run", "-d", "--name", "bystander", "busybox", "sleep", "600"]);
    assert!(bystander.status.success(), "{bystander:?}");
    let removed = lab(&["reset", "first-container"]);
    assert_eq!(
        removed
            .lines()
            .filter(|l| l.starts_with("removed container "))
            .count(),
        2,
        "{removed}"
    );
    assert!(
        daemon
            .api()
            .containers_labelled("berth.lab=first-container")
            .unwrap()
            .is_empty()
    );
    assert!(daemon.api().container("bystander").unwrap().is_some());
    let grade: serde_json::Value =
        serde_json::from_str(&lab(&["grade", "first-container", "--format", "json"])).unwrap();
    assert_eq!(
        grade["score"].as_u64(),
        Some(2),
        "only the transcript's objectives remain: {grade}"
    );
}

#[test]
fn a_trainee_who_leaves_gets_partial_credit() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    let mut terminal = lab_on_terminal(&daemon, &state, &["run", "first-container"]);
    terminal.expect("[first-container 1/5] $ ");
    terminal.type_line("skip");
    terminal.expect("[first-container 2/5] $ ");
    terminal.type_line("docker run hello-world");
    terminal.expect("[first-container 3/5] $ ");
    terminal.type_line("exit");
    terminal.expect("Left at step 3.");
    let (code, _) = terminal.finish();
    assert_eq!(code, 0);
    let output = daemon
        .lab(state.path())
        .args(["grade", "first-container"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let text = regex::Regex::new(r"run [0-9a-f]{6} started [^,\s]+")
        .unwrap()
        .replace_all(&text, "run [RUN] started [TIME]");
    insta::assert_snapshot!(text);
}

#[test]
fn auto_plays_the_reference_commands() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    let output = daemon
        .lab(state.path())
        .args(["run", "first-container", "--auto"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("$ docker run hello-world\n\nHello from Docker!"),
        "{stdout}"
    );
    assert!(stdout.contains("✓ first-container: objectives 5/5"), "{stdout}");
    // The run stays for grading, like a trainee's.
    let grade = daemon
        .lab(state.path())
        .args(["grade", "first-container", "--format", "json"])
        .output()
        .unwrap();
    let grade: serde_json::Value = serde_json::from_slice(&grade.stdout).unwrap();
    assert_eq!(grade["score"], grade["max_score"]);
}
