//! Container checks: `GET /containers/{name}/json` (and `/containers/json` for `*`).

use berth_api::types::{ContainerInspect, MountPoint};

use super::{Context, Evidence, Mismatch};
use crate::ledger::Kind;
use crate::scenario::check::{ContainerCheck, MountSpec};

pub fn evaluate(check: &ContainerCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    if check.container == "*" {
        return evaluate_any(check, cx);
    }
    let found = cx.api.container(&check.container)?;
    match (found, check.exists) {
        (None, false) => match &cx.run {
            Some(run) => run.existed(Kind::Container, &check.container),
            None => Ok(None),
        },
        (None, true) => Err(Mismatch::new(
            format!("a container named {}", check.container),
            "no such container",
        )),
        (Some(container), false) => Err(Mismatch::new(
            "no such container",
            format!("a container that is {}", state_words(&container)),
        )),
        (Some(container), true) => {
            let evidence = owned(&container, cx)?;
            holds_for(check, &container, cx)?;
            Ok(evidence)
        }
    }
}

/// Whether the container is the run's (always, outside a run).
pub fn owned(container: &ContainerInspect, cx: &Context) -> Result<Evidence, Mismatch> {
    match &cx.run {
        Some(run) => run.owns(
            Kind::Container,
            &container.id,
            container.name.trim_start_matches('/'),
            &container.config.labels.clone().unwrap_or_default(),
        ),
        None => Ok(None),
    }
}

/// The containers a `*` check looks among: the run's (labelled, or made by its commands), or
/// every one outside a run.
fn candidates(cx: &Context) -> Result<Vec<String>, Mismatch> {
    let Some(run) = &cx.run else {
        return Ok(cx.api.containers()?.into_iter().map(|c| c.id).collect());
    };
    let mut ids: Vec<String> = cx
        .api
        .containers_labelled(&run.label())?
        .into_iter()
        .map(|c| c.id)
        .collect();
    for made in run.ledger.made_ids(Kind::Container) {
        if !ids.contains(&made.id) {
            ids.push(made.id.clone());
        }
    }
    Ok(ids)
}

/// `container = "*"`: some container of this run satisfies the check (or, with
/// `exists = false`, none matches its image).
fn evaluate_any(check: &ContainerCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    let image_id = match &check.image {
        Some(image) => match cx.api.image(image)? {
            Some(found) => Some(found.id),
            None if !check.exists => return Ok(None),
            None => return Err(Mismatch::new(format!("image {image}"), "no such image")),
        },
        None => None,
    };
    let mut found = Vec::new();
    for id in candidates(cx)? {
        if let Some(container) = cx.api.container(&id)? {
            if image_id.as_ref().is_none_or(|image| *image == container.image) {
                found.push(container);
            }
        }
    }
    let candidates = found;
    let what = match &check.image {
        Some(image) => format!("a container of this lab from {image}"),
        None => "a container of this lab".to_owned(),
    };
    if !check.exists {
        return match candidates.first() {
            None => Ok(None),
            Some(c) => Err(Mismatch::new(
                format!("no {}", &what[2..]),
                format!("{} ({})", name(c), state_words(c)),
            )),
        };
    }
    let mut first_mismatch = None;
    for container in &candidates {
        match holds_for(check, container, cx) {
            Ok(()) => return owned(container, cx),
            Err(m) => {
                first_mismatch.get_or_insert(Mismatch::new(
                    m.expected,
                    format!("{} for {}", m.found, name(container)),
                ));
            }
        }
    }
    Err(first_mismatch.unwrap_or_else(|| Mismatch::new(what, "none")))
}

fn name(container: &ContainerInspect) -> String {
    container.name.trim_start_matches('/').to_owned()
}

/// "running", "exited (exit code 1)".
fn state_words(container: &ContainerInspect) -> String {
    let state = &container.state;
    match state.status.as_str() {
        "exited" => format!("exited (exit code {})", state.exit_code),
        other => other.to_owned(),
    }
}

