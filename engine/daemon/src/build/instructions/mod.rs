//! Parsed nodes to typed instructions, validated as buildkit's `instructions` package (which Docker
//! 20.10's classic builder uses): argument counts, flags, stage names, ONBUILD triggers,
//! HEALTHCHECK options; and a Dockerfile's ARGs before its first FROM and its stages.
//!
//! Arguments stay as written (quotes and variables in them): [`Instruction::expand`] applies the
//! word expansion when the dispatcher knows the variables. Nothing here looks at images, the
//! build context or the platform; the classic builder's refusals of BuildKit-only options
//! (`--chmod`, `RUN --mount`) belong to the dispatcher, which sees them as flags here.

mod expand;
mod flags;
#[cfg(test)]
mod tests;

use berth_api::go_quote::go_quote;
use berth_api::types::HealthConfig;

use super::parser::Node;
use InstructionErrorKind as Kind;
use flags::Flags;

/// A Dockerfile's instructions, as the builder runs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The ARGs before the first FROM: variables for the FROM lines only.
    pub meta_args: Vec<Command>,
    /// The stages, each from its FROM.
    pub stages: Vec<Stage>,
}

/// One stage: its FROM and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The FROM that begins it.
    pub from: From,
    /// Where the FROM is written.
    pub source: Source,
    /// The instructions of the stage (never a FROM).
    pub commands: Vec<Command>,
}

/// Where an instruction is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The instruction's logical line, trimmed (what Docker prints as `Step 2/5 : …`).
    pub code: String,
    /// Its first line (from 1).
    pub start_line: usize,
    /// Its last line.
    pub end_line: usize,
}

/// One instruction and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// What it says.
    pub instruction: Instruction,
    /// Where it is.
    pub source: Source,
}

/// The instructions of the classic builder, arguments as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `ADD [--chown=…] [--chmod=…] src… dest`
    Add(Copy),
    /// `ARG name[=default] …`
    Arg(Vec<ArgDefinition>),
    /// `CMD ["exec", "form"]` or `CMD shell form`
    Cmd(CommandLine),
    /// `COPY [--from=…] [--chown=…] [--chmod=…] src… dest`
    Copy(Copy),
    /// `ENTRYPOINT ["exec", "form"]` or `ENTRYPOINT shell form`
    Entrypoint(CommandLine),
    /// `ENV name=value …` or `ENV name value`
    Env(Vec<KeyValue>),
    /// `EXPOSE port[/proto] …`, sorted as Docker sorts them (as text)
    Expose(Vec<String>),
    /// `FROM [--platform=…] image [AS name]`
    From(From),
    /// `HEALTHCHECK NONE` (test `["NONE"]`) or `HEALTHCHECK [options] CMD …`
    Healthcheck(HealthConfig),
    /// `LABEL key=value …`
    Label(Vec<KeyValue>),
    /// `MAINTAINER name`
    Maintainer(String),
    /// `ONBUILD instruction`: the trigger's text, for the image's `OnBuild` list
    Onbuild(String),
    /// `RUN ["exec", "form"]` or `RUN shell form`
    Run(CommandLine),
    /// `SHELL ["executable", "parameters"]` (JSON only)
    Shell(Vec<String>),
    /// `STOPSIGNAL signal`
    StopSignal(String),
    /// `USER user[:group]`
    User(String),
    /// `VOLUME ["/path"]` or `VOLUME /path …`
    Volume(Vec<String>),
    /// `WORKDIR /path`
    Workdir(String),
}

/// FROM's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The image (or stage) to start from, as written (may hold `$ARG`s).
    pub base_name: String,
    /// `AS name`, lower case.
    pub stage_name: Option<String>,
    /// `--platform=…`, as written.
    pub platform: Option<String>,
}

/// A command line: `prepend_shell` for the shell form (then `args` is the one string, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The exec form's arguments, or the shell form's single string.
    pub args: Vec<String>,
    /// Whether it is the shell form, to run with the stage's SHELL.
    pub prepend_shell: bool,
}

