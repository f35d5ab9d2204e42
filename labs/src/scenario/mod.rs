//! Scenario files: one TOML file per lab (`scenarios/<id>.toml`), serving the trainee (`lab run`),
//! CI (`lab check`), the instructor (`lab grade`) and the book.
//!
//! ```toml
//! id = "static-site"
//! title = "Deploying a static website to the container"
//! summary = "…"
//! minutes = 15
//! images = ["httpd:2.4"]                        # loaded into the engine when missing
//! fixtures = { "widget-factory" = "widget-factory-inc" }   # copied into the lab directory
//!
//! [names]                                       # what the lab names things (unique per `lab check` run)
//! httpd = "httpd"
//! [ports]                                       # host ports it publishes (free ports per `lab check` run)
//! web_port = 8080
//! [creates]                                     # what the lab creates, for the book and `lab reset`
//! containers = ["${httpd}"]
//!
//! [[steps]]
//! title = "Run httpd"
//! text = "Markdown for the trainee"
//! commands = ["docker run --name ${httpd} -p ${web_port}:80 -d httpd:2.4"]
//! hints = ["…"]
//! checks = [{ container = "${httpd}", state = "running" }]
//! done_when = "`${httpd}` is running."                   # the checks in plain words
//!
//! [[objectives]]
//! title = "httpd serves the site"
//! points = 2
//! checks = [{ http = "http://localhost:${web_port}/", contains = "Widget Factory" }]
//! done_when = "http://localhost:${web_port}/ shows the Widget Factory page."
//! ```
//!
//! The whole format is described in the book's reference; checks in [`check`], variables in
//! [`vars`], loading and its errors in [`load`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod check;
pub mod load;
pub mod vars;

pub use check::Check;
pub use load::{LoadError, find, load, load_all};

/// One lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The file's name without `.toml`; what `lab run <id>` takes.
    pub id: String,
    pub title: String,
    /// One paragraph of Markdown: what the trainee will learn.
    pub summary: String,
    /// About how long it takes a trainee.
    pub minutes: u32,
    /// Images the lab needs (`httpd:2.4`); lab loads the lab images when one is missing.
    #[serde(default)]
    pub images: Vec<String>,
    /// Those of `images` that must run the real program (Apache, PostgreSQL, apt-get), not
    /// lab's busybox stand-in: with the stand-ins loaded, the lab says so and does not start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub real_software: Vec<String>,
    /// Fixture directories (under `scenarios/fixtures/`) copied into the lab directory before
    /// the first step: fixture → path in the lab directory.
    #[serde(default)]
    pub fixtures: BTreeMap<String, String>,
    /// Fixture directories made into bare git repositories in the lab directory before the
    /// first step, for the trainee to `git clone` (as the guide clones from GitHub): fixture →
    /// repository path in the lab directory (`widget-factory-inc.git`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repositories: BTreeMap<String, String>,
    /// Names the lab gives containers, images, volumes and networks (the guide's), by variable.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// Host ports the lab publishes (the guide's), by variable.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    #[serde(default)]
    pub creates: Creates,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub objectives: Vec<Objective>,
    /// Where the file was loaded from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// What a lab creates; each one carries the lab's labels, so `lab reset` removes exactly these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Creates {
    /// By name; `*` for containers created without a name.
    #[serde(default)]
    pub containers: Vec<String>,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
}

/// One step: what to read, what to type, what must hold afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// Markdown shown to the trainee (and in the book).
    pub text: String,
    /// The reference commands, in docker syntax: what the guide types. `lab check` and
    /// `lab run --auto` run them; a trainee types them (or their own).
    #[serde(default)]
    pub commands: Vec<StepCommand>,
    /// Must all hold for the step to be done.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// When the step is done, in plain words for a beginner: what its checks look for ("when
    /// `web1` is running and http://localhost:8080 shows the Widget Factory page"). The book,
    /// `lab run` and `lab show` say it; the checks' own wording stays for the details. Required
    /// with checks.
    #[serde(default)]
    pub done_when: String,
    /// Values read from the engine once the step is done, for later steps.
    #[serde(default)]
    pub captures: Vec<Capture>,
    /// The lab's key step names the explain trace excerpt (`"run start"`: book/src/traces/run.toml,
    /// excerpt `start`) that shows what the engine did for it. Only the book shows it, after the
    /// sample run, with a link to the concept chapter the step exercises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book_trace: Option<String>,
    /// Shown one at a time, on request.
    #[serde(default)]
    pub hints: Vec<String>,
}

/// A reference command: a line for the shell, or a table for one that reads input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawCommand")]
pub struct StepCommand {
    /// The command line, run with `sh -c` in the lab directory.
    pub run: String,
    /// Lines typed into it (`docker exec -it web1 bash`, then commands inside, then `exit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<String>,
    /// Run it on a terminal (needed for `-t`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tty: bool,
    /// The exit code it should end with.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exit_code: i32,
    /// `lab check` runs it again until it ends as expected or this long has passed (`10s`):
    /// for a `curl` right after a server was started, which a trainee, typing slower, would
    /// simply run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_for: Option<String>,
}

