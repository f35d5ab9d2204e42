//! `build` and `builder prune`, with Docker 20.10's flags for its classic builder. The flags
//! BuildKit alone reads (`--progress`, `--secret`, `--ssh`, `-o`), `--platform` (marked for
//! BuildKit) and `--squash` (for experimental daemons) are taken and hidden, as docker/cli
//! hides them when BuildKit is off. The values pflag checks while parsing (tags,
//! build args, labels, hosts) are checked here with its messages; sizes and ulimits when the
//! command runs, as `run` does.

use clap::{ArgAction, Args, Subcommand};

use super::image_name;

/// `berth builder …`.
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile
    #[command(override_usage = "berth builder build [OPTIONS] PATH | URL | -")]
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list", value_parser = extra_host)]
    pub add_host: Vec<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list", value_parser = build_arg)]
    pub build_arg: Vec<String>,
    /// Images to consider as cache sources
    #[arg(long = "cache-from", value_name = "strings", value_delimiter = ',')]
    pub cache_from: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(
        long = "cgroup-parent",
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub cgroup_parent: String,
    /// Compress the build context using gzip
    #[arg(long)]
    pub compress: bool,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", default_value_t = 0, hide_default_value = true,
          value_parser = go_int64, allow_hyphen_values = true)]
    pub cpu_period: i64,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", default_value_t = 0, hide_default_value = true,
          value_parser = go_int64, allow_hyphen_values = true)]
    pub cpu_quota: i64,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int", default_value_t = 0,
          hide_default_value = true, value_parser = go_int64, allow_hyphen_values = true)]
    pub cpu_shares: i64,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(
        long = "cpuset-cpus",
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub cpuset_cpus: String,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(
        long = "cpuset-mems",
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub cpuset_mems: String,
    /// Skip image verification
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Name of the Dockerfile (Default is 'PATH/Dockerfile')
    #[arg(
        short = 'f',
        long = "file",
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub file: String,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "string", default_value = "", hide_default_value = true)]
    pub iidfile: String,
    /// Container isolation technology
    #[arg(long, value_name = "string", default_value = "", hide_default_value = true)]
    pub isolation: String,
    /// Set metadata for an image
    #[arg(long, value_name = "list", value_parser = label)]
    pub label: Vec<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long, value_name = "string", default_value = "default")]
    pub network: String,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Set platform if server is multi-platform capable
    #[arg(
        long,
        value_name = "string",
        env = "DOCKER_DEFAULT_PLATFORM",
        hide_env = true,
        default_value = "",
        hide_default_value = true
    )]
    pub platform: String,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub rm: bool,
    /// Security options
    #[arg(long = "security-opt", value_name = "strings", value_delimiter = ',')]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes")]
    pub shm_size: Option<String>,
    /// Squash newly built layers into a single new layer
    #[arg(long, hide = true)]
    pub squash: bool,
    /// Stream attaches to server to negotiate build context
    #[arg(long, hide = true)]
    pub stream: bool,
    /// Name and optionally a tag in the 'name:tag' format
    #[arg(short = 't', long = "tag", value_name = "list", value_parser = tag)]
    pub tag: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long, value_name = "string", default_value = "", hide_default_value = true)]
    pub target: String,
    /// Ulimit options
    #[arg(long, value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Set type of progress output (BuildKit only)
    #[arg(long, value_name = "string", hide = true)]
    pub progress: Option<String>,
    /// Secret file to expose to the build (BuildKit only)
    #[arg(long, value_name = "stringArray", hide = true)]
    pub secret: Vec<String>,
    /// SSH agent socket or keys to expose to the build (BuildKit only)
    #[arg(long, value_name = "stringArray", hide = true)]
    pub ssh: Vec<String>,
    /// Output destination (BuildKit only)
    #[arg(short = 'o', long, value_name = "stringArray", hide = true)]
    pub output: Vec<String>,
    /// PATH | URL | -
    #[arg(value_name = "PATH | URL | -")]
    pub context: String,
}

#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. 'until=24h')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Amount of disk space to keep for cache
    #[arg(long = "keep-storage", value_name = "bytes")]
    pub keep_storage: Option<String>,
}

/// `-t`: a name Docker's `ParseNormalizedNamed` accepts, kept as typed.
fn tag(value: &str) -> Result<String, String> {
    image_name::validate(value).map(|()| value.to_owned())
}

/// `--build-arg` (docker/cli's `ValidateEnv`): `KEY` alone takes the client's value when it
/// has one, and stays bare (sent as null) when it has none.
fn build_arg(value: &str) -> Result<String, String> {
    let (name, given) = match value.split_once('=') {
        Some((name, given)) => (name, Some(given)),
        None => (value, None),
    };
    if name.is_empty() {
        return Err(format!("invalid environment variable: {value}"));
    }
    Ok(match (given, std::env::var(name)) {
        (None, Ok(found)) => format!("{name}={found}"),
        _ => value.to_owned(),
    })
}

/// Go's whitespace set of docker/cli's `opts` package.
const WHITESPACE: &[char] = &[' ', '\t'];

/// `--label` (docker/cli's `ValidateLabel`).
fn label(value: &str) -> Result<String, String> {
    let key = value.split('=').next().unwrap_or_default();
    let key = key.trim_start_matches(WHITESPACE);
    if key.is_empty() {
        return Err(format!("invalid label '{value}': empty name"));
    }
    if key.contains(WHITESPACE) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(value.to_owned())
}

/// `--add-host` (docker/cli's `ValidateExtraHost`): `host:ip`, or `host:host-gateway`.
fn extra_host(value: &str) -> Result<String, String> {
    match value.split_once(':') {
        Some((host, ip)) if !host.is_empty() => {
            if ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("invalid IP address in add-host: {ip:?}"));
            }
            Ok(value.to_owned())
        }
        _ => Err(format!("bad format for add-host: {value:?}")),
    }
}

/// pflag's `Int64Var`, with Go's `strconv` messages.
fn go_int64(value: &str) -> Result<i64, String> {
    value.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {value:?}: {why}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_are_checked_with_docker_cli_words() {
        assert_eq!(label("=x"), Err("invalid label '=x': empty name".into()));
        assert_eq!(label("a b=x"), Err("label 'a b' contains whitespaces".into()));
        assert_eq!(label("a"), Ok("a".into()));
        assert_eq!(extra_host("h"), Err("bad format for add-host: \"h\"".into()));
        assert_eq!(
            extra_host("h:1.2.3"),
            Err("invalid IP address in add-host: \"1.2.3\"".into())
        );
        assert_eq!(extra_host("h:::1"), Ok("h:::1".into()));
        assert_eq!(extra_host("h:host-gateway"), Ok("h:host-gateway".into()));
        assert_eq!(build_arg("=x"), Err("invalid environment variable: =x".into()));
        assert_eq!(build_arg("A=b=c"), Ok("A=b=c".into()));
        assert_eq!(
            go_int64("x"),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(go_int64("-5"), Ok(-5));
    }
}
