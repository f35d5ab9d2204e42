//! `-c` changes of `import` and `commit`: Dockerfile instructions applied to a config.
//!
//! Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME and WORKDIR here,
//! with the Dockerfile's two forms: JSON (`CMD ["sh"]`) and shell (`CMD echo hi` →
//! `["/bin/sh", "-c", "echo hi"]`).

use std::collections::BTreeMap;

use berth_api::types::{ContainerConfig, EmptyObject, StrSlice};

/// Why a change was refused; the messages are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// not an instruction `-c` accepts
    #[error("{0} is not a valid change command")]
    NotAllowed(String),
    /// the instruction needs arguments
    #[error("{0} requires at least one argument")]
    MissingArgument(String),
    /// key/value instructions need pairs
    #[error("{0} must have two arguments")]
    NeedsPairs(String),
    /// EXPOSE of something that is not a port
    #[error("Invalid containerPort: {0}")]
    BadPort(String),
    /// a quote was opened and never closed
    #[error("unexpected end of statement while looking for matching quote in: {0}")]
    Unterminated(String),
}

/// Apply every change, in order, to `config`.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ChangeError> {
    for change in changes {
        apply_change(config, change.trim())?;
    }
    Ok(())
}

fn apply_change(config: &mut ContainerConfig, line: &str) -> Result<(), ChangeError> {
    let (instruction, rest) = match line.split_once(char::is_whitespace) {
        Some((instruction, rest)) => (instruction, rest.trim()),
        None => (line, ""),
    };
    let keyword = instruction.to_lowercase();
    match keyword.as_str() {
        "cmd" => config.cmd = Some(command_form(rest)),
        "entrypoint" => config.entrypoint = Some(command_form(rest)),
        "env" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (key, value) in pairs(&keyword, rest, env)? {
                let prefix = format!("{key}=");
                env.retain(|entry| !entry.starts_with(&prefix) && entry != &key);
                env.push(format!("{key}={value}"));
            }
        }
        "label" => {
            let env = config.env.clone().unwrap_or_default();
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (key, value) in pairs(&keyword, rest, &env)? {
                labels.insert(key, value);
            }
        }
        "expose" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for word in words(rest)? {
                ports.insert(normalize_port(&word)?, EmptyObject {});
            }
        }
        "volume" => {
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            let paths = json_array(rest).map_or_else(|| words(rest), Ok)?;
            if paths.is_empty() {
                return Err(ChangeError::MissingArgument("VOLUME".into()));
            }
            for path in paths {
                volumes.insert(path, EmptyObject {});
            }
        }
        "workdir" => {
            let dir = expand(rest, config.env.as_deref().unwrap_or_default());
            config.working_dir = if dir.starts_with('/') {
                dir
            } else {
                let base = if config.working_dir.is_empty() {
                    "/"
                } else {
                    config.working_dir.as_str()
                };
                format!("{}/{dir}", base.trim_end_matches('/'))
            };
        }
        "user" => config.user = expand(rest, config.env.as_deref().unwrap_or_default()),
        "onbuild" => config.on_build.get_or_insert_with(Vec::new).push(rest.to_owned()),
        _ => return Err(ChangeError::NotAllowed(keyword)),
    }
    Ok(())
}

/// The JSON (exec) form when the text is a JSON array of strings, else the shell form.
fn command_form(rest: &str) -> StrSlice {
    match json_array(rest) {
        Some(args) => StrSlice(args),
        None => StrSlice(vec!["/bin/sh".into(), "-c".into(), rest.to_owned()]),
    }
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if rest.starts_with('[') {
        serde_json::from_str(rest).ok()
    } else {
        None
    }
}

/// `key=value key2="a b"` pairs, or the legacy `key value with spaces` form; `$VAR` expanded.
fn pairs(keyword: &str, rest: &str, env: &[String]) -> Result<Vec<(String, String)>, ChangeError> {
    let upper = keyword.to_uppercase();
    let words = words(rest)?;
    if words.is_empty() {
        return Err(ChangeError::MissingArgument(upper));
    }
    if !words[0].contains('=') {
        // Legacy form: the first word is the key, the rest of the line (as typed) the value.
        let value = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
        if value.is_empty() {
            return Err(ChangeError::NeedsPairs(upper));
        }
        return Ok(vec![(words[0].clone(), expand(&unquote(value)?, env))]);
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), expand(value, env))),
            _ => Err(ChangeError::NeedsPairs(upper.clone())),
        })
        .collect()
}

