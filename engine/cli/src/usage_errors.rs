//! Command-line mistakes reported as the Docker CLI reports them: `unknown flag: --foo` and
//! `invalid argument … for "-n, --last" flag` exit 125 (cobra's flag errors), a missing
//! argument prints `"berth stop" requires at least 1 argument.` and the usage, exit 1.

use std::process::ExitCode;

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::Cli;

/// A command-line mistake, as Docker words it, and the status to exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    pub status: u8,
}

/// Docker's text for an unknown flag as typed (`--foo`, `-x`, `-xz`).
pub fn unknown_flag(flag: &str) -> String {
    let flag = flag.split('=').next().unwrap_or(flag);
    match flag.strip_prefix("--") {
        Some(_) => format!("unknown flag: {flag}"),
        None => {
            let letter = flag.trim_start_matches('-').chars().next().unwrap_or('-');
            format!("unknown shorthand flag: '{letter}' in {flag}")
        }
    }
}

fn context_text(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(list) => list.first().cloned(),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The command typed (`berth container ls`), from the arguments: the subcommand names that
/// follow the program, skipping global options.
fn command_path<S: AsRef<str>>(argv: &[S]) -> String {
    let mut path = vec!["berth".to_owned()];
    let mut command = Cli::command();
    let mut words = argv.iter().skip(1).map(AsRef::as_ref);
    while let Some(word) = words.next() {
        if matches!(word, "-H" | "--host" | "-l" | "--log-level") {
            words.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        match command.find_subcommand(word) {
            Some(sub) => {
                let sub = sub.clone();
                path.push(word.to_owned());
                command = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}

/// A flag as cobra names it in errors: `-n, --last`, or `--cpus`.
fn flag_names(command: Option<&clap::Command>, shown: &str) -> String {
    let long = shown
        .split_whitespace()
        .next()
        .unwrap_or(shown)
        .trim_start_matches('-');
    let arg = command.and_then(|c| {
        c.get_arguments()
            .find(|a| a.get_long() == Some(long) || a.get_short().is_some_and(|s| s.to_string() == long))
    });
    match arg.map(|a| (a.get_short(), a.get_long())) {
        Some((Some(short), Some(long))) => format!("-{short}, --{long}"),
        Some((None, Some(long))) => format!("--{long}"),
        _ => shown.split_whitespace().next().unwrap_or(shown).to_owned(),
    }
}

/// The subcommand at `path` (`berth container ls`).
fn find_command(path: &str) -> Option<clap::Command> {
    let mut command = Cli::command();
    for name in path.split_whitespace().skip(1) {
        command = command.find_subcommand(name)?.clone();
    }
    Some(command)
}

/// cobra's argument-count sentence: `requires at least 1 argument.`, `requires exactly 2
/// arguments.`, `requires at least 1 and at most 2 arguments.`
fn count_sentence(command: &clap::Command) -> String {
    let mut required = 0;
    let mut optional = 0;
    let mut unbounded = false;
    for positional in command.get_positionals() {
        let range = positional.get_num_args().unwrap_or_default();
        let min = range.min_values().max(1);
        if positional.is_required_set() {
            required += min;
        } else {
            optional += 1;
        }
        unbounded |= range.max_values() == usize::MAX;
    }
    let noun = |n: usize| if n == 1 { "argument" } else { "arguments" };
    if unbounded {
        format!("requires at least {required} {}.", noun(required))
    } else if optional > 0 {
        format!(
            "requires at least {required} and at most {} {}.",
            required + optional,
            noun(required + optional)
        )
    } else {
        format!("requires exactly {required} {}.", noun(required))
    }
}

/// Docker's report of a command-line mistake; `None` for help and version, which print as
/// clap prints them.
pub fn docker_usage_error<S: AsRef<str>>(error: &clap::Error, argv: &[S]) -> Option<UsageError> {
    let path = command_path(argv);
    let command = find_command(&path);
    let see = format!("See '{path} --help'.");
    let (message, status) = match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => return None,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => return None,
        ErrorKind::UnknownArgument => {
            let flag = context_text(error, ContextKind::InvalidArg).unwrap_or_default();
            (format!("{}\n{see}", unknown_flag(&flag)), 125)
        }
        ErrorKind::InvalidSubcommand => {
            let name = context_text(error, ContextKind::InvalidSubcommand).unwrap_or_default();
            (
                format!("berth: '{name}' is not a berth command.\nSee 'berth --help'"),
                1,
            )
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            let sentence = command.as_ref().map(count_sentence).unwrap_or_default();
            let about = command
                .as_ref()
                .and_then(|c| c.get_about().map(ToString::to_string))
                .unwrap_or_default();
            let usage = command
                .clone()
                .map(|mut c| c.render_usage().to_string())
                .unwrap_or_default();
            let usage_line = usage.trim().trim_start_matches("Usage:").trim();
            // A subcommand's own usage starts with its name alone: put the whole path first.
            let usage_line = if usage_line.starts_with(&path) {
                usage_line.to_owned()
            } else {
                let rest = usage_line.split_once(' ').map_or("", |(_, rest)| rest);
                format!("{path} {rest}")
            };
            (
                format!("\"{path}\" {sentence}\n{see}\n\nUsage:  {usage_line}\n\n{about}"),
                1,
            )
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let flag = context_text(error, ContextKind::InvalidArg).unwrap_or_default();
            let value = context_text(error, ContextKind::InvalidValue).unwrap_or_default();
            let reason = std::error::Error::source(error)
                .map(ToString::to_string)
                .unwrap_or_else(|| "invalid value".to_owned());
            let flag = flag_names(command.as_ref(), &flag);
            (
                format!("invalid argument \"{value}\" for \"{flag}\" flag: {reason}\n{see}"),
                125,
            )
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_owned();
            (format!("{first}\n{see}"), 125)
        }
    };
    Some(UsageError { message, status })
}

/// Print `error` as Docker would and give the exit code (help and version print as clap's).
pub fn exit_for(error: clap::Error) -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    match docker_usage_error(&error, &argv) {
        Some(usage) => {
            eprintln!("{}", usage.message);
            ExitCode::from(usage.status)
        }
        // `berth container` alone shows its help on stdout, as Docker does.
        None if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print!("{}", error.render());
            ExitCode::SUCCESS
        }
        None => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn mistake(argv: &[&str]) -> UsageError {
        let error = Cli::try_parse_from(argv).expect_err("a mistake");
        docker_usage_error(&error, argv).expect("reported")
    }

    #[test]
    fn unknown_flags_exit_125() {
        assert_eq!(
            mistake(&["berth", "ps", "-x"]),
            UsageError {
                message: "unknown shorthand flag: 'x' in -x\nSee 'berth ps --help'.".into(),
                status: 125
            }
        );
        assert_eq!(
            mistake(&["berth", "container", "ls", "--bogus"]).message,
            "unknown flag: --bogus\nSee 'berth container ls --help'."
        );
    }

    #[test]
    fn missing_arguments_show_the_usage() {
        let error = mistake(&["berth", "stop"]);
        assert_eq!(error.status, 1);
        assert!(
            error.message.starts_with(
                "\"berth stop\" requires at least 1 argument.\nSee 'berth stop --help'.\n\nUsage:  berth stop"
            ),
            "{}",
            error.message
        );
        assert!(
            error.message.ends_with("Stop one or more running containers"),
            "{}",
            error.message
        );
        assert!(
            mistake(&["berth", "run"])
                .message
                .starts_with("\"berth run\" requires at least 1 argument."),
        );
        assert!(
            mistake(&["berth", "logs"])
                .message
                .starts_with("\"berth logs\" requires exactly 1 argument."),
        );
        assert!(
            mistake(&["berth", "exec", "web"])
                .message
                .starts_with("\"berth exec\" requires at least 2 arguments."),
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        let error = mistake(&["berth", "ps", "--last", "x"]);
        assert_eq!(error.status, 125);
        assert!(
            error
                .message
                .starts_with("invalid argument \"x\" for \"-n, --last\" flag: ")
                && error.message.ends_with("See 'berth ps --help'."),
            "{}",
            error.message
        );
        assert_eq!(
            mistake(&["berth", "nosuchcmd"]).message,
            "berth: 'nosuchcmd' is not a berth command.\nSee 'berth --help'"
        );
    }
}