fn holds_for(check: &ContainerCheck, container: &ContainerInspect, cx: &Context) -> Result<(), Mismatch> {
    if let Some(state) = &check.state {
        if container.state.status != *state {
            return Err(Mismatch::new(format!("state {state}"), state_words(container)));
        }
    }
    if let Some(code) = check.exit_code {
        if container.state.exit_code != code || container.state.running {
            return Err(Mismatch::new(format!("exit code {code}"), state_words(container)));
        }
    }
    if let Some(image) = &check.image {
        let Some(found) = cx.api.image(image)? else {
            return Err(Mismatch::new(format!("image {image}"), "no such image"));
        };
        if found.id != container.image {
            return Err(Mismatch::new(
                format!("created from {image}"),
                format!("created from {}", container.config.image),
            ));
        }
    }
    check_ports(check, container)?;
    for spec in &check.mounts {
        check_mount(spec, &container.mounts)?;
    }
    let env = container.config.env.clone().unwrap_or_default();
    for entry in &check.env {
        if !env.contains(entry) {
            return Err(Mismatch::new(
                format!("{entry} in its environment"),
                env.join(" "),
            ));
        }
    }
    let labels = container.config.labels.clone().unwrap_or_default();
    for (key, value) in &check.labels {
        if labels.get(key) != Some(value) {
            return Err(Mismatch::new(
                format!("label {key}={value}"),
                match labels.get(key) {
                    Some(other) => format!("{key}={other}"),
                    None => format!("no label {key}"),
                },
            ));
        }
    }
    if let Some(auto_remove) = check.auto_remove {
        if container.host_config.auto_remove != auto_remove {
            return Err(Mismatch::new(
                format!("AutoRemove (--rm) {auto_remove}"),
                format!("AutoRemove {}", container.host_config.auto_remove),
            ));
        }
    }
    if !check.logs_contain.is_empty() {
        let logs = cx.api.logs(&container.id)?;
        for text in &check.logs_contain {
            if !logs.contains(text.as_str()) {
                return Err(Mismatch::new(format!("{text:?} in its logs"), summary(&logs)));
            }
        }
    }
    Ok(())
}

