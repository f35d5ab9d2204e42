//! `cargo xtask bench lab`: issue 14's figures, on berthd and on Docker in one run.
//!
//! - prompt-to-verdict: `lab run first-container` on a pseudo-terminal, as a trainee's; after
//!   each `docker ps`, the time from the command's last line of output to lab's verdict line
//!   (the shell's hook, lab's checks, the answer printed);
//! - `lab grade` of a finished lab (`volumes`, played with `--auto --unique`).
//!
//! Release builds; a private berthd on temporary roots; Docker from DOCKER_HOST (or the default
//! socket), with its own CLI.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use super::engine::Daemon;
use super::stats::{median, report, time_runs};
use crate::util::{self, Profile, build_engine, workspace_root};

/// How many verdicts and grades are timed per engine.
fn runs() -> usize {
    std::env::var("BERTH_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

/// One engine as lab sees it: the global options that aim `lab` at it.
struct Engine {
    name: &'static str,
    args: Vec<String>,
    state: PathBuf,
}

impl Engine {
    fn lab(&self, bin: &Path) -> Command {
        let mut command = Command::new(bin.join("lab"));
        command.args(&self.args);
        for (key, value) in self.env() {
            command.env(key, value);
        }
        command
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BERTH_LAB_HOME", self.state.display().to_string()),
            ("HOME", self.state.join("home").display().to_string()),
            ("NO_COLOR", "1".to_owned()),
            ("TERM", "xterm".to_owned()),
            ("INPUTRC", "/dev/null".to_owned()),
        ]
    }
}

pub fn run() -> anyhow::Result<()> {
    let root = workspace_root()?;
    let bin = build_engine(Profile::Release)?;
    util::run(Command::new("cargo").args(["xtask", "images"]).current_dir(&root))?;
    let daemon = Daemon::start(&bin)?;
    let base = std::env::temp_dir().join(format!("berth-bench-lab-{}", std::process::id()));
    let docker_host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker_cli = if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    };
    let engines = [
        Engine {
            name: "berth",
            args: vec!["--host".into(), daemon.host().to_owned()],
            state: base.join("berth"),
        },
        Engine {
            name: "docker",
            args: vec![
                "--engine".into(),
                "docker".into(),
                "--host".into(),
                docker_host,
                "--client".into(),
                docker_cli.into(),
            ],
            state: base.join("docker"),
        },
    ];
    let mut verdicts = Vec::new();
    let mut grades = Vec::new();
    for engine in &engines {
        std::fs::create_dir_all(engine.state.join("home"))?;
        verdicts.push(verdict_latency(&bin, engine).with_context(|| format!("verdicts on {}", engine.name))?);
        grades.push(grade_time(&bin, engine).with_context(|| format!("lab grade on {}", engine.name))?);
    }
    let _ = std::fs::remove_dir_all(&base);
    println!("\nlab (medians of {} each)", runs());
    report(
        "prompt-to-verdict after `docker ps`",
        verdicts[0],
        Some(verdicts[1]),
    );
    report(
        "`lab grade volumes` of a finished lab",
        grades[0],
        Some(grades[1]),
    );
    Ok(())
}

/// A program on a pseudo-terminal, with the time each piece of output arrived.
struct Terminal {
    writer: Box<dyn Write + Send>,
    chunks: mpsc::Receiver<(Instant, Vec<u8>)>,
    seen: String,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Terminal {
    fn spawn(bin: &Path, engine: &Engine, args: &[&str]) -> anyhow::Result<Terminal> {
        let pty = native_pty_system().openpty(PtySize {
            rows: 50,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut command = CommandBuilder::new(bin.join("lab"));
        command.args(&engine.args);
        command.args(args);
        for (key, value) in engine.env() {
            command.env(key, value);
        }
        command.cwd(&engine.state);
        let child = pty.slave.spawn_command(command)?;
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader()?;
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 || tx.send((Instant::now(), chunk[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
        Ok(Terminal {
            writer: pty.master.take_writer()?,
            chunks,
            seen: String::new(),
            child,
            _master: pty.master,
        })
    }

    /// Wait for `needle`; answers when the output holding it arrived.
    fn expect(&mut self, needle: &str) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, chunk) = self.chunks.recv_timeout(left).map_err(|_| {
                anyhow::anyhow!("{needle:?} never showed; the screen ends:\n{}", tail(&self.seen))
            })?;
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(found) = self.seen.find(needle) {
                self.seen.drain(..found + needle.len());
                return Ok(at);
            }
        }
    }

    fn type_line(&mut self, line: &str) -> anyhow::Result<()> {
        self.writer.write_all(format!("{line}\r").as_bytes())?;
        Ok(self.writer.flush()?)
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The median time from `docker ps`'s last line to lab's verdict, at a step it does not finish.
fn verdict_latency(bin: &Path, engine: &Engine) -> anyhow::Result<Duration> {
    let mut terminal = Terminal::spawn(bin, engine, &["run", "first-container", "--restart", "--yes"])?;
    terminal.expect("[first-container 1/5]")?;
    terminal.type_line("docker ps")?;
    terminal.expect("✓ step 1 done")?;
    terminal.expect("[first-container 2/5]")?;
    let mut times = Vec::new();
    for _ in 0..runs() {
        terminal.type_line("docker ps")?;
        let output_ended = terminal.expect("NAMES\r\n")?;
        let verdict = terminal.expect("checks hold")?;
        times.push(verdict.duration_since(output_ended));
        terminal.expect("[first-container 2/5]")?;
    }
    terminal.type_line("exit")?;
    let status = terminal.child.wait()?;
    if !status.success() {
        bail!("lab run ended with {status:?}");
    }
    succeed(engine.lab(bin).args(["reset", "first-container"]))?;
    Ok(median(&times))
}

/// The median time of `lab grade volumes` on a run of it played to the end.
fn grade_time(bin: &Path, engine: &Engine) -> anyhow::Result<Duration> {
    succeed(
        engine
            .lab(bin)
            .args(["run", "volumes", "--auto", "--unique", "--yes"]),
    )?;
    let times = time_runs(runs().min(10), || {
        succeed(engine.lab(bin).args(["grade", "volumes"]))
    });
    succeed(engine.lab(bin).args(["reset", "volumes"]))?;
    Ok(median(&times?))
}

fn succeed(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
