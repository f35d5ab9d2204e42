//! `docker events`, and berth's `events --explain`: the plain sentences saying what berthd,
//! berth-shim and berth-runtime asked of the kernel (`GET /berth/explain`).

use berth_api::client::{Client, query};
use berth_api::explain::ExplainEvent;
use chrono::{DateTime, Local, TimeZone};
use http::Method;
use serde_json::Value as Json;
use tokio::io::AsyncBufReadExt;

use super::logs::{body_reader, time_value};
use crate::cli::EventsArgs;
use crate::commands::{Failure, Outcome, filters_json};
use crate::format::{FormatError, Template, Value};

/// Go's `2006-01-02T15:04:05.000000000Z07:00` in local time: nine digits, `Z` for UTC.
fn rfc3339_nano_fixed(time: DateTime<Local>) -> String {
    let zone = if time.offset().local_minus_utc() == 0 {
        "Z".to_owned()
    } else {
        time.format("%:z").to_string()
    };
    format!("{}{zone}", time.format("%Y-%m-%dT%H:%M:%S%.9f"))
}

/// Docker's default event line: `TIME TYPE ACTION ID (k=v, …)`, attributes sorted.
fn event_line(event: &Json) -> String {
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
    let mut line = String::new();
    let nanos = event["timeNano"].as_i64().unwrap_or(0);
    let seconds = event["time"].as_i64().unwrap_or(0);
    let time = if nanos != 0 {
        Some(Local.timestamp_nanos(nanos))
    } else if seconds != 0 {
        Local.timestamp_opt(seconds, 0).single()
    } else {
        None
    };
    if let Some(time) = time {
        line.push_str(&rfc3339_nano_fixed(time));
        line.push(' ');
    }
    let actor_id = event["Actor"]["ID"].as_str().unwrap_or_default();
    line.push_str(&format!("{} {} {actor_id}", text("Type"), text("Action")));
    if let Some(attributes) = event["Actor"]["Attributes"].as_object().filter(|a| !a.is_empty()) {
        // serde_json's map is sorted by key, as Docker sorts them.
        let pairs: Vec<String> = attributes
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        line.push_str(&format!(" ({})", pairs.join(", ")));
    }
    line
}

/// The data an events template sees: the message's JSON fields, and its Go field names
/// (`.Status`, `.ID`, `.From`, `.Scope`, `.Time`, `.TimeNano`) beside them.
fn template_value(line: &str) -> Result<Value, Failure> {
    let mut value = Value::from_json_str(line).map_err(|e| Failure::new(e.to_string()))?;
    if let Value::Object(object) = &mut value {
        for (json_key, go_name) in [
            ("status", "Status"),
            ("id", "ID"),
            ("from", "From"),
            ("scope", "Scope"),
            ("time", "Time"),
            ("timeNano", "TimeNano"),
        ] {
            let field = object
                .get(json_key)
                .cloned()
                .unwrap_or_else(|| Value::String(String::new()));
            object.insert(go_name, field);
        }
    }
    Ok(value)
}

/// `{{json .}}` prints the message as the daemon sent it (the Go-name aliases are not fields).
fn is_json_of_all(format: &str) -> bool {
    let compact: String = format.chars().filter(|c| !c.is_whitespace()).collect();
    compact == "{{json.}}"
}

/// `docker events [--since T] [--until T] [--filter K=V] [--format TEMPLATE]`; `--explain`
/// shows berth's explain events instead.
pub async fn events(client: &Client, args: EventsArgs) -> Outcome {
    if args.explain {
        return explain(client, args).await;
    }
    let template = match args.format.as_deref().filter(|f| !f.is_empty()) {
        Some(format) if !is_json_of_all(format) => Some(Template::parse(format).map_err(|e| Failure {
            message: format!("Error parsing format: {}", FormatError::Parse(e)),
            status: 64,
        })?),
        _ => None,
    };
    let json_lines = args.format.as_deref().is_some_and(is_json_of_all);
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(since) = time_value("since", args.since.as_deref())? {
        params.push(("since", since));
    }
    if let Some(until) = time_value("until", args.until.as_deref())? {
        params.push(("until", until));
    }
    if let Some(filters) = filters_json(&args.filter)? {
        params.push(("filters", filters));
    }
    let path = format!("/events{}", query(&params).map_err(Failure::from)?);
    let response = client.request(Method::GET, &path, None, Client::empty()).await?;
    let mut lines = tokio::io::BufReader::new(body_reader(response)).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        if json_lines {
            println!("{}", line.trim_end());
        } else if let Some(template) = &template {
            let rendered = template
                .render(&template_value(&line)?)
                .map_err(|e| Failure::new(FormatError::Exec(e).to_string()))?;
            println!("{rendered}");
        } else {
            let event: Json = serde_json::from_str(&line).map_err(|e| Failure::new(e.to_string()))?;
            println!("{}", event_line(&event));
        }
    }
    Ok(())
}

