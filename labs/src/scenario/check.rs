//! Checks: declarative statements about the engine's state, written in a scenario file.
//!
//! A check is a TOML table whose *subject key* says what it looks at — `container`, `image`,
//! `volume`, `network`, `http`, `exec`, `host` or `ran` — and whose other keys say what must hold:
//!
//! ```toml
//! { container = "${httpd}", state = "running", published = { "80/tcp" = "${web_port}" } }
//! { http = "http://localhost:${web_port}/", contains = "Widget Factory" }
//! ```
//!
//! Every check is evaluated through the Docker Engine API (or on the host, for `host` and `http`),
//! so one check works against berthd and against a real Docker daemon. This module only parses
//! and describes checks; `crate::checks` evaluates them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// One check, by subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, try_from = "toml::Table")]
pub enum Check {
    Container(ContainerCheck),
    Image(ImageCheck),
    Volume(VolumeCheck),
    Network(NetworkCheck),
    Http(HttpCheck),
    Exec(ExecCheck),
    Host(HostCheck),
    Ran(RanCheck),
}

/// The subject keys, in the order that decides a table's kind when it has several
/// (`{ container = "x", image = "httpd:2.4" }` is a container check that names an image).
const SUBJECTS: &[&str] = &[
    "container",
    "exec",
    "http",
    "host",
    "ran",
    "network",
    "volume",
    "image",
];

/// A container exists (or not) and has the given properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerCheck {
    /// The container's name, or `*`: any container this run created.
    pub container: String,
    /// `false`: no such container (it was removed).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub exists: bool,
    /// `created`, `running`, `exited`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The image it was created from (`httpd:2.4`), compared by image id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Ports the container exposes (`80/tcp`), published or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
    /// Ports published on the host: container port → host port, or `*` for any host port.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub published: BTreeMap<String, String>,
    /// Ports that must have no host binding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpublished: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountSpec>,
    /// `NAME=value` entries its environment contains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `--rm`: removed when it stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_remove: Option<bool>,
    /// Text its logs (stdout and stderr) contain.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub logs_contain: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// A mount a container must have; unset fields are not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    pub destination: String,
    /// `bind`, `volume` or `tmpfs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// For a bind mount, the host path (compared after `..`/`.` are resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For a volume, its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `false`: mounted read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rw: Option<bool>,
    /// An anonymous volume: one whose name the engine made up (64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
}

/// An image exists (or not), its size compared with another's, its layer count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCheck {
    pub image: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub larger_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smaller_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// The image is this one's layers plus [`Self::new_layers`] more on top (what `commit` or a
    /// build step adds), whatever the base's own count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// With `extends`: how many layers the image adds (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_layers: Option<usize>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The image's ONBUILD triggers (`Config.OnBuild`), all of them in order; `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onbuild: Option<Vec<String>>,
    /// Another name of the same image (the same ID): a build that came all from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// A volume exists (or not), and holds files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeCheck {
    pub volume: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub exists: bool,
    /// Paths, relative to the volume's root, that must exist in it.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub holds: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// A network exists (or not), its driver, its members and their aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkCheck {
    pub network: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Containers (by name) connected to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Container name → aliases it has on this network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// `GET url` from the host answers `status` with a matching body; retried until `within`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub http: String,
    #[serde(default = "ok_status")]
    pub status: u16,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contains: Vec<String>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub lacks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// A command run with `sh -c` inside a running container (an exec through the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecCheck {
    pub exec: String,
    /// The container to run it in.
    pub r#in: String,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contains: Vec<String>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub lacks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// A command run with `sh -c` on the host, in the lab's directory, with the lab's `docker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCheck {
    pub host: String,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contains: Vec<String>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub lacks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// The trainee ran a command matching this regex, and it succeeded (from the transcript).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RanCheck {
    pub ran: String,
    /// How to say it in words ("ran `docker ps`"); defaults to the regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub says: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn ok_status() -> u16 {
    200
}