fn check_ports(check: &ContainerCheck, container: &ContainerInspect) -> Result<(), Mismatch> {
    let exposed = container.config.exposed_ports.clone().unwrap_or_default();
    for port in &check.exposed {
        if !exposed.contains_key(port) {
            return Err(Mismatch::new(
                format!("{port} exposed"),
                format!("exposed: {}", words(exposed.keys())),
            ));
        }
    }
    let bindings = &container.network_settings.ports;
    let host_ports = |port: &str| -> Vec<String> {
        bindings
            .get(port)
            .and_then(|b| b.as_ref())
            .map(|b| {
                b.iter()
                    .filter(|b| !b.host_port.is_empty())
                    .map(|b| b.host_port.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    let published = || {
        let all: Vec<String> = bindings
            .iter()
            .filter_map(|(port, b)| {
                let hosts: Vec<String> = b.as_ref()?.iter().map(|b| b.host_port.clone()).collect();
                (!hosts.is_empty()).then(|| format!("{port} on {}", hosts.join(",")))
            })
            .collect();
        format!(
            "published: {}",
            if all.is_empty() {
                "none".to_owned()
            } else {
                all.join(", ")
            }
        )
    };
    for (port, host) in &check.published {
        let found = host_ports(port);
        let ok = if host == "*" {
            !found.is_empty()
        } else {
            found.iter().any(|h| h == host)
        };
        if !ok {
            let expected = if host == "*" {
                format!("{port} published on a host port")
            } else {
                format!("{port} published on host port {host}")
            };
            return Err(Mismatch::new(expected, published()));
        }
    }
    for port in &check.unpublished {
        if !host_ports(port).is_empty() {
            return Err(Mismatch::new(format!("{port} not published"), published()));
        }
    }
    Ok(())
}

fn check_mount(spec: &MountSpec, mounts: &[MountPoint]) -> Result<(), Mismatch> {
    let Some(mount) = mounts.iter().find(|m| m.destination == spec.destination) else {
        return Err(Mismatch::new(
            format!("a mount at {}", spec.destination),
            format!("mounts at: {}", words(mounts.iter().map(|m| &m.destination))),
        ));
    };
    let at = &spec.destination;
    if let Some(kind) = &spec.r#type {
        if mount.r#type != *kind {
            return Err(Mismatch::new(
                format!("a {kind} mount at {at}"),
                format!("a {} mount", mount.r#type),
            ));
        }
    }
    if let Some(source) = &spec.source {
        if !same_source(source, &mount.source) {
            return Err(Mismatch::new(
                format!("{source} mounted at {at}"),
                format!("{} mounted", mount.source),
            ));
        }
    }
    if let Some(name) = &spec.name {
        if mount.name != *name {
            return Err(Mismatch::new(
                format!("volume {name} at {at}"),
                format!("volume {:?}", mount.name),
            ));
        }
    }
    if let Some(rw) = spec.rw {
        if mount.rw != rw {
            let words = |rw: bool| if rw { "read-write" } else { "read-only" };
            return Err(Mismatch::new(
                format!("{at} mounted {}", words(rw)),
                format!("mounted {}", words(mount.rw)),
            ));
        }
    }
    if let Some(anonymous) = spec.anonymous {
        if is_anonymous(&mount.name) != anonymous {
            return Err(Mismatch::new(
                if anonymous {
                    format!("an anonymous volume at {at}")
                } else {
                    format!("a named volume at {at}")
                },
                format!("volume {:?}", mount.name),
            ));
        }
    }
    Ok(())
}

/// An absolute expected source must be the mount's; a relative one its end
/// (`widget-factory-inc/web` matches `/root/…/work/widget-factory-inc/web`).
fn same_source(expected: &str, found: &str) -> bool {
    let found = found.trim_end_matches('/');
    let expected = expected.trim_end_matches('/');
    if expected.starts_with('/') {
        found == expected
    } else {
        found.ends_with(&format!("/{expected}"))
    }
}

/// Docker names anonymous volumes with 64 hex digits.
pub fn is_anonymous(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn words<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&str> = items.map(String::as_str).collect();
    if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    }
}

/// The end of a long text, for a mismatch message.
pub fn summary(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "nothing".to_owned();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if tail.len() < text.len() {
        format!("…{tail:?}")
    } else {
        format!("{tail:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sources_match_the_end_of_the_path() {
        assert!(same_source(
            "widget-factory-inc/web",
            "/root/work/widget-factory-inc/web"
        ));
        assert!(!same_source("web", "/root/work/website"));
        assert!(same_source("/srv/web/", "/srv/web"));
        assert!(!same_source("/srv/web", "/x/srv/web"));
    }

    #[test]
    fn anonymous_volumes_have_hex_names() {
        assert!(is_anonymous(&"a1".repeat(32)));
        assert!(!is_anonymous("website"));
    }

    #[test]
    fn mounts_say_what_differs() {
        let mounts = vec![MountPoint {
            r#type: "bind".into(),
            source: "/w/web".into(),
            destination: "/htdocs".into(),
            rw: true,
            ..MountPoint::default()
        }];
        let spec = MountSpec {
            destination: "/htdocs".into(),
            r#type: Some("bind".into()),
            source: Some("web".into()),
            name: None,
            rw: Some(false),
            anonymous: None,
        };
        assert_eq!(
            check_mount(&spec, &mounts),
            Err(Mismatch::new("/htdocs mounted read-only", "mounted read-write"))
        );
        let elsewhere = MountSpec {
            destination: "/data".into(),
            ..spec
        };
        assert_eq!(
            check_mount(&elsewhere, &mounts),
            Err(Mismatch::new("a mount at /data", "mounts at: /htdocs"))
        );
    }
}
