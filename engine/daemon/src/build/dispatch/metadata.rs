//! The instructions that only change the image's config. Each applies its change to the stage
//! and returns the comment Docker records for it (`ENV A=1`, `CMD ["sh" "-c" "…"]`), which
//! becomes the step's `#(nop)` command and its history line.

use std::collections::BTreeMap;

use berth_api::go_quote::go_quote;
use berth_api::types::{EmptyObject, HealthConfig, StrSlice};

use super::Stage;

/// Go's `%q` of a string slice: `["a" "b"]`.
pub fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| go_quote(i)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%v` of a string slice: `[a b]`.
pub fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// A command as written: the exec form as is, the shell form after the stage's shell.
pub fn command(stage: &Stage, args: &[String], exec_form: bool) -> Vec<String> {
    if exec_form {
        args.to_vec()
    } else {
        let mut command = stage.shell();
        command.push(args.join(" "));
        command
    }
}

/// ENV: each name set (replacing an earlier value of the same name), in order.
pub fn env(stage: &mut Stage, pairs: &[(String, String)]) -> String {
    let env = stage.config.env.get_or_insert_with(Vec::new);
    let mut comment = String::from("ENV");
    for (name, value) in pairs {
        let entry = format!("{name}={value}");
        comment.push(' ');
        comment.push_str(&entry);
        match env
            .iter_mut()
            .find(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == name)
        {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
    comment
}

/// LABEL: each label set, in order.
pub fn label(stage: &mut Stage, pairs: &[(String, String)]) -> String {
    let labels = stage.config.labels.get_or_insert_with(BTreeMap::new);
    let mut comment = String::from("LABEL");
    for (name, value) in pairs {
        labels.insert(name.clone(), value.clone());
        comment.push_str(&format!(" {name}={value}"));
    }
    comment
}

/// MAINTAINER: the author of the images that follow.
pub fn maintainer(stage: &mut Stage, name: &str) -> String {
    stage.maintainer = name.to_owned();
    format!("MAINTAINER {name}")
}

/// CMD: the default command.
pub fn cmd(stage: &mut Stage, args: &[String], exec_form: bool) -> String {
    let command = command(stage, args, exec_form);
    let comment = format!("CMD {}", go_quoted_list(&command));
    stage.config.cmd = Some(StrSlice(command));
    stage.config.args_escaped = false;
    stage.cmd_set = true;
    comment
}

/// ENTRYPOINT: the program; it drops a CMD inherited from the base image (not one this stage
/// set), as Docker does.
pub fn entrypoint(stage: &mut Stage, args: &[String], exec_form: bool) -> String {
    let command = if exec_form || !args.is_empty() {
        command(stage, args, exec_form)
    } else {
        Vec::new()
    };
    let comment = format!("ENTRYPOINT {}", go_quoted_list(&command));
    stage.config.entrypoint = Some(StrSlice(command));
    if !stage.cmd_set {
        stage.config.cmd = None;
    }
    comment
}

/// EXPOSE: ports as written (`80`, `80-82`, `53/udp`); a range exposes each of its ports.
/// The history keeps the words as written, in the order given (the parser sorted them).
pub fn expose(stage: &mut Stage, words: &[String]) -> Result<String, String> {
    let mut ports = Vec::new();
    for word in words {
        ports.extend(expose_ports(word)?);
    }
    let exposed = stage.config.exposed_ports.get_or_insert_with(BTreeMap::new);
    for port in ports {
        exposed.insert(port, EmptyObject::default());
    }
    Ok(format!("EXPOSE {}", words.join(" ")))
}

/// `80` → `80/tcp`; `80-82/udp` → each port; Docker's `nat.ParsePortSpecs` refusals.
fn expose_ports(word: &str) -> Result<Vec<String>, String> {
    let (range, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_lowercase();
    let port = |text: &str| {
        text.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {range}"))
    };
    let (start, end) = match range.split_once('-') {
        Some((start, end)) => (port(start)?, port(end)?),
        None => {
            let only = port(range)?;
            (only, only)
        }
    };
    if end < start {
        return Err(format!("invalid range specified for the Port: {range}"));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// VOLUME: mount points.
pub fn volume(stage: &mut Stage, paths: &[String]) -> String {
    let volumes = stage.config.volumes.get_or_insert_with(BTreeMap::new);
    for path in paths {
        volumes.insert(path.clone(), EmptyObject::default());
    }
    format!("VOLUME {}", go_list(paths))
}

/// USER.
pub fn user(stage: &mut Stage, user: &str) -> String {
    stage.config.user = user.to_owned();
    format!("USER {user}")
}

/// WORKDIR: relative paths are joined to the current one (the directory itself is made by the
/// step's container).
pub fn workdir(stage: &mut Stage, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        let current = match stage.config.working_dir.as_str() {
            "" => "/",
            dir => dir,
        };
        format!("{}/{path}", current.trim_end_matches('/'))
    };
    stage.config.working_dir = clean(&joined);
    format!("WORKDIR {}", stage.config.working_dir)
}

/// Go's `filepath.Clean` of an absolute path.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// STOPSIGNAL.
pub fn stop_signal(stage: &mut Stage, signal: &str) -> String {
    stage.config.stop_signal = signal.to_owned();
    format!("STOPSIGNAL {signal}")
}

/// SHELL.
pub fn shell(stage: &mut Stage, shell: &[String]) -> String {
    stage.config.shell = Some(StrSlice(shell.to_vec()));
    format!("SHELL {}", go_list(shell))
}

/// ONBUILD: a trigger for the images built FROM this one, stored as written (keyword upper
/// case).
pub fn onbuild(stage: &mut Stage, trigger: &str) -> String {
    stage
        .config
        .on_build
        .get_or_insert_with(Vec::new)
        .push(trigger.to_owned());
    format!("ONBUILD {trigger}")
}

/// HEALTHCHECK: `None` for `HEALTHCHECK NONE`.
pub fn healthcheck(stage: &mut Stage, check: HealthConfig) -> String {
    let comment = format!("HEALTHCHECK {}", go_health_text(&check));
    stage.config.healthcheck = Some(check);
    comment
}

/// Go's `%q` of a `*HealthConfig`, as Docker writes it into the history:
/// `&{["CMD-SHELL" "curl -f localhost"] "5s" "3s" "0s" '\x03'}` — durations as Go prints them,
/// quoted, and the retry count quoted as a character.
fn go_health_text(check: &HealthConfig) -> String {
    let test = check.test.clone().unwrap_or_default();
    format!(
        "&{{{} {} {} {} {}}}",
        go_quoted_list(&test),
        go_quote(&go_duration(check.interval)),
        go_quote(&go_duration(check.timeout)),
        go_quote(&go_duration(check.start_period)),
        go_char(check.retries),
    )
}

/// Go's `time.Duration.String` for whole milliseconds and up (what HEALTHCHECK's flags give).
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let negative = nanos < 0;
    let mut n = nanos.unsigned_abs();
    let mut text = String::new();
    if n < 1_000_000_000 {
        // Below a second Go prints ms/µs/ns with a fraction.
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        text.push_str(&fraction(n, scale));
        text.push_str(unit);
    } else {
        let hours = n / 3_600_000_000_000;
        n %= 3_600_000_000_000;
        let minutes = n / 60_000_000_000;
        n %= 60_000_000_000;
        if hours > 0 {
            text.push_str(&format!("{hours}h"));
        }
        if hours > 0 || minutes > 0 {
            text.push_str(&format!("{minutes}m"));
        }
        text.push_str(&fraction(n, 1_000_000_000));
        text.push('s');
    }
    if negative { format!("-{text}") } else { text }
}

/// `n / scale` with its fraction, trailing zeros dropped.
fn fraction(n: u64, scale: u64) -> String {
    let whole = n / scale;
    let rest = n % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let digits = scale.to_string().len() - 1;
    let decimals = format!("{rest:0digits$}");
    format!("{whole}.{}", decimals.trim_end_matches('0'))
}

/// Go's `%q` of an int: the character with that code, quoted (`'\x03'`, `'a'`).
fn go_char(value: i64) -> String {
    match u32::try_from(value).ok().and_then(char::from_u32) {
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some(c) if (c as u32) < 0x20 || c == '\u{7f}' => format!("'\\x{:02x}'", c as u32),
        Some(c) => format!("'{c}'"),
        None => "'\\ufffd'".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn comments_read_as_dockers_history() {
        let mut stage = Stage::default();
        assert_eq!(
            env(
                &mut stage,
                &[("A".into(), "1".into()), ("B".into(), "two words".into())]
            ),
            "ENV A=1 B=two words"
        );
        env(&mut stage, &[("A".into(), "3".into())]);
        assert_eq!(stage.config.env, Some(strings(&["A=3", "B=two words"])));
        assert_eq!(
            cmd(&mut stage, &strings(&["sh", "-c", "cat /built"]), true),
            r#"CMD ["sh" "-c" "cat /built"]"#
        );
        assert_eq!(volume(&mut stage, &strings(&["/data"])), "VOLUME [/data]");
        assert_eq!(
            shell(&mut stage, &strings(&["/bin/sh", "-c"])),
            "SHELL [/bin/sh -c]"
        );
        assert_eq!(
            expose(&mut stage, &strings(&["53/udp", "80-82", "8080/TCP"])),
            Ok("EXPOSE 53/udp 80-82 8080/TCP".to_owned())
        );
        let exposed: Vec<&String> = stage.config.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(exposed, ["53/udp", "80/tcp", "8080/tcp", "81/tcp", "82/tcp"]);
        assert_eq!(workdir(&mut stage, "/app"), "WORKDIR /app");
        assert_eq!(workdir(&mut stage, "sub/../x"), "WORKDIR /app/x");
    }

    #[test]
    fn an_entrypoint_drops_only_an_inherited_cmd() {
        let mut stage = Stage::default();
        stage.config.cmd = Some(StrSlice(strings(&["sh"])));
        entrypoint(&mut stage, &strings(&["/bin/echo"]), true);
        assert_eq!(stage.config.cmd, None);
        cmd(&mut stage, &strings(&["hi"]), true);
        entrypoint(&mut stage, &strings(&["/bin/echo"]), true);
        assert_eq!(stage.config.cmd, Some(StrSlice(strings(&["hi"]))));
    }

    #[test]
    fn healthcheck_comment_is_gos_struct_print() {
        let mut stage = Stage::default();
        let check = HealthConfig {
            test: Some(strings(&["CMD-SHELL", "wget -q localhost || exit 1"])),
            interval: 5_000_000_000,
            timeout: 3_000_000_000,
            start_period: 0,
            retries: 3,
        };
        // As Docker 20.10 wrote it into a history.
        assert_eq!(
            healthcheck(&mut stage, check),
            r#"HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5s" "3s" "0s" '\x03'}"#
        );
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(250_000_000), "250ms");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    }
}