/// `events --explain [--filter container=NAME] [--since T] [--until T] [--format F]`: one line
/// per step, `SOURCE: SENTENCE` (or the event as JSON with `{{json .}}`, or a template over its
/// fields `time`, `source`, `container`, `kind` and `msg`); follows until interrupted unless
/// `--until` is given.
async fn explain(client: &Client, args: EventsArgs) -> Outcome {
    let template = match args.format.as_deref().filter(|f| !f.is_empty()) {
        Some(format) if !is_json_of_all(format) => Some(Template::parse(format).map_err(|e| Failure {
            message: format!("Error parsing format: {}", FormatError::Parse(e)),
            status: 64,
        })?),
        _ => None,
    };
    let json_lines = args.format.as_deref().is_some_and(is_json_of_all);
    let mut params: Vec<(&str, String)> = Vec::new();
    for filter in &args.filter {
        match filter.split_once('=') {
            Some(("container", name)) => params.push(("container", name.to_owned())),
            _ => {
                return Err(Failure::new(format!(
                    "invalid filter '{filter}' for --explain: only container=NAME is supported"
                )));
            }
        }
    }
    if let Some(since) = time_value("since", args.since.as_deref())? {
        params.push(("since", since));
    }
    let until: Option<f64> = time_value("until", args.until.as_deref())?.and_then(|u| u.parse().ok());
    if until.is_none() {
        params.push(("follow", "1".into()));
    }
    let path = format!("/berth/explain{}", query(&params).map_err(Failure::from)?);
    let response = client
        .request(Method::GET, &path, None, Client::empty())
        .await
        .map_err(|e| match e.status() {
            Some(http::StatusCode::NOT_FOUND) if params.iter().any(|(k, _)| *k == "container") => {
                Failure::from(e)
            }
            Some(http::StatusCode::NOT_FOUND) => {
                Failure::new("this daemon does not serve explain events (GET /berth/explain)")
            }
            _ => Failure::from(e),
        })?;
    let mut lines = tokio::io::BufReader::new(body_reader(response)).lines();
    while let Some(line) = lines.next_line().await? {
        let Ok(event) = ExplainEvent::from_json_line(&line) else {
            continue;
        };
        if let Some(until) = until {
            let at = DateTime::parse_from_rfc3339(&event.time)
                .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
                .unwrap_or(0.0);
            if at > until {
                continue;
            }
        }
        if json_lines {
            println!("{}", event.to_json_line());
        } else if let Some(template) = &template {
            let value =
                Value::from_json_str(&event.to_json_line()).map_err(|e| Failure::new(e.to_string()))?;
            let rendered = template
                .render(&value)
                .map_err(|e| Failure::new(FormatError::Exec(e).to_string()))?;
            println!("{rendered}");
        } else {
            println!("{}: {}", event.source, event.msg);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_print_like_docker() {
        let event: Json = serde_json::from_str(
            r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start",
                "Actor":{"ID":"abc","Attributes":{"name":"web","image":"busybox"}},
                "scope":"local","time":1795867200,"timeNano":1795867200123456789}"#,
        )
        .unwrap();
        let line = event_line(&event);
        assert!(
            line.ends_with(" container start abc (image=busybox, name=web)"),
            "{line}"
        );
        assert!(line.contains(".123456789"), "{line}");
    }

    #[test]
    fn templates_see_go_field_names() {
        let line = r#"{"status":"die","id":"abc","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"3"}},"scope":"local","time":1,"timeNano":1000000000}"#;
        let template = Template::parse("{{.Status}} {{.ID}} {{.Actor.Attributes.exitCode}}").unwrap();
        assert_eq!(
            template.render(&template_value(line).unwrap()).unwrap(),
            "die abc 3"
        );
        assert!(is_json_of_all("{{ json . }}"));
    }
}
