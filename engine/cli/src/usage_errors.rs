//! Command-line mistakes reported as the Docker CLI reports them: `unknown flag: --foo` and
//! `invalid argument … for "-n, --last" flag` exit 125 (cobra's flag errors), a missing
//! argument prints `"berth stop" requires at least 1 argument.` and the usage, exit 1. The
//! program is named as it was called (`docker stop` through a symlink named `docker`).

use std::ffi::OsStr;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::{command_named, program_name_for};

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

/// The name the program was called by, from the arguments.
fn program_of<S: AsRef<str>>(argv: &[S]) -> &'static str {
    program_name_for(argv.first().map(|arg0| OsStr::new(arg0.as_ref())))
}

/// The command typed (`berth container ls`), from the arguments: the subcommand names that
/// follow the program, skipping global options.
fn command_path<S: AsRef<str>>(argv: &[S]) -> String {
    let program = program_of(argv);
    let mut path = vec![program.to_owned()];
    let mut command = command_named(program);
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

/// The subcommand at `path` (`berth container ls`) of the program called `program`.
fn find_command(program: &'static str, path: &str) -> Option<clap::Command> {
    let mut command = command_named(program);
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
    let command = find_command(program_of(argv), &path);
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
            let program = program_of(argv);
            (
                format!("{program}: '{name}' is not a {program} command.\nSee '{program} --help'"),
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
            // clap starts a subcommand's usage with its own name (`stop [OPTIONS]…`), a usage
            // written out in full with the program's (`berth run [OPTIONS]…`): either way, the
            // path typed goes first (`docker container run [OPTIONS]…`).
            let own_name = command.as_ref().map_or("", |c| c.get_name());
            let rest = usage_line
                .strip_prefix(program_of(argv))
                .map_or(usage_line, str::trim_start);
            let rest = rest.strip_prefix(own_name).map_or(rest, str::trim_start);
            // A usage of several lines (`cp`): Docker starts the next ones with the program's
            // name and the command's (`docker cp`, even under `docker container cp`).
            let rest = rest.replace("\n\tberth ", &format!("\n\t{} ", program_of(argv)));
            let usage_line = format!("{path} {rest}");
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
    let argv: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
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
    use crate::cli::Cli;

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

    #[test]
    fn called_docker_it_speaks_as_docker() {
        assert_eq!(
            mistake(&["/tmp/x/docker", "nosuchcmd"]).message,
            "docker: 'nosuchcmd' is not a docker command.\nSee 'docker --help'"
        );
        assert_eq!(
            mistake(&["docker", "ps", "-x"]).message,
            "unknown shorthand flag: 'x' in -x\nSee 'docker ps --help'."
        );
        // Docker 20.10's words, usage line and all.
        assert_eq!(
            mistake(&["docker", "container", "run"]).message,
            "\"docker container run\" requires at least 1 argument.\nSee 'docker container run --help'.\n\nUsage:  docker container run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun a command in a new container"
        );
        assert!(
            mistake(&["docker", "stop"])
                .message
                .contains("\n\nUsage:  docker stop [OPTIONS] "),
        );
        // Two usage lines, the second Docker's `docker cp` whatever the path typed.
        assert_eq!(
            mistake(&["docker", "container", "cp", "x"]).message,
            "\"docker container cp\" requires exactly 2 arguments.\nSee 'docker container cp --help'.\n\nUsage:  docker container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\nCopy files/folders between a container and the local filesystem"
        );
        // Only the file name counts: `berth` under any other name stays `berth`.
        assert!(
            mistake(&["/opt/docker/berth", "run"])
                .message
                .starts_with("\"berth run\"")
        );
    }
}