/// A string or a list of strings.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl TryFrom<toml::Table> for Check {
    type Error = String;

    fn try_from(table: toml::Table) -> Result<Check, String> {
        let Some(subject) = SUBJECTS.iter().find(|key| table.contains_key(**key)) else {
            return Err(format!(
                "a check needs one of the keys {}",
                SUBJECTS
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let value = toml::Value::Table(table);
        let parsed = match *subject {
            "container" => value.try_into().map(Check::Container),
            "exec" => value.try_into().map(Check::Exec),
            "http" => value.try_into().map(Check::Http),
            "host" => value.try_into().map(Check::Host),
            "ran" => value.try_into().map(Check::Ran),
            "network" => value.try_into().map(Check::Network),
            "volume" => value.try_into().map(Check::Volume),
            _ => value.try_into().map(Check::Image),
        };
        let check = parsed.map_err(|e| format!("in a `{subject}` check: {}", e.message().trim()))?;
        check.validate().map(|()| check)
    }
}

impl Check {
    /// What the check looks at: `container`, `image`…
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Container(_) => "container",
            Check::Image(_) => "image",
            Check::Volume(_) => "volume",
            Check::Network(_) => "network",
            Check::Http(_) => "http",
            Check::Exec(_) => "exec",
            Check::Host(_) => "host",
            Check::Ran(_) => "ran",
        }
    }

    /// How long the check may take to hold (re-evaluated until then): `within`, or a default
    /// that gives a web server time to start.
    pub fn deadline(&self) -> Duration {
        let within = match self {
            Check::Container(c) => c.within.as_deref(),
            Check::Image(c) => c.within.as_deref(),
            Check::Volume(c) => c.within.as_deref(),
            Check::Network(c) => c.within.as_deref(),
            Check::Http(c) => c.within.as_deref(),
            Check::Exec(c) => c.within.as_deref(),
            Check::Host(c) => c.within.as_deref(),
            Check::Ran(_) => None,
        };
        let default = match self {
            Check::Http(_) | Check::Exec(_) => Duration::from_secs(10),
            Check::Ran(_) => Duration::ZERO,
            _ => Duration::from_secs(5),
        };
        within.and_then(|w| parse_duration(w).ok()).unwrap_or(default)
    }

    fn validate(&self) -> Result<(), String> {
        let (within, matches) = match self {
            Check::Container(c) => (c.within.as_deref(), None),
            Check::Image(c) => (c.within.as_deref(), None),
            Check::Volume(c) => (c.within.as_deref(), None),
            Check::Network(c) => (c.within.as_deref(), None),
            Check::Http(c) => (c.within.as_deref(), c.matches.as_deref()),
            Check::Exec(c) => (c.within.as_deref(), c.matches.as_deref()),
            Check::Host(c) => (c.within.as_deref(), c.matches.as_deref()),
            Check::Ran(c) => (None, Some(c.ran.as_str())),
        };
        if let Some(within) = within {
            parse_duration(within)?;
        }
        if let Some(regex) = matches {
            // Lab variables (names, plain words) are filled in before the regex is used.
            let mut filled = regex.to_owned();
            for var in super::vars::used_in(regex) {
                filled = filled.replace(&format!("${{{var}}}"), "name");
            }
            regex::Regex::new(&filled).map_err(|e| format!("invalid regex {regex:?}: {e}"))?;
        }
        if let Check::Image(c) = self
            && c.new_layers.is_some()
            && c.extends.is_none()
        {
            return Err("new_layers counts layers on top of an image: add `extends = \"<image>\"`".into());
        }
        if let Check::Container(c) = self {
            for (port, host) in &c.published {
                if !port.contains('/') {
                    return Err(format!(
                        "published port {port:?} needs a protocol, e.g. \"{port}/tcp\""
                    ));
                }
                if host != "*" && host.parse::<u16>().is_err() && !host.starts_with("${") {
                    return Err(format!(
                        "published {port} = {host:?}: expected a host port or \"*\""
                    ));
                }
            }
        }
        Ok(())
    }

    /// The check in words, for the trainee, the reports and the book.
    pub fn describe(&self) -> String {
        match self {
            Check::Container(c) => describe_container(c),
            Check::Image(c) => {
                let mut parts = Vec::new();
                if !c.exists {
                    return format!("image `{}` is gone", c.image);
                }
                if let Some(other) = &c.larger_than {
                    parts.push(format!("is larger than `{other}`"));
                }
                if let Some(other) = &c.smaller_than {
                    parts.push(format!("is smaller than `{other}`"));
                }
                if let Some(n) = c.layers {
                    parts.push(format!("has {n} layers"));
                }
                if let Some(base) = &c.extends {
                    match c.new_layers.unwrap_or(1) {
                        0 => parts.push(format!("has `{base}`'s layers and no more")),
                        1 => parts.push(format!("is `{base}`'s layers plus one")),
                        n => parts.push(format!("is `{base}`'s layers plus {n} more")),
                    }
                }
                for (k, v) in &c.labels {
                    parts.push(format!("has label `{k}={v}`"));
                }
                match c.onbuild.as_deref() {
                    Some([]) => parts.push("has no ONBUILD triggers".to_owned()),
                    Some(triggers) => {
                        let listed: Vec<String> = triggers.iter().map(|t| format!("`{t}`")).collect();
                        parts.push(format!("has the ONBUILD triggers {}", listed.join(", ")));
                    }
                    None => {}
                }
                if let Some(other) = &c.same_as {
                    parts.push(format!("is the same image as `{other}`"));
                }
                sentence(format!("image `{}`", c.image), "exists", parts)
            }
            Check::Volume(c) => {
                if !c.exists {
                    return format!("volume `{}` is gone", c.volume);
                }
                let mut parts: Vec<String> = c.holds.iter().map(|p| format!("holds `{p}`")).collect();
                for (k, v) in &c.labels {
                    parts.push(format!("has label `{k}={v}`"));
                }
                sentence(format!("volume `{}`", c.volume), "exists", parts)
            }
            Check::Network(c) => {
                if !c.exists {
                    return format!("network `{}` is gone", c.network);
                }
                let mut parts = Vec::new();
                if let Some(driver) = &c.driver {
                    parts.push(format!("uses the `{driver}` driver"));
                }
                for member in &c.members {
                    parts.push(format!("has `{member}` connected"));
                }
                for (container, aliases) in &c.aliases {
                    for alias in aliases {
                        parts.push(format!("knows `{container}` as `{alias}`"));
                    }
                }
                sentence(format!("network `{}`", c.network), "exists", parts)
            }
            Check::Http(c) => {
                let mut text = format!("`GET {}` answers {}", c.http, c.status);
                text.push_str(&describe_output(
                    &c.contains,
                    &c.lacks,
                    c.matches.as_deref(),
                    "a body",
                ));
                text
            }
            Check::Exec(c) => {
                let mut text = format!("`{}` in `{}` exits {}", c.exec, c.r#in, c.exit_code);
                text.push_str(&describe_output(
                    &c.contains,
                    &c.lacks,
                    c.matches.as_deref(),
                    "output",
                ));
                text
            }
            Check::Host(c) => {
                let mut text = format!("`{}` on the host exits {}", c.host, c.exit_code);
                text.push_str(&describe_output(
                    &c.contains,
                    &c.lacks,
                    c.matches.as_deref(),
                    "output",
                ));
                text
            }
            Check::Ran(c) => match &c.says {
                Some(says) => format!("you ran {says}"),
                None => format!("you ran a command matching `{}`", c.ran),
            },
        }
    }
}

fn describe_container(c: &ContainerCheck) -> String {
    let subject = if c.container == "*" {
        match &c.image {
            Some(image) => format!("a container of this lab from `{image}`"),
            None => "a container of this lab".to_owned(),
        }
    } else {
        format!("container `{}`", c.container)
    };
    if !c.exists {
        return format!("{subject} is gone");
    }
    let mut parts = Vec::new();
    match (c.state.as_deref(), c.exit_code) {
        (Some("exited"), Some(code)) => parts.push(format!("has exited with code {code}")),
        (Some("exited"), None) => parts.push("has exited".to_owned()),
        (Some(state), Some(code)) => parts.push(format!("is {state} with exit code {code}")),
        (Some(state), None) => parts.push(format!("is {state}")),
        (None, Some(code)) => parts.push(format!("exited with code {code}")),
        (None, None) => {}
    }
    if c.container != "*" {
        if let Some(image) = &c.image {
            parts.push(format!("runs `{image}`"));
        }
    }
    for port in &c.exposed {
        parts.push(format!("exposes {port}"));
    }
    for (port, host) in &c.published {
        if host == "*" {
            parts.push(format!("publishes {port} on a host port"));
        } else {
            parts.push(format!("publishes {port} on host port {host}"));
        }
    }
    for port in &c.unpublished {
        parts.push(format!("does not publish {port}"));
    }
    for mount in &c.mounts {
        let mut words = match (mount.r#type.as_deref(), mount.anonymous) {
            (_, Some(true)) => "an anonymous volume".to_owned(),
            (Some("volume"), _) => match &mount.name {
                Some(name) => format!("volume `{name}`"),
                None => "a volume".to_owned(),
            },
            (Some("bind"), _) => match &mount.source {
                Some(source) => format!("`{source}`"),
                None => "a host directory".to_owned(),
            },
            (Some(other), _) => format!("a {other} mount"),
            (None, _) => "something".to_owned(),
        };
        words = format!("mounts {words} at `{}`", mount.destination);
        if mount.rw == Some(false) {
            words.push_str(" read-only");
        }
        parts.push(words);
    }
    for env in &c.env {
        parts.push(format!("has `{env}` in its environment"));
    }
    for (k, v) in &c.labels {
        parts.push(format!("has label `{k}={v}`"));
    }
    match c.auto_remove {
        Some(true) => parts.push("is removed when it stops (`--rm`)".to_owned()),
        Some(false) => parts.push("stays when it stops".to_owned()),
        None => {}
    }
    for text in &c.logs_contain {
        parts.push(format!("logged `{text}`"));
    }
    sentence(subject, "exists", parts)
}

fn describe_output(contains: &[String], lacks: &[String], matches: Option<&str>, what: &str) -> String {
    let mut parts: Vec<String> = contains.iter().map(|t| format!("`{t}`")).collect();
    let mut text = String::new();
    if !parts.is_empty() {
        text = format!(" with {what} containing {}", join_words(&parts));
    }
    parts = lacks.iter().map(|t| format!("`{t}`")).collect();
    if !parts.is_empty() {
        text.push_str(&format!(
            "{} without {}",
            if text.is_empty() { "" } else { " and" },
            join_words(&parts)
        ));
    }
    if let Some(regex) = matches {
        text.push_str(&format!(
            "{} {what} matching `{regex}`",
            if text.is_empty() { " with" } else { " and" }
        ));
    }
    text
}

/// "container `x` is running, exposes 80/tcp and mounts …"
fn sentence(subject: String, fallback: &str, parts: Vec<String>) -> String {
    if parts.is_empty() {
        return format!("{subject} {fallback}");
    }
    format!("{subject} {}", join_words(&parts))
}

fn join_words(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `500ms`, `5s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        .unwrap_or((text, ""));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. \"5s\" or \"500ms\""))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!(
            "invalid duration {text:?}: expected e.g. \"5s\" or \"500ms\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Check, String> {
        #[derive(Deserialize)]
        struct One {
            check: Check,
        }
        toml::from_str::<One>(&format!("check = {text}"))
            .map(|one| one.check)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn the_subject_key_decides_the_kind() {
        let cases = [
            (r#"{ container = "web", image = "httpd:2.4" }"#, "container"),
            (r#"{ image = "httpd:2.4", larger_than = "busybox" }"#, "image"),
            (r#"{ volume = "website", holds = "index.html" }"#, "volume"),
            (r#"{ network = "net", members = ["a"] }"#, "network"),
            (r#"{ http = "http://localhost:8080/" }"#, "http"),
            (r#"{ exec = "ls", in = "web" }"#, "exec"),
            (r#"{ host = "true" }"#, "host"),
            (r#"{ ran = "^docker ps" }"#, "ran"),
        ];
        for (text, kind) in cases {
            assert_eq!(check(text).unwrap().kind(), kind, "{text}");
        }
    }

    #[test]
    fn a_key_of_another_kind_is_refused() {
        let error = check(r#"{ volume = "website", state = "running" }"#).unwrap_err();
        assert!(
            error.contains("in a `volume` check: unknown field `state`"),
            "{error}"
        );
        assert!(
            error.contains("expected one of `volume`, `exists`, `holds`"),
            "{error}"
        );
    }

    #[test]
    fn a_table_without_a_subject_is_refused() {
        let error = check(r#"{ state = "running" }"#).unwrap_err();
        assert!(
            error.starts_with("a check needs one of the keys `container`"),
            "{error}"
        );
    }

    #[test]
    fn bad_regexes_durations_and_ports_are_refused() {
        assert!(check(r#"{ ran = "(" }"#).unwrap_err().contains("invalid regex"));
        assert!(
            check(r#"{ host = "true", within = "soon" }"#)
                .unwrap_err()
                .contains("invalid duration \"soon\"")
        );
        assert!(
            check(r#"{ container = "web", published = { "80" = "8080" } }"#)
                .unwrap_err()
                .contains("needs a protocol")
        );
        assert!(
            check(r#"{ container = "web", published = { "80/tcp" = "lots" } }"#)
                .unwrap_err()
                .contains("expected a host port")
        );
    }

    #[test]
    fn output_matchers_take_one_or_many() {
        let Check::Http(http) =
            check(r#"{ http = "http://x/", contains = ["a", "b"], lacks = "c" }"#).unwrap()
        else {
            panic!("an http check")
        };
        assert_eq!(http.contains, ["a", "b"]);
        assert_eq!(http.lacks, ["c"]);
        assert_eq!(http.status, 200);
    }

    #[test]
    fn checks_read_as_sentences() {
        let cases = [
            (
                r#"{ container = "httpd", state = "running", image = "httpd:2.4", published = { "80/tcp" = "8080" } }"#,
                "container `httpd` is running, runs `httpd:2.4` and publishes 80/tcp on host port 8080",
            ),
            (
                r#"{ container = "*", image = "hello-world", state = "exited", exit_code = 0 }"#,
                "a container of this lab from `hello-world` has exited with code 0",
            ),
            (
                r#"{ container = "httpd", exists = false }"#,
                "container `httpd` is gone",
            ),
            (
                r#"{ container = "web", mounts = [{ destination = "/htdocs", type = "volume", name = "website", rw = false }] }"#,
                "container `web` mounts volume `website` at `/htdocs` read-only",
            ),
            (
                r#"{ image = "site:v2", smaller_than = "site:v1" }"#,
                "image `site:v2` is smaller than `site:v1`",
            ),
            (
                r#"{ image = "base", onbuild = ["COPY . /app", "RUN make"] }"#,
                "image `base` has the ONBUILD triggers `COPY . /app`, `RUN make`",
            ),
            (
                r#"{ image = "app", onbuild = [], same_as = "app:v1" }"#,
                "image `app` has no ONBUILD triggers and is the same image as `app:v1`",
            ),
            (r#"{ volume = "website" }"#, "volume `website` exists"),
            (
                r#"{ http = "http://localhost:8080/", contains = "Widget" }"#,
                "`GET http://localhost:8080/` answers 200 with a body containing `Widget`",
            ),
            (
                r#"{ exec = "ls htdocs", in = "web", contains = ["a", "b"], lacks = "c" }"#,
                "`ls htdocs` in `web` exits 0 with output containing `a` and `b` and without `c`",
            ),
            (
                r#"{ ran = "^docker ps", says = "`docker ps`" }"#,
                "you ran `docker ps`",
            ),
        ];
        for (text, words) in cases {
            assert_eq!(check(text).unwrap().describe(), words, "{text}");
        }
    }

    #[test]
    fn deadlines_default_by_kind() {
        assert_eq!(
            check(r#"{ http = "http://x/" }"#).unwrap().deadline(),
            Duration::from_secs(10)
        );
        assert_eq!(
            check(r#"{ volume = "v" }"#).unwrap().deadline(),
            Duration::from_secs(5)
        );
        assert_eq!(
            check(r#"{ volume = "v", within = "250ms" }"#).unwrap().deadline(),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn a_check_survives_rendering() {
        let mut vars = super::super::vars::Vars::default();
        vars.set("web", "web-1");
        let original =
            check(r#"{ container = "${web}", published = { "80/tcp" = "*" }, exists = true }"#).unwrap();
        let Check::Container(rendered) = vars.render_all(&original) else {
            panic!("a container check")
        };
        assert_eq!(rendered.container, "web-1");
        assert!(rendered.exists);
    }
}
