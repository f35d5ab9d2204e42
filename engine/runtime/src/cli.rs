//! runc's command line, so that any caller of runc (berth-shim, containerd-style shims) can call us.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The default state directory, like runc's `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// berth-runtime: an OCI runtime with the command line of runc.
#[derive(Debug, Parser)]
#[command(name = "berth-runtime", version, about)]
pub struct Cli {
    /// Directory for the containers' state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Append explain events and errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of the `--log` file.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Also write explain events to stderr when there is no `--log` file.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Refused: cgroups are managed through cgroupfs (runc's systemd driver is not implemented).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Ignore cgroup permission errors ('true', 'false', or 'auto'); only false and auto are
    /// supported.
    #[arg(long, global = true, default_value = "auto", value_parser = parse_rootless)]
    pub rootless: Rootless,
    #[command(subcommand)]
    pub command: Command,
}

/// Format of the `--log` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `time="…" level=info msg="…"` lines, like runc's text format.
    Text,
    /// One JSON object per line (explain events in `berth_api::explain::ExplainEvent` form).
    Json,
}

/// `--rootless`: runc's tri-state, a Go boolean or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rootless {
    /// Run as an unprivileged user, ignoring cgroup permission errors.
    True,
    /// Run with full privileges.
    False,
    /// Decide from the euid (runc's default).
    Auto,
}

/// Parse `--rootless` as runc does: `auto`, or anything Go's `strconv.ParseBool` takes.
pub fn parse_rootless(value: &str) -> Result<Rootless, String> {
    match value {
        "auto" => Ok(Rootless::Auto),
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Rootless::True),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Rootless::False),
        _ => Err("use true, false or auto".to_string()),
    }
}

/// Output format of `ps` and `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Columns for people.
    Table,
    /// JSON for programs.
    Json,
}

/// Options shared by `create` and `run`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The bundle directory holding `config.json`.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's init pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// UNIX socket path to send the pty master to (SCM_RIGHTS), for `process.terminal`.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Move the root with MS_MOVE and chroot instead of pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for runc compatibility; berth-runtime never creates a session keyring.
    #[arg(long = "no-new-keyring", hide = true)]
    pub no_new_keyring: bool,
    /// Pass N more file descriptors (3 up to 3+N-1) to the container's process.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container id.
    pub id: String,
}

/// `update`'s options, named as runc's. With `--resources`, every other option is ignored.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// A file holding the resources in the OCI `linux.resources` JSON form, or `-` for stdin.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Per cgroup block I/O weight, 10 to 1000.
    #[arg(long = "blkio-weight", default_value_t = 0)]
    pub blkio_weight: u16,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<String>,
    /// CPU CFS quota in microseconds.
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_share: Option<String>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use (`0-2,4`).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory + swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limit (ignored, as by runc).
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer limit (ignored, as by runc).
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Maximum number of processes; -1 for none.
    #[arg(long = "pids-limit", default_value_t = 0, allow_hyphen_values = true)]
    pub pids_limit: i64,
    /// The container id.
    pub id: String,
}

/// The commands, named and shaped like runc's.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: its init waits until `start`.
    Create(CreateArgs),
    /// Start a created container's program.
    Start {
        /// The container id.
        id: String,
    },
    /// Print the container's state as OCI state JSON.
    State {
        /// The container id.
        id: String,
    },
    /// Send a signal to the container's init (or, with --all, to every process in it).
    Kill {
        /// Signal every process in the container's cgroup.
        #[arg(short, long)]
        all: bool,
        /// The container id.
        id: String,
        /// Signal name (KILL, SIGKILL) or number; TERM by default.
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Delete a container's state and cgroups.
    Delete {
        /// Kill the container first if it still runs.
        #[arg(short, long)]
        force: bool,
        /// The container id.
        id: String,
    },
    /// Create and start a container; without --detach, wait and exit with its code.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the container started.
        #[arg(short, long)]
        detach: bool,
    },
    /// Run a new process inside a running container.
    Exec(Box<ExecArgs>),
    /// Freeze every process of the container.
    Pause {
        /// The container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// The container id.
        id: String,
    },
    /// Change the resource limits of a live container.
    Update(Box<UpdateArgs>),
    /// Show the container's statistics and OOM notifications as JSON lines.
    Events {
        /// Print the statistics once and exit.
        #[arg(long)]
        stats: bool,
        /// How often to print statistics (a Go duration: 5s, 500ms, 1m).
        #[arg(long, default_value = "5s")]
        interval: String,
        /// The container id.
        id: String,
    },
    /// Show the container's processes: `ps -ef` (or `ps` with the given options) filtered to
    /// the container's pids, or with --format json the pids alone.
    Ps {
        /// `table` (ps's output) or `json` (an array of pids).
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The container id.
        id: String,
        /// Options for ps(1) instead of `-ef`; they must show a PID column.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List the containers under --root.
    #[command(visible_alias = "ls")]
    List {
        /// `table` or `json`.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print only the container ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print the OCI runtime features document: what this runtime supports.
    Features,
}

/// Options of `exec`, runc's names and short forms. Without --process the container's own
/// process (from its config.json) is the base, changed by these flags; with it, they are unused.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// UNIX socket path to send the pty master to (with --tty and --detach).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Add an environment variable (NAME=value); repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Run as this user: <uid>[:<gid>], numeric.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Add a supplementary group id; repeatable.
    #[arg(short = 'g', long = "additional-gids", allow_negative_numbers = true)]
    pub additional_gids: Vec<i64>,
    /// A process.json (the OCI `process` object) describing what to run.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process started.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Refused: SELinux labels are not supported.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Refused: AppArmor profiles are not supported.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding, effective, permitted and ambient sets; repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass N more file descriptors (3 up to 3+N-1) to the process.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Refused: running an exec in a sub-cgroup is not supported.
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// The container id.
    pub id: String,
    /// The command and its arguments (when no process.json is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl Command {
    /// The container id the command is about, if it is about one.
    pub fn container_id(&self) -> Option<&str> {
        match self {
            Command::Create(create) | Command::Run { create, .. } => Some(&create.id),
            Command::Exec(exec) => Some(&exec.id),
            Command::Start { id }
            | Command::State { id }
            | Command::Kill { id, .. }
            | Command::Delete { id, .. }
            | Command::Ps { id, .. } => Some(id),
            Command::Pause { id } | Command::Resume { id } | Command::Events { id, .. } => Some(id),
            Command::Update(args) => Some(&args.id),
            Command::List { .. } | Command::Features => None,
        }
    }

    /// How many inherited fds above stderr the command passes to a container process.
    pub fn preserve_fds(&self) -> u32 {
        match self {
            Command::Create(create) | Command::Run { create, .. } => create.preserve_fds,
            Command::Exec(exec) => exec.preserve_fds,
            _ => 0,
        }
    }

    /// Whether the command starts a process inside a container (and so must run sealed).
    pub fn spawns_container_process(&self) -> bool {
        matches!(self, Command::Create(_) | Command::Run { .. } | Command::Exec(_))
    }
}