impl StepCommand {
    /// How long `lab check` may retry it: `retry_for`, or not at all.
    pub fn retry_for(&self) -> std::time::Duration {
        self.retry_for
            .as_deref()
            .and_then(|text| check::parse_duration(text).ok())
            .unwrap_or_default()
    }
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    Line(String),
    Table {
        run: String,
        #[serde(default)]
        input: Vec<String>,
        #[serde(default)]
        tty: bool,
        #[serde(default)]
        exit_code: i32,
        #[serde(default)]
        retry_for: Option<String>,
    },
}

impl From<RawCommand> for StepCommand {
    fn from(raw: RawCommand) -> StepCommand {
        match raw {
            RawCommand::Line(run) => StepCommand {
                run,
                input: Vec::new(),
                tty: false,
                exit_code: 0,
                retry_for: None,
            },
            RawCommand::Table {
                run,
                input,
                tty,
                exit_code,
                retry_for,
            } => StepCommand {
                run,
                input,
                tty,
                exit_code,
                retry_for,
            },
        }
    }
}

/// A value read from the engine after a step, stored in variable `var`: set exactly one of
/// `id`, `mount`, `ip` and `port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub var: String,
    /// The container it is read from: a name, or `*` for this run's newest container (from
    /// `image`, when set).
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `true`: the container's short id (as `docker ps` shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<bool>,
    /// The name of the volume mounted at this destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// The IP address on this network (`bridge` for the default one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The host port this container port (`80/tcp`) is published on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

impl Capture {
    /// A short noun phrase for the value, for text shown before it is captured ("the volume
    /// `dbTmp` mounts at `/data`").
    pub fn phrase(&self) -> String {
        let of = match (self.container.as_str(), &self.image) {
            ("*", Some(image)) => format!("the container from `{image}`"),
            ("*", None) => "the newest container".to_owned(),
            (name, _) => format!("`{name}`"),
        };
        if self.id == Some(true) {
            format!("the id of {of}")
        } else if let Some(destination) = &self.mount {
            format!("the volume {of} mounts at `{destination}`")
        } else if let Some(network) = &self.ip {
            format!("the address of {of} on `{network}`")
        } else if let Some(port) = &self.port {
            format!("the host port {of} publishes {port} on")
        } else {
            format!("`{}`", self.var)
        }
    }

    /// The capture in words.
    pub fn describe(&self) -> String {
        let var = format!("`${{{}}}`", self.var);
        if self.id == Some(true) {
            match (self.container.as_str(), &self.image) {
                ("*", Some(image)) => format!("{var}: the id of the container from `{image}`"),
                ("*", None) => format!("{var}: the id of the newest container"),
                (name, _) => format!("{var}: the id of `{name}`"),
            }
        } else if let Some(destination) = &self.mount {
            format!("{var}: the volume `{}` mounts at `{destination}`", self.container)
        } else if let Some(network) = &self.ip {
            format!(
                "{var}: the IP address of `{}` on network `{network}`",
                self.container
            )
        } else if let Some(port) = &self.port {
            format!("{var}: the host port `{}` publishes {port} on", self.container)
        } else {
            format!("{var}: nothing (the capture names no `mount`, `ip` or `port`)")
        }
    }
}

/// Something an instructor grades: points when all its checks hold on the engine's state (and
/// the trainee's transcript) at grading time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub title: String,
    pub points: u32,
    pub checks: Vec<Check>,
    /// When it scores, in plain words (as a step's `done_when`). Required.
    #[serde(default)]
    pub done_when: String,
}

impl Scenario {
    /// The capture that sets variable `var`, if a step has one.
    pub fn capture(&self, var: &str) -> Option<&Capture> {
        self.steps.iter().flat_map(|s| &s.captures).find(|c| c.var == var)
    }

    /// `text` for people: known variables filled in, a capture not taken yet said in words
    /// (never a raw `${…}`).
    pub fn render_readable(&self, vars: &vars::Vars, text: &str) -> String {
        let mut text = vars.render(text);
        for var in vars::used_in(&text.clone()) {
            if let Some(capture) = self.capture(var) {
                let phrase = vars.render(&capture.phrase());
                text = text
                    .replace(&format!("`${{{var}}}`"), &format!("({phrase})"))
                    .replace(&format!("${{{var}}}"), &format!("({phrase})"));
            }
        }
        text
    }

    /// The greatest score its objectives give.
    pub fn max_points(&self) -> u32 {
        self.objectives.iter().map(|o| o.points).sum()
    }

    /// The variables a run uses before any capture: the builtins, the names and the ports —
    /// as the guide has them (`unique` false) or made unique to run `run`.
    pub fn vars(&self, run: &str, unique: bool, mut free_port: impl FnMut() -> u16) -> vars::Vars {
        let mut vars = vars::Vars::builtins(&self.id, run, unique);
        for (var, name) in &self.names {
            let value = if unique {
                vars::unique_name(name, run)
            } else {
                name.clone()
            };
            vars.set(var, &value);
        }
        for (var, port) in &self.ports {
            let value = if unique { free_port() } else { *port };
            vars.set(var, &value.to_string());
        }
        vars
    }
}
