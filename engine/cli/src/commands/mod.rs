//! What each command does: talk to the daemon, print what Docker prints, return the exit code.

/// `build` and `builder prune`.
pub mod build;
pub mod container;
pub mod image;
pub mod network;
/// The prune calls the prune commands share.
pub mod prune;
pub mod registry;
pub mod system;
pub mod volume;

use std::fmt;

use berth_api::client::{Client, ClientError};
use http::StatusCode;

use crate::cli::{BuilderCommand, Command, ContainerCommand, ImageCommand};

/// A command that failed: the message (printed on stderr) and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: 1,
        }
    }

    /// A failure whose message was already printed (rmi of several names).
    pub fn silent(status: i32) -> Failure {
        Failure {
            message: String::new(),
            status,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for Failure {
    /// Docker's wording: daemon refusals get `Error response from daemon: `.
    fn from(error: ClientError) -> Failure {
        match error {
            ClientError::Api { message, .. } => {
                Failure::new(format!("Error response from daemon: {message}"))
            }
            other => Failure::new(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        Failure::new(error.to_string())
    }
}

/// Docker's CLI turns a 404 into "Error: No such <object>: <name as typed>".
pub fn not_found_as(object: &'static str, name: &str) -> impl FnOnce(ClientError) -> Failure {
    let name = name.to_owned();
    move |error| match error.status() {
        Some(StatusCode::NOT_FOUND) => Failure::new(format!("Error: No such {object}: {name}")),
        _ => Failure::from(error),
    }
}

pub type Outcome = Result<(), Failure>;

/// Run one command against the daemon.
pub async fn run(client: &Client, command: Command) -> Outcome {
    match command {
        Command::Image(sub) => match sub {
            ImageCommand::Build(args) => build::build(client, *args, "image build").await,
            ImageCommand::Ls(args) => image::list(client, args).await,
            ImageCommand::Rm(args) => image::remove(client, args).await,
            ImageCommand::Tag(args) => image::tag(client, args).await,
            ImageCommand::History(args) => image::history(client, args).await,
            ImageCommand::Inspect(args) => image::inspect(client, args).await,
            ImageCommand::Prune(args) => image::prune(client, args).await,
            ImageCommand::Load(args) => image::load(client, args).await,
            ImageCommand::Save(args) => image::save(client, args).await,
            ImageCommand::Import(args) => image::import(client, args).await,
            ImageCommand::Pull(args) => registry::pull(client, args).await,
            ImageCommand::Push(args) => registry::push(client, args).await,
        },
        Command::Volume(sub) => volume::run(client, sub).await,
        Command::System(sub) => system::run(client, sub).await,
        Command::Network(sub) => network::run(client, sub).await,
        Command::Build(args) => build::build(client, *args, "build").await,
        Command::Builder(sub) => match sub {
            BuilderCommand::Build(args) => build::build(client, *args, "builder build").await,
            BuilderCommand::Prune(args) => build::prune(client, args).await,
        },
        Command::Images(args) => image::list(client, args).await,
        Command::Rmi(args) => image::remove(client, args).await,
        Command::Tag(args) => image::tag(client, args).await,
        Command::History(args) => image::history(client, args).await,
        Command::Load(args) => image::load(client, args).await,
        Command::Save(args) => image::save(client, args).await,
        Command::Import(args) => image::import(client, args).await,
        Command::Pull(args) => registry::pull(client, args).await,
        Command::Push(args) => registry::push(client, args).await,
        Command::Login(args) => registry::login(client, args).await,
        Command::Logout(args) => registry::logout(args),
        Command::Inspect(args) => container::inspect(client, args).await,
        Command::Container(sub) => run_container_command(client, sub).await,
        Command::Run(args) => container::run(client, args).await,
        Command::Create(args) => container::create(client, args).await,
        Command::Start(args) => container::start(client, args).await,
        Command::Stop(args) => container::stop(client, args).await,
        Command::Kill(args) => container::kill(client, args).await,
        Command::Pause(args) => container::pause(client, args).await,
        Command::Unpause(args) => container::unpause(client, args).await,
        Command::Restart(args) => container::restart(client, args).await,
        Command::Rm(args) => container::remove(client, args).await,
        Command::Ps(args) => container::list(client, args).await,
        Command::Logs(args) => container::logs(client, args).await,
        Command::Exec(args) => container::exec(client, args).await,
        Command::Attach(args) => container::attach(client, args).await,
        Command::Top(args) => container::top(client, args).await,
        Command::Stats(args) => container::stats(client, args).await,
        Command::Wait(args) => container::wait(client, args).await,
        Command::Rename(args) => container::rename(client, args).await,
        Command::Update(args) => container::update(client, args).await,
        Command::Commit(args) => container::commit(client, args).await,
        Command::Diff(args) => container::diff(client, args).await,
        Command::Cp(args) => container::cp(client, args).await,
        Command::Export(args) => container::export(client, args).await,
        Command::Port(args) => container::port(client, args).await,
        Command::Events(args) => container::events(client, args).await,
        Command::Version(args) => system::version(client, args).await,
        Command::Info(args) => system::info(client, args).await,
    }
}

/// `berth container …`.
async fn run_container_command(client: &Client, command: ContainerCommand) -> Outcome {
    match command {
        ContainerCommand::Attach(args) => container::attach(client, args).await,
        ContainerCommand::Commit(args) => container::commit(client, args).await,
        ContainerCommand::Create(args) => container::create(client, args).await,
        ContainerCommand::Diff(args) => container::diff(client, args).await,
        ContainerCommand::Cp(args) => container::cp(client, args).await,
        ContainerCommand::Export(args) => container::export(client, args).await,
        ContainerCommand::Exec(args) => container::exec(client, args).await,
        ContainerCommand::Inspect(args) => container::container_inspect(client, args).await,
        ContainerCommand::Kill(args) => container::kill(client, args).await,
        ContainerCommand::Pause(args) => container::pause(client, args).await,
        ContainerCommand::Unpause(args) => container::unpause(client, args).await,
        ContainerCommand::Logs(args) => container::logs(client, args).await,
        ContainerCommand::Ls(args) => container::list(client, args).await,
        ContainerCommand::Port(args) => container::port(client, args).await,
        ContainerCommand::Prune(args) => container::prune(client, args).await,
        ContainerCommand::Rename(args) => container::rename(client, args).await,
        ContainerCommand::Update(args) => container::update(client, args).await,
        ContainerCommand::Restart(args) => container::restart(client, args).await,
        ContainerCommand::Rm(args) => container::remove(client, args).await,
        ContainerCommand::Run(args) => container::run(client, args).await,
        ContainerCommand::Start(args) => container::start(client, args).await,
        ContainerCommand::Stop(args) => container::stop(client, args).await,
        ContainerCommand::Top(args) => container::top(client, args).await,
        ContainerCommand::Stats(args) => container::stats(client, args).await,
        ContainerCommand::Wait(args) => container::wait(client, args).await,
    }
}

/// `key=value` filter flags → the daemon's `filters` JSON (`{"key":["value"]}`).
pub fn filters_json(flags: &[String]) -> Result<Option<String>, Failure> {
    if flags.is_empty() {
        return Ok(None);
    }
    let mut map: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for flag in flags {
        let (key, value) = flag
            .split_once('=')
            .ok_or_else(|| Failure::new("bad format of filter (expected name=value)"))?;
        map.entry(key.trim().to_lowercase())
            .or_default()
            .push(value.to_owned());
    }
    Ok(Some(serde_json::to_string(&map).expect("filters serialize")))
}

/// JSON indented as Docker's `inspect` prints it (four spaces).
pub fn pretty_json(value: &impl serde::Serialize) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer).expect("JSON values serialize");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Ask y/N on the terminal, as Docker's prune commands do.
pub fn confirm(warning: &str) -> bool {
    prompt_for_confirmation(&format!("{warning}\nAre you sure you want to continue?"))
}

/// docker/cli's `PromptForConfirmation`: `message [y/N] ` on stdout, yes for `y` or `yes`.
pub fn prompt_for_confirmation(message: &str) -> bool {
    use std::io::{BufRead, Write};
    print!("{message} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}
