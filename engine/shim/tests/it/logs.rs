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
