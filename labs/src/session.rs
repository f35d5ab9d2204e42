//! A lab's session directory: what a run needs and leaves behind.
//!
//! ```text
//! <state>/                     ($BERTH_LAB_HOME, else $XDG_STATE_HOME/berth-lab, else ~/.local/state/berth-lab)
//!   trainee                    who does the labs on this machine (`lab whoami NAME`)
//!   history/<lab id>           the lab shell's command history, kept across runs
//!   <lab id>/                  one session per lab
//!     session.json             the run: engine and its address, client, variables, steps done
//!     transcript.jsonl         one line per command typed: step, command, exit code, time
//!     ledger.jsonl             what the run's commands made and removed (see crate::ledger)
//!     bin/docker               the lab's docker (see crate::client)
//!     lab.bashrc, lab.sock     the trainee's shell: its rc file, and where its hook reports
//!     work/                    the lab directory: the shell starts here, fixtures are copied here
//! ```
//!
//! `lab grade` reads the variables (which names the run used), the transcript and the ledger;
//! `lab hint` and `lab status` read the current step; all of them talk to the engine the session
//! recorded.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client;
use crate::engine::EngineKind;
use crate::ledger::Ledger;
use crate::scenario::Scenario;
use crate::scenario::vars::{LAB_LABEL, RUN_LABEL, Vars};
use crate::shell::Shell;

/// The state root for sessions.
pub fn state_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_LAB_HOME") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("berth-lab");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    home.join(".local/state/berth-lab")
}

/// Where the lab shell keeps its history for `lab`: one file per lab, kept across runs.
pub fn history_file(lab: &str) -> PathBuf {
    state_root().join("history").join(lab)
}

/// What a run is, saved as `session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub lab: String,
    pub run: String,
    /// Which kind of engine the run is on.
    pub engine: EngineKind,
    /// The engine's address (`unix:///…`).
    pub host: String,
    /// The client behind the lab's `docker`.
    pub client: PathBuf,
    pub vars: Vars,
    /// The step the trainee is on (0-based); `steps.len()` when done.
    pub step: usize,
    /// The steps done (0-based), by the trainee's commands or a replay's.
    #[serde(default)]
    pub done: BTreeSet<usize>,
    /// The steps the trainee skipped (0-based).
    #[serde(default)]
    pub skipped: BTreeSet<usize>,
    /// How many of the current step's hints were shown.
    pub hints_shown: usize,
    /// RFC 3339.
    pub started: String,
    /// The trainee's shell's directory after their last command (`host` checks run there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
}

/// One command of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// The step it was typed in (0-based).
    pub step: usize,
    pub command: String,
    pub exit_code: i32,
    /// When it started (RFC 3339).
    pub time: String,
    /// How long it ran.
    pub seconds: f64,
}

/// A session directory.
#[derive(Debug, Clone)]
pub struct Session {
    pub dir: PathBuf,
    pub info: SessionInfo,
}

