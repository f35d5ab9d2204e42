//! Command checks: `exec` (in a container, through the Engine API), `host` (in the lab
//! directory), and `ran` (in the transcript).

use std::time::{Duration, Instant};

use super::container::{owned, summary};
use super::{Context, Evidence, Mismatch};
use crate::scenario::StepCommand;
use crate::scenario::check::{ExecCheck, HostCheck, RanCheck};

/// How long one exec or host command may run.
const COMMAND_LIMIT: Duration = Duration::from_secs(15);

pub fn evaluate_exec(check: &ExecCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    let evidence = match cx.api.container(&check.r#in)? {
        Some(container) => owned(&container, cx)?,
        None => {
            return Err(Mismatch::new(
                format!("a container named {}", check.r#in),
                "no such container",
            ));
        }
    };
    let cmd = vec!["sh".to_owned(), "-c".to_owned(), check.exec.clone()];
    let (code, output) = cx.api.exec(&check.r#in, cmd, Instant::now() + COMMAND_LIMIT)?;
    let Some(code) = code else {
        return Err(Mismatch::new(
            format!("{:?} to end", check.exec),
            format!("still running after {} s", COMMAND_LIMIT.as_secs()),
        ));
    };
    exit_and_output(
        code,
        &output,
        check.exit_code,
        &check.contains,
        &check.lacks,
        check.matches.as_deref(),
    )?;
    Ok(evidence)
}

pub fn evaluate_host(check: &HostCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    let command = StepCommand {
        run: check.host.clone(),
        input: Vec::new(),
        tty: false,
        exit_code: 0,
        retry_for: None,
    };
    let ran = cx.shell.clone().run_captured(&command, COMMAND_LIMIT);
    let Some(code) = ran.exit_code else {
        return Err(Mismatch::new(
            format!("{:?} to end", check.host),
            format!("still running after {} s", COMMAND_LIMIT.as_secs()),
        ));
    };
    exit_and_output(
        i64::from(code),
        &ran.output,
        check.exit_code,
        &check.contains,
        &check.lacks,
        check.matches.as_deref(),
    )?;
    Ok(None)
}

pub fn evaluate_ran(check: &RanCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    // The regex was compiled when the scenario loaded.
    let regex = regex::Regex::new(&check.ran).map_err(|e| Mismatch::new("a valid regex", e.to_string()))?;
    if let Some(entry) = cx
        .transcript
        .iter()
        .find(|entry| entry.exit_code == 0 && regex.is_match(entry.command.trim()))
    {
        return Ok(Some(format!("in step {}", entry.step + 1)));
    }
    let last = cx.transcript.last().map(|e| e.command.as_str());
    Err(Mismatch::new(
        format!("a successful command matching `{}`", check.ran),
        match last {
            Some(last) => format!("none (last: `{last}`)"),
            None => "no commands".to_owned(),
        },
    ))
}

fn exit_and_output(
    code: i64,
    output: &str,
    expected_code: i64,
    contains: &[String],
    lacks: &[String],
    matches: Option<&str>,
) -> Result<(), Mismatch> {
    if code != expected_code {
        return Err(Mismatch::new(
            format!("exit code {expected_code}"),
            format!("exit code {code}, output {}", summary(output)),
        ));
    }
    match_output(output, contains, lacks, matches, "the output")
}

/// Text matchers shared by `http`, `exec` and `host` checks.
pub fn match_output(
    text: &str,
    contains: &[String],
    lacks: &[String],
    matches: Option<&str>,
    what: &str,
) -> Result<(), Mismatch> {
    for needle in contains {
        if !text.contains(needle.as_str()) {
            return Err(Mismatch::new(
                format!("{what} to contain {needle:?}"),
                summary(text),
            ));
        }
    }
    for needle in lacks {
        if text.contains(needle.as_str()) {
            return Err(Mismatch::new(format!("{what} without {needle:?}"), summary(text)));
        }
    }
    if let Some(pattern) = matches {
        let regex = regex::Regex::new(pattern).map_err(|e| Mismatch::new("a valid regex", e.to_string()))?;
        if !regex.is_match(text) {
            return Err(Mismatch::new(
                format!("{what} to match `{pattern}`"),
                summary(text),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_matchers_say_what_failed() {
        assert_eq!(
            match_output("It works!", &["works".into()], &[], None, "the body"),
            Ok(())
        );
        assert_eq!(
            match_output("It works!", &["Widget".into()], &[], None, "the body"),
            Err(Mismatch::new("the body to contain \"Widget\"", "\"It works!\""))
        );
        assert_eq!(
            match_output("a b", &[], &["b".into()], None, "the output"),
            Err(Mismatch::new("the output without \"b\"", "\"a b\""))
        );
        assert_eq!(
            match_output(
                "80/tcp -> 0.0.0.0:49153",
                &[],
                &[],
                Some(r"0\.0\.0\.0:\d+"),
                "the output"
            ),
            Ok(())
        );
    }

    #[test]
    fn exit_codes_come_first() {
        assert_eq!(
            exit_and_output(1, "boom", 0, &["x".into()], &[], None),
            Err(Mismatch::new("exit code 0", "exit code 1, output \"boom\""))
        );
    }
}