/// COPY's and ADD's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// The sources (at least one).
    pub sources: Vec<String>,
    /// Where they go.
    pub dest: String,
    /// `--from=stage|image` (COPY only).
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=…`: parsed as Docker does; Docker 20.10's classic builder then refuses it with
    /// "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to
    /// learn how to build images with BuildKit enabled".
    pub chmod: Option<String>,
}

/// A name and its value (ENV, LABEL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The name.
    pub key: String,
    /// The value.
    pub value: String,
}

/// One ARG: a name and maybe a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDefinition {
    /// The name.
    pub key: String,
    /// `=default`, if given (possibly empty).
    pub default: Option<String>,
}

/// An instruction Docker refuses, where it is written. Alone (an ONBUILD trigger when it fires)
/// it prints as the reason; in a Dockerfile see [`DockerfileError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct InstructionError {
    /// What is wrong.
    pub kind: InstructionErrorKind,
    /// The instruction's first line.
    pub start_line: usize,
    /// Its last line.
    pub end_line: usize,
}

/// A Dockerfile Docker refuses once parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    /// dockerfile parse error line {start_line}: {kind}
    #[error("dockerfile parse error line {}: {}", .0.start_line, .0.kind)]
    Instruction(InstructionError),
    /// no build stage in current context (an instruction other than ARG before the first FROM)
    #[error("no build stage in current context")]
    NoBuildStage {
        /// The instruction's first line.
        line: usize,
    },
}

