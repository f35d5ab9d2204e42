//! The init process's output lands in Docker's json-file format.

use berth_shim::json_log::MAX_ENTRY;

use crate::support::container;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(l, s)| (l.to_string(), s.to_string())).collect()
}

#[test]
fn output_is_logged_in_json_file_format() {
    let c = container(
        "logs",
        &["sh", "-c", "echo out; echo err >&2; echo more; printf partial"],
    )
    .create();
    let client = c.client();
    client.start().unwrap();
    let exit = client.wait_init().unwrap();
    assert_eq!(exit.exit_code, 0);
    // stdout and stderr are separate pipes: order within each stream is kept.
    let lines = c.log_lines();
    let stdout: Vec<_> = lines.iter().filter(|(_, s)| s == "stdout").cloned().collect();
    let stderr: Vec<_> = lines.iter().filter(|(_, s)| s == "stderr").cloned().collect();
    assert_eq!(
        stdout,
        pairs(&[("out\n", "stdout"), ("more\n", "stdout"), ("partial", "stdout")])
    );
    assert_eq!(stderr, pairs(&[("err\n", "stderr")]));
    for entry in c.log_entries() {
        let time = chrono::DateTime::parse_from_rfc3339(&entry.time).unwrap();
        assert_eq!(
            time.offset().local_minus_utc(),
            0,
            "times are UTC: {}",
            entry.time
        );
        assert!(entry.time.ends_with('Z'));
    }
}

#[test]
fn long_lines_are_split_at_16k_like_docker() {
    let c = container(
        "longline",
        &["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a; echo"],
    )
    .create();
    c.client().start().unwrap();
    assert_eq!(c.client().wait_init().unwrap().exit_code, 0);
    let lines = c.log_lines();
    assert_eq!(
        lines.len(),
        2,
        "{:?}",
        lines.iter().map(|(l, _)| l.len()).collect::<Vec<_>>()
    );
    assert_eq!(lines[0].0, "a".repeat(MAX_ENTRY));
    assert_eq!(lines[1].0, format!("{}\n", "a".repeat(20_000 - MAX_ENTRY)));
}

#[test]
fn tty_output_is_logged_as_stdout_with_crlf() {
    let c = container("ttylog", &["sh", "-c", "echo hi; echo oops >&2"])
        .tty()
        .create();
    c.client().start().unwrap();
    assert_eq!(c.client().wait_init().unwrap().exit_code, 0);
    assert_eq!(
        c.log_lines(),
        pairs(&[("hi\r\n", "stdout"), ("oops\r\n", "stdout")])
    );
}

#[test]
fn explain_events_tell_each_kernel_facing_step() {
    let c = container("explain", &["sh", "-c", "exit 2"]).create();
    let shim = c.shim_pid();
    c.client().start().unwrap();
    assert_eq!(c.client().wait_init().unwrap().exit_code, 2);
    crate::support::wait_for_exit(shim);
    let text = std::fs::read_to_string(c.state().explain_log()).unwrap();
    // The runtime's --log shares the file; with runc its lines are runc's own format, so only
    // lines that parse as explain events are the shim's (or berth-runtime's).
    let shim_events: Vec<_> = text
        .lines()
        .filter_map(|line| berth_api::explain::ExplainEvent::from_json_line(line).ok())
        .filter(|event| event.source == "berth-shim")
        .collect();
    for event in &shim_events {
        assert_eq!(event.container.as_deref(), Some(c.id.as_str()));
        chrono::DateTime::parse_from_rfc3339(&event.time).unwrap();
    }
    let messages: Vec<&str> = shim_events.iter().map(|e| e.msg.as_str()).collect();
    for step in [
        "made pipes",
        " create for container",
        " start for container",
        "reaped init",
        "read oom_kill 0",
        "recorded the exit",
        " delete for container",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(step)),
            "no event for {step:?} in {messages:#?}"
        );
    }
}