/// Split on white space, honouring double and single quotes and backslash escapes (quotes removed).
fn words(text: &str) -> Result<Vec<String>, ChangeError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => current.extend(chars.next()),
                        Some(other) => current.push(other),
                        None => return Err(ChangeError::Unterminated(text.to_owned())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                current.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

fn unquote(text: &str) -> Result<String, ChangeError> {
    Ok(words(text)?.join(" "))
}

/// `$VAR` and `${VAR}` from the config's environment; unknown variables expand to nothing, as Docker.
fn expand(text: &str, env: &[String]) -> String {
    let lookup = |name: &str| {
        env.iter()
            .find_map(|entry| entry.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
            out.push_str(&lookup(&name));
        } else {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                out.push('$')
            } else {
                out.push_str(&lookup(&name))
            }
        }
    }
    out
}

/// `80` → `80/tcp`; `443/udp` stays; anything else is refused like Docker's nat.NewPort.
pub fn normalize_port(spec: &str) -> Result<String, ChangeError> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let valid = |p: &str| p.parse::<u16>().is_ok();
    let ok = match port.split_once('-') {
        Some((start, end)) => valid(start) && valid(end),
        None => valid(port),
    };
    if !ok {
        return Err(ChangeError::BadPort(port.to_owned()));
    }
    Ok(format!("{port}/{}", proto.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> ContainerConfig {
        let mut config = ContainerConfig::default();
        apply_changes(
            &mut config,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        config
    }

    /// The same changes given to Docker 20.10's `import -c` gave this config (captured here).
    #[test]
    fn matches_dockers_import() {
        let config = applied(&[
            "CMD echo hi",
            r#"ENTRYPOINT ["/bin/sh","-c"]"#,
            r#"ENV B=2 C="x y""#,
            "ENV D 3 4",
            "EXPOSE 80 443/udp",
            "VOLUME /data /logs",
            "WORKDIR /srv",
            r#"LABEL a=b "c d"=e"#,
            "USER nobody",
            "ONBUILD RUN ls",
        ]);
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"Hostname":"","Domainname":"","User":"nobody","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"443/udp":{},"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["B=2","C=x y","D=3 4"],"Cmd":["/bin/sh","-c","echo hi"],"Image":"","Volumes":{"/data":{},"/logs":{}},"WorkingDir":"/srv","Entrypoint":["/bin/sh","-c"],"OnBuild":["RUN ls"],"Labels":{"a":"b","c d":"e"}}"#
        );
    }

    #[test]
    fn details_as_docker() {
        assert_eq!(applied(&["WORKDIR rel"]).working_dir, "/rel");
        assert_eq!(applied(&["WORKDIR /a", "WORKDIR b"]).working_dir, "/a/b");
        assert_eq!(applied(&["ENV PATH=/x:$PATH"]).env.unwrap(), vec!["PATH=/x:"]);
        assert_eq!(
            applied(&["ENV A=1", "ENV B=${A}2", "ENV A=3"]).env.unwrap(),
            vec!["B=12", "A=3"]
        );
        assert_eq!(applied(&[r#"VOLUME ["/a", "/b"]"#]).volumes.unwrap().len(), 2);
        assert_eq!(
            applied(&[r#"CMD ["a""#]).cmd.unwrap().0,
            vec!["/bin/sh", "-c", r#"["a""#]
        );
    }

    #[test]
    fn refusals_as_docker() {
        let refuse = |c: &str| {
            apply_changes(&mut ContainerConfig::default(), &[c.to_string()])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(refuse("RUN x"), "run is not a valid change command");
        assert_eq!(
            refuse("STOPSIGNAL SIGQUIT"),
            "stopsignal is not a valid change command"
        );
        assert_eq!(refuse("EXPOSE abc"), "Invalid containerPort: abc");
        assert_eq!(refuse("ENV"), "ENV requires at least one argument");
        assert_eq!(refuse("ENV A"), "ENV must have two arguments");
        assert_eq!(refuse("LABEL a"), "LABEL must have two arguments");
    }
}