/// Why a session could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// the directory or a file in it could not be written or read
    #[error("session {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// session.json is not what lab writes
    #[error("session {}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SessionError + '_ {
    move |source| SessionError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Session {
    /// A fresh session in `dir` (emptied first): the lab directory with the scenario's
    /// fixtures, the docker wrapper, `session.json`.
    pub fn create(dir: &Path, scenario: &Scenario, info: SessionInfo) -> Result<Session, SessionError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
        }
        let session = Session {
            dir: dir.to_owned(),
            info,
        };
        let work = session.workdir();
        std::fs::create_dir_all(&work).map_err(io_error(&work))?;
        let fixtures = scenario.path.parent().unwrap_or(Path::new(".")).join("fixtures");
        for (fixture, target) in &scenario.fixtures {
            let to = work.join(target);
            copy_tree(&fixtures.join(fixture), &to).map_err(io_error(&to))?;
        }
        for (fixture, repository) in &scenario.repositories {
            let to = work.join(repository);
            crate::git_fixture::make(&fixtures.join(fixture), &to).map_err(io_error(&to))?;
        }
        let bin = session.bin_dir();
        client::install(&bin).map_err(io_error(&bin))?;
        session.save()?;
        Ok(session)
    }

    /// The session saved in `dir`.
    pub fn open(dir: &Path) -> Result<Session, SessionError> {
        let path = dir.join("session.json");
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        let info = serde_json::from_str(&text).map_err(|source| SessionError::Json {
            path: path.clone(),
            source,
        })?;
        Ok(Session {
            dir: dir.to_owned(),
            info,
        })
    }

    /// Save `session.json` (atomically: a reader never sees half a file).
    pub fn save(&self) -> Result<(), SessionError> {
        let path = self.dir.join("session.json");
        let temp = self.dir.join(".session.json.tmp");
        let json = serde_json::to_vec_pretty(&self.info).expect("session info serializes");
        std::fs::write(&temp, json)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(io_error(&path))
    }

    pub fn workdir(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    fn transcript_path(&self) -> PathBuf {
        self.dir.join("transcript.jsonl")
    }

    /// The ledger of what the run made (see [`crate::ledger`]).
    pub fn ledger(&self) -> Ledger {
        Ledger::open(&self.dir)
    }

    /// Whether every step is done or skipped.
    pub fn finished(&self, steps: usize) -> bool {
        self.info.step >= steps
    }

    /// Append one command to the transcript.
    pub fn record(&self, entry: &TranscriptEntry) -> Result<(), SessionError> {
        let path = self.transcript_path();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let mut line = serde_json::to_string(entry).expect("a transcript entry serializes");
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io_error(&path))
    }

    /// The transcript so far (lines that don't parse are skipped).
    pub fn transcript(&self) -> Vec<TranscriptEntry> {
        std::fs::read_to_string(self.transcript_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The labels everything this run creates carries.
    pub fn labels(&self) -> Vec<String> {
        vec![
            format!("{LAB_LABEL}={}", self.info.lab),
            format!("{RUN_LABEL}={}", self.info.run),
        ]
    }

    /// The lab's shell: in the lab directory, `docker` the wrapper around the session's client,
    /// aimed at the session's engine.
    pub fn shell(&self) -> Shell {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bin_dir()];
        paths.extend(std::env::split_paths(&path));
        let path = std::env::join_paths(paths).unwrap_or_default();
        let env = vec![
            ("PATH".to_owned(), path.to_string_lossy().into_owned()),
            ("DOCKER_HOST".to_owned(), self.info.host.clone()),
            ("BERTH_HOST".to_owned(), self.info.host.clone()),
            (
                client::CLIENT_ENV.to_owned(),
                self.info.client.display().to_string(),
            ),
            (client::LABELS_ENV.to_owned(), self.labels().join("\n")),
            // Newer docker CLIs print tips after some commands; the lab's output stays the guide's.
            ("DOCKER_CLI_HINTS".to_owned(), "false".to_owned()),
            // Builds are the classic builder's (its step-by-step output, `Using cache`), on Docker
            // as on berth, whose engine has no BuildKit.
            ("DOCKER_BUILDKIT".to_owned(), "0".to_owned()),
            ("BERTH_LAB".to_owned(), self.info.lab.clone()),
            // For the trainee: where the lab's files are, and the label that picks this lab's
            // objects out (`docker volume prune --filter label=$LAB_LABEL`).
            ("LAB_DIR".to_owned(), self.workdir().display().to_string()),
            (
                "LAB_LABEL".to_owned(),
                self.info.vars.get("lab_label").unwrap_or_default().to_owned(),
            ),
        ];
        let workdir = self.workdir();
        let mut shell = Shell::new(&workdir.canonicalize().unwrap_or(workdir), env);
        if let Some(cwd) = self.info.cwd.as_deref().filter(|d| d.is_dir()) {
            shell.set_cwd(cwd);
        }
        shell
    }
}

/// Copy a directory tree (files, directories, symbolic links).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A run id: six hex digits, different for runs started at the same time.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded randomly per process; mixing in the time and pid keeps ids apart
    // across threads and processes.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    format!("{:06x}", hasher.finish() & 0xff_ffff)
}

/// Now, as RFC 3339 with seconds, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_six_hex_digits_and_differ() {
        let a = new_run_id();
        let b = new_run_id();
        assert_eq!(a.len(), 6);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_session_keeps_its_info_and_transcript() {
        let root = tempfile::tempdir().unwrap();
        let scenarios = root.path().join("scenarios");
        std::fs::create_dir_all(scenarios.join("fixtures/site/web")).unwrap();
        std::fs::write(scenarios.join("fixtures/site/web/index.html"), "hi").unwrap();
        let scenario = Scenario {
            id: "demo".into(),
            title: "Demo".into(),
            summary: String::new(),
            minutes: 1,
            images: vec![],
            real_software: vec![],
            fixtures: [("site".to_owned(), "site-inc".to_owned())].into(),
            repositories: Default::default(),
            names: Default::default(),
            ports: Default::default(),
            creates: Default::default(),
            steps: vec![],
            objectives: vec![],
            path: scenarios.join("demo.toml"),
        };
        let info = SessionInfo {
            lab: "demo".into(),
            run: "abc123".into(),
            engine: EngineKind::Berth,
            host: "unix:///x.sock".into(),
            client: "/usr/bin/docker".into(),
            vars: Vars::builtins("demo", "abc123", true),
            step: 0,
            done: BTreeSet::new(),
            skipped: BTreeSet::new(),
            hints_shown: 0,
            started: now_rfc3339(),
            cwd: None,
        };
        let dir = root.path().join("session");
        let session = Session::create(&dir, &scenario, info.clone()).unwrap();
        assert_eq!(
            std::fs::read_to_string(session.workdir().join("site-inc/web/index.html")).unwrap(),
            "hi"
        );
        assert_eq!(
            std::fs::read_link(session.bin_dir().join("docker")).unwrap(),
            std::env::current_exe().unwrap(),
            "the lab's docker is lab itself, started under that name"
        );
        let entry = TranscriptEntry {
            step: 0,
            command: "docker ps".into(),
            exit_code: 0,
            time: now_rfc3339(),
            seconds: 0.1,
        };
        session.record(&entry).unwrap();
        let reopened = Session::open(&dir).unwrap();
        assert_eq!(reopened.info, info);
        assert_eq!(reopened.transcript(), vec![entry]);
        assert_eq!(reopened.labels(), ["berth.lab=demo", "berth.lab.run=abc123"]);
    }
}