/// What is wrong with an instruction, in Docker's words (those marked "seen" were printed by
/// Docker 20.10 for a Dockerfile in this module's tests; the others follow buildkit's source).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstructionErrorKind {
    /// unknown instruction: {0} (seen)
    #[error("unknown instruction: {}", .0.to_uppercase())]
    UnknownInstruction(String),
    /// {0} requires at least one argument (seen)
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(&'static str),
    /// {0} requires exactly one argument (seen)
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(&'static str),
    /// {0} requires at least two arguments, but only one was provided. Destination could not be determined (seen)
    #[error(
        "{0} requires at least two arguments, but only one was provided. Destination could not be determined"
    )]
    NoDestination(&'static str),
    /// {0} names can not be blank (seen)
    #[error("{0} names can not be blank")]
    BlankName(&'static str),
    /// Bad input to {0}, too many arguments
    #[error("Bad input to {0}, too many arguments")]
    TooManyArguments(&'static str),
    /// {0} requires the arguments to be in JSON form (seen)
    #[error("{0} requires the arguments to be in JSON form")]
    NotJson(&'static str),
    /// FROM requires either one or three arguments (seen)
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    /// invalid name for build stage: "{0}", name can't start with a number or contain symbols (seen)
    #[error("invalid name for build stage: {}, name can't start with a number or contain symbols", go_quote(.0))]
    InvalidStageName(String),
    /// Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed (seen)
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChaining,
    /// {0} isn't allowed as an ONBUILD trigger (seen, for FROM and MAINTAINER)
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    /// HEALTHCHECK NONE takes no arguments (seen)
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments,
    /// Missing command after HEALTHCHECK CMD (seen)
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    /// Unknown type "{0}" in HEALTHCHECK (try CMD) (seen)
    #[error("Unknown type {} in HEALTHCHECK (try CMD)", go_quote(.0))]
    HealthcheckType(String),
    /// Interval "{0}" cannot be less than 1ms (seen)
    #[error("Interval {} cannot be less than 1ms", go_quote(.0))]
    IntervalTooShort(&'static str),
    /// time: … (Go's duration errors; seen: `time: unknown unit "x" in duration "5x"`)
    #[error("{0}")]
    Duration(berth_api::go_duration::DurationError),
    /// strconv.ParseInt: parsing "{0}": invalid syntax (seen)
    #[error("strconv.ParseInt: parsing {}: invalid syntax", go_quote(.0))]
    RetriesSyntax(String),
    /// strconv.ParseInt: parsing "{0}": value out of range
    #[error("strconv.ParseInt: parsing {}: value out of range", go_quote(.0))]
    RetriesRange(String),
    /// --retries must be at least 1 (not {0}) (seen)
    #[error("--retries must be at least 1 (not {0})")]
    RetriesTooFew(i64),
    /// VOLUME specified can not be an empty string (seen)
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    /// Unknown flag: {0} (seen)
    #[error("Unknown flag: {0}")]
    UnknownFlag(String),
    /// Duplicate flag specified: {0} (seen)
    #[error("Duplicate flag specified: {0}")]
    DuplicateFlag(String),
    /// Missing a value on flag: {0} (seen)
    #[error("Missing a value on flag: {0}")]
    MissingFlagValue(String),
    /// Arg should start with -- : {0}
    #[error("Arg should start with -- : {0}")]
    FlagWithoutDashes(String),
}

impl Dockerfile {
    /// Type the parser's nodes and group them into meta ARGs and stages (`instructions.Parse`).
    pub fn from_nodes(nodes: &[Node]) -> Result<Self, DockerfileError> {
        let mut dockerfile = Dockerfile {
            meta_args: Vec::new(),
            stages: Vec::new(),
        };
        for node in nodes {
            let command = parse_instruction(node).map_err(DockerfileError::Instruction)?;
            match (command.instruction, dockerfile.stages.last_mut()) {
                (Instruction::From(from), _) => dockerfile.stages.push(Stage {
                    from,
                    source: command.source,
                    commands: Vec::new(),
                }),
                (instruction @ Instruction::Arg(_), None) => dockerfile.meta_args.push(Command {
                    instruction,
                    source: command.source,
                }),
                (_, None) => {
                    return Err(DockerfileError::NoBuildStage {
                        line: node.start_line,
                    });
                }
                (instruction, Some(stage)) => stage.commands.push(Command {
                    instruction,
                    source: command.source,
                }),
            }
        }
        Ok(dockerfile)
    }

    /// The index of the stage named `name` (names are case-insensitive), as `--target` finds it.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|stage| {
            stage
                .from
                .stage_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
}

/// Type one node (`instructions.ParseInstruction`).
pub fn parse_instruction(node: &Node) -> Result<Command, InstructionError> {
    let at = |kind| InstructionError {
        kind,
        start_line: node.start_line,
        end_line: node.end_line,
    };
    let instruction = instruction(node).map_err(at)?;
    let source = Source {
        code: node.original.trim().to_owned(),
        start_line: node.start_line,
        end_line: node.end_line,
    };
    Ok(Command { instruction, source })
}

fn instruction(node: &Node) -> Result<Instruction, Kind> {
    let args = &node.args;
    let flags = |known: &[&'static str]| Flags::parse(&node.flags, known);
    Ok(match node.keyword.as_str() {
        "env" => {
            flags(&[])?;
            Instruction::Env(key_values(args, "ENV")?)
        }
        "maintainer" => {
            let [name] = args.as_slice() else {
                return Err(Kind::ExactlyOneArgument("MAINTAINER"));
            };
            flags(&[])?;
            Instruction::Maintainer(name.clone())
        }
        "label" => {
            flags(&[])?;
            Instruction::Label(key_values(args, "LABEL")?)
        }
        "add" => Instruction::Add(copy(node, "ADD", &["chown", "chmod"])?),
        "copy" => Instruction::Copy(copy(node, "COPY", &["chown", "from", "chmod"])?),
        "from" => {
            let stage_name = stage_name(args)?;
            let flags = flags(&["platform"])?;
            Instruction::From(From {
                base_name: args[0].clone(),
                stage_name,
                platform: flags.get("platform"),
            })
        }
        "onbuild" => Instruction::Onbuild(onbuild(node)?),
        "workdir" => {
            let [path] = args.as_slice() else {
                return Err(Kind::ExactlyOneArgument("WORKDIR"));
            };
            flags(&[])?;
            Instruction::Workdir(path.clone())
        }
        "run" => {
            flags(&[])?;
            Instruction::Run(command_line(node))
        }
        "cmd" => {
            flags(&[])?;
            Instruction::Cmd(command_line(node))
        }
        "entrypoint" => {
            flags(&[])?;
            Instruction::Entrypoint(command_line(node))
        }
        "healthcheck" => Instruction::Healthcheck(healthcheck(node)?),
        "expose" => {
            if args.is_empty() {
                return Err(Kind::AtLeastOneArgument("EXPOSE"));
            }
            flags(&[])?;
            let mut ports = args.clone();
            ports.sort();
            Instruction::Expose(ports)
        }
        "user" => {
            let [user] = args.as_slice() else {
                return Err(Kind::ExactlyOneArgument("USER"));
            };
            flags(&[])?;
            Instruction::User(user.clone())
        }
        "volume" => {
            if args.is_empty() {
                return Err(Kind::AtLeastOneArgument("VOLUME"));
            }
            flags(&[])?;
            let volumes: Vec<String> = args.iter().map(|v| v.trim().to_owned()).collect();
            if volumes.iter().any(String::is_empty) {
                return Err(Kind::EmptyVolume);
            }
            Instruction::Volume(volumes)
        }
        // Docker never checks STOPSIGNAL's flags.
        "stopsignal" => {
            let [signal] = args.as_slice() else {
                return Err(Kind::ExactlyOneArgument("STOPSIGNAL"));
            };
            Instruction::StopSignal(signal.clone())
        }
        // Nor ARG's.
        "arg" => Instruction::Arg(arg_definitions(args)?),
        "shell" => {
            flags(&[])?;
            if args.is_empty() {
                return Err(Kind::AtLeastOneArgument("SHELL"));
            }
            if !node.json {
                return Err(Kind::NotJson("SHELL"));
            }
            Instruction::Shell(args.clone())
        }
        _ => return Err(Kind::UnknownInstruction(node.keyword.clone())),
    })
}

/// ENV's and LABEL's name, value, name, value… as pairs.
fn key_values(args: &[String], keyword: &'static str) -> Result<Vec<KeyValue>, Kind> {
    if args.is_empty() {
        return Err(Kind::AtLeastOneArgument(keyword));
    }
    if args.len() % 2 != 0 {
        return Err(Kind::TooManyArguments(keyword));
    }
    args.chunks(2)
        .map(|pair| match pair {
            [key, _] if key.is_empty() => Err(Kind::BlankName(keyword)),
            [key, value] => Ok(KeyValue {
                key: key.clone(),
                value: value.clone(),
            }),
            _ => Err(Kind::TooManyArguments(keyword)),
        })
        .collect()
}

fn arg_definitions(args: &[String]) -> Result<Vec<ArgDefinition>, Kind> {
    if args.is_empty() {
        return Err(Kind::AtLeastOneArgument("ARG"));
    }
    args.iter()
        .map(|arg| match arg.split_once('=') {
            Some(("", _)) => Err(Kind::BlankName("ARG")),
            Some((key, default)) => Ok(ArgDefinition {
                key: key.to_owned(),
                default: Some(default.to_owned()),
            }),
            None => Ok(ArgDefinition {
                key: arg.clone(),
                default: None,
            }),
        })
        .collect()
}

fn copy(node: &Node, keyword: &'static str, known_flags: &[&'static str]) -> Result<Copy, Kind> {
    let Some((dest, sources)) = node.args.split_last().filter(|(_, sources)| !sources.is_empty()) else {
        return Err(Kind::NoDestination(keyword));
    };
    let flags = Flags::parse(&node.flags, known_flags)?;
    Ok(Copy {
        sources: sources.to_vec(),
        dest: dest.clone(),
        from: flags.get("from"),
        chown: flags.get("chown"),
        chmod: flags.get("chmod"),
    })
}

/// `AS name`, checked as Docker checks stage names.
fn stage_name(args: &[String]) -> Result<Option<String>, Kind> {
    match args {
        [_] => Ok(None),
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let mut chars = lower.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(Kind::InvalidStageName(name.clone()));
            }
            Ok(Some(lower))
        }
        _ => Err(Kind::FromArguments),
    }
}

/// ONBUILD's trigger text: the line without its `ONBUILD`.
fn onbuild(node: &Node) -> Result<String, Kind> {
    let keyword = match &node.trigger {
        Some(trigger) => trigger.keyword.to_uppercase(),
        // (Beyond the parser's nesting bound the trigger is kept as text.)
        None => match node.args.first() {
            Some(text) => text.split_whitespace().next().unwrap_or_default().to_uppercase(),
            None => return Err(Kind::AtLeastOneArgument("ONBUILD")),
        },
    };
    Flags::parse(&node.flags, &[])?;
    match keyword.as_str() {
        "ONBUILD" => return Err(Kind::OnbuildChaining),
        "MAINTAINER" | "FROM" => return Err(Kind::OnbuildTrigger(keyword)),
        _ => {}
    }
    Ok(strip_onbuild(&node.original).to_owned())
}

/// The text after a leading `ONBUILD` (any case) and the white space around it.
fn strip_onbuild(original: &str) -> &str {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}');
    let text = original.trim_start_matches(is_space);
    match text.get(..7) {
        Some(word) if word.eq_ignore_ascii_case("onbuild") => text[7..].trim_start_matches(is_space),
        _ => original,
    }
}

fn command_line(node: &Node) -> CommandLine {
    CommandLine {
        args: joined_unless_json(&node.args, node.json),
        prepend_shell: !node.json,
    }
}

/// Docker's `handleJSONArgs`: the exec form as is, the shell form as one string.
fn joined_unless_json(args: &[String], json: bool) -> Vec<String> {
    if args.is_empty() || json {
        args.to_vec()
    } else {
        vec![args.join(" ")]
    }
}

fn healthcheck(node: &Node) -> Result<HealthConfig, Kind> {
    let Some((kind, args)) = node.args.split_first() else {
        return Err(Kind::AtLeastOneArgument("HEALTHCHECK"));
    };
    let kind = kind.to_uppercase();
    if kind == "NONE" {
        // Docker reads no flags for NONE: they pass unchecked.
        if !args.is_empty() {
            return Err(Kind::HealthcheckNoneArguments);
        }
        return Ok(HealthConfig {
            test: Some(vec![kind]),
            ..HealthConfig::default()
        });
    }
    let flags = Flags::parse(&node.flags, &["interval", "timeout", "start-period", "retries"])?;
    if kind != "CMD" {
        return Err(Kind::HealthcheckType(kind));
    }
    let command = joined_unless_json(args, node.json);
    if command.is_empty() {
        return Err(Kind::HealthcheckMissingCommand);
    }
    let test_kind = if node.json { "CMD" } else { "CMD-SHELL" };
    let mut test = vec![test_kind.to_owned()];
    test.extend(command);
    Ok(HealthConfig {
        test: Some(test),
        interval: interval(&flags, "interval")?,
        timeout: interval(&flags, "timeout")?,
        start_period: interval(&flags, "start-period")?,
        retries: retries(flags.get("retries"))?,
    })
}

/// A duration flag in nanoseconds: 0 when not given, else at least a millisecond.
fn interval(flags: &Flags, name: &'static str) -> Result<i64, Kind> {
    let Some(text) = flags.get(name) else { return Ok(0) };
    let nanos = berth_api::go_duration::parse_go_duration(&text).map_err(Kind::Duration)?;
    if nanos < 1_000_000 {
        return Err(Kind::IntervalTooShort(name));
    }
    Ok(nanos)
}

/// `--retries`: a 32-bit integer, at least 1; 0 when not given.
fn retries(text: Option<String>) -> Result<i64, Kind> {
    let Some(text) = text else { return Ok(0) };
    let retries = match text.parse::<i32>() {
        Ok(n) => i64::from(n),
        Err(e)
            if matches!(
                e.kind(),
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
            ) =>
        {
            return Err(Kind::RetriesRange(text));
        }
        Err(_) => return Err(Kind::RetriesSyntax(text)),
    };
    if retries < 1 {
        return Err(Kind::RetriesTooFew(retries));
    }
    Ok(retries)
}
