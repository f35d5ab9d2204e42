//! The checks Docker makes on a create request before anything is made (dockerd's
//! `verifyContainerSettings`): each refusal is a 400 with Docker's words, in Docker's order, so
//! the first thing wrong is the one reported. The request's own config is checked, before the
//! image's is merged in: what an image brings is not the client's mistake.

use berth_api::types::{ContainerConfig, HostConfig, RestartPolicy};

use super::ContainerError;

/// Docker refuses memory limits (and reservations, kernel memory) below this.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// A healthcheck's interval, timeout and start period are at least this (1 ms, in ns).
const MIN_HEALTHCHECK_DURATION: i64 = 1_000_000;

fn bad(message: impl Into<String>) -> ContainerError {
    ContainerError::BadRequest(message.into())
}

/// Everything Docker checks at create, in its order: the config, the host config, then the
/// resources and the rest of the host config.
pub fn validate(config: &ContainerConfig, host: &HostConfig) -> Result<(), ContainerError> {
    validate_config(config)?;
    validate_host_config(host)?;
    validate_resources(host, Purpose::Create)?;
    validate_platform(host)
}

/// What an update checks (dockerd's `verifyContainerSettings` with `update` set): the restart
/// policy and the resources, which are all an update may carry.
pub fn validate_update(request: &HostConfig) -> Result<(), ContainerError> {
    validate_restart_policy(&request.restart_policy)?;
    validate_resources(request, Purpose::Update)
}

/// Whether resources are checked for a new container or for an update of one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Create,
    /// Zero means "unchanged" here, so a swap limit may come without a memory limit.
    Update,
}

/// dockerd's `validateContainerConfig`.
fn validate_config(config: &ContainerConfig) -> Result<(), ContainerError> {
    let dir = &config.working_dir;
    if !dir.is_empty() && !dir.starts_with('/') {
        return Err(bad(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        )));
    }
    if !config.stop_signal.is_empty() && !is_docker_signal(&config.stop_signal) {
        return Err(bad(format!("Invalid signal: {}", config.stop_signal)));
    }
    for entry in config.env.iter().flatten() {
        // `=foo` and "" name no variable.
        if entry.split('=').next().unwrap_or_default().is_empty() {
            return Err(bad(format!("invalid environment variable: {entry}")));
        }
    }
    if let Some(health) = &config.healthcheck {
        let too_short = |ns: i64| ns != 0 && ns < MIN_HEALTHCHECK_DURATION;
        if too_short(health.interval) {
            return Err(bad("Interval in Healthcheck cannot be less than 1ms"));
        }
        if too_short(health.timeout) {
            return Err(bad("Timeout in Healthcheck cannot be less than 1ms"));
        }
        if health.retries < 0 {
            return Err(bad("Retries in Healthcheck cannot be negative"));
        }
        if too_short(health.start_period) {
            return Err(bad("StartPeriod in Healthcheck cannot be less than 1ms"));
        }
    }
    Ok(())
}

/// Docker's `signal.ParseSignal` as create uses it: any number but 0, or a name it knows
/// (`SIGTERM`, `term`, `RTMIN+3`). A number the kernel has no signal for passes, as in Docker;
/// stop then falls back to SIGTERM ([`super::stop::stop_signal`]).
fn is_docker_signal(text: &str) -> bool {
    if let Ok(number) = text.parse::<i64>() {
        return number != 0;
    }
    berth_shim::signal::parse_signal(text).is_some() || is_realtime_signal_name(text)
}

/// `RTMIN`, `RTMIN+1`…`RTMIN+15`, `RTMAX-14`…`RTMAX` (Go's names for the real-time signals).
fn is_realtime_signal_name(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    // Go's names spell the offset without leading zeros: `RTMIN+3`, never `RTMIN+03`.
    let offset = |rest: &str, sign: char| {
        rest.is_empty()
            || rest.strip_prefix(sign).is_some_and(|n| {
                n.parse::<u8>()
                    .is_ok_and(|v| (1..=15).contains(&v) && v.to_string() == n)
            })
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return offset(rest, '+');
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return offset(rest, '-') && rest != "-15";
    }
    false
}

/// dockerd's `validateHostConfig`.
fn validate_host_config(host: &HostConfig) -> Result<(), ContainerError> {
    let policy = &host.restart_policy;
    if host.auto_remove && !matches!(policy.name.as_str(), "" | "no") {
        return Err(bad("can't create 'AutoRemove' container with restart policy"));
    }
    for entry in host.extra_hosts.iter().flatten() {
        validate_extra_host(entry)?;
    }
    validate_restart_policy(policy)
}

/// dockerd's `validateRestartPolicy`: a known name, and a retry count only with `on-failure`.
fn validate_restart_policy(policy: &RestartPolicy) -> Result<(), ContainerError> {
    match policy.name.as_str() {
        "" => {}
        "no" | "always" | "unless-stopped" => {
            if policy.maximum_retry_count != 0 {
                return Err(bad(format!(
                    "maximum retry count cannot be used with restart policy '{}'",
                    policy.name
                )));
            }
        }
        "on-failure" => {
            if policy.maximum_retry_count < 0 {
                return Err(bad("maximum retry count cannot be negative"));
            }
        }
        other => return Err(bad(format!("invalid restart policy '{other}'"))),
    }
    Ok(())
}

/// Docker's `ValidateExtraHost`: `name:address` split at the first colon (an IPv6 address keeps
/// its own), a name, and an address that parses (`host-gateway` stands for the host).
pub fn validate_extra_host(entry: &str) -> Result<(), ContainerError> {
    let Some((_, address)) = entry.split_once(':').filter(|(name, _)| !name.is_empty()) else {
        return Err(bad(format!("bad format for add-host: {entry:?}")));
    };
    if address != "host-gateway" && address.trim().parse::<std::net::IpAddr>().is_err() {
        return Err(bad(format!("invalid IP address in add-host: {address:?}")));
    }
    Ok(())
}

/// dockerd's `verifyPlatformContainerResources`, the checks that do not depend on the kernel.
fn validate_resources(host: &HostConfig, purpose: Purpose) -> Result<(), ContainerError> {
    if host.memory != 0 && host.memory < MIN_MEMORY {
        return Err(bad("Minimum memory limit allowed is 6MB"));
    }
    if host.memory > 0 && host.memory_swap > 0 && host.memory_swap < host.memory {
        return Err(bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if host.memory == 0 && host.memory_swap > 0 && purpose == Purpose::Create {
        return Err(bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    // -1 (and absent) mean "the kernel's default".
    if let Some(swappiness) = host.memory_swappiness.filter(|s| *s != -1) {
        if !(0..=100).contains(&swappiness) {
            return Err(bad(format!(
                "Invalid value: {swappiness}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if host.memory_reservation > 0 && host.memory_reservation < MIN_MEMORY {
        return Err(bad("Minimum memory reservation allowed is 6MB"));
    }
    if host.memory > 0 && host.memory_reservation > 0 && host.memory < host.memory_reservation {
        return Err(bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if host.kernel_memory > 0 && host.kernel_memory < MIN_MEMORY {
        return Err(bad("Minimum kernel memory limit allowed is 6MB"));
    }
    if host.nano_cpus > 0 && host.cpu_period > 0 {
        return Err(bad(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if host.nano_cpus > 0 && host.cpu_quota > 0 {
        return Err(bad(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if host.nano_cpus < 0 || host.nano_cpus > ncpu.saturating_mul(1_000_000_000) {
        return Err(bad(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if host.cpu_period != 0 && !(1000..=1_000_000).contains(&host.cpu_period) {
        return Err(bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if host.cpu_quota > 0 && host.cpu_quota < 1000 {
        return Err(bad("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
    }
    Ok(())
}

/// The rest of dockerd's `verifyPlatformContainerSettings`.
fn validate_platform(host: &HostConfig) -> Result<(), ContainerError> {
    if host.shm_size < 0 {
        return Err(bad("SHM size can not be less than 0"));
    }
    if !(-1000..=1000).contains(&host.oom_score_adj) {
        return Err(bad(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            host.oom_score_adj
        )));
    }
    // The runtimes `GET /info` lists: berthd has one.
    if !host.runtime.is_empty() && host.runtime != RUNTIME {
        return Err(bad(format!("Unknown runtime specified {}", host.runtime)));
    }
    Ok(())
}

/// The one OCI runtime berthd runs containers with (`Runtimes` in `GET /info`).
pub const RUNTIME: &str = "berth-runtime";

/// Log drivers Docker 20.10 has built in; berthd writes only `json-file` (see
/// [`validate_log_config`]).
const DOCKER_LOG_DRIVERS: [&str; 12] = [
    "json-file",
    "local",
    "none",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// The options every driver takes (dockerd's `builtInLogOpts`), and json-file's own.
const JSON_FILE_OPTIONS: [&str; 10] = [
    "mode",
    "max-buffer-size",
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// dockerd's `ValidateLogOpts` for the container's log driver (empty means the default,
/// json-file). A driver Docker does not know is refused with Docker's words; one it has but
/// berthd has not, with a line that names it (Docker would log there; berthd would silently not).
pub fn validate_log_config(
    driver: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<(), ContainerError> {
    let driver = if driver.is_empty() { "json-file" } else { driver };
    if !DOCKER_LOG_DRIVERS.contains(&driver) {
        return Err(bad(format!(
            "error looking up logging plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    if driver != "json-file" {
        return Err(bad(format!(
            "berthd writes container logs with the json-file driver only: the {driver} log driver is not supported"
        )));
    }
    let mode = options.get("mode").map(String::as_str).unwrap_or_default();
    if !matches!(mode, "" | "blocking" | "non-blocking") {
        return Err(bad(format!("logger: logging mode not supported: {mode}")));
    }
    if options.contains_key("max-buffer-size") && mode != "non-blocking" {
        return Err(bad(
            "logger: max-buffer-size option is only supported with 'mode=non-blocking'",
        ));
    }
    match options
        .keys()
        .find(|key| !JSON_FILE_OPTIONS.contains(&key.as_str()))
    {
        Some(key) => Err(bad(format!("unknown log opt '{key}' for json-file log driver"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(config: ContainerConfig, host: HostConfig) -> String {
        validate(&config, &host).unwrap_err().to_string()
    }

    #[test]
    fn signals_as_dockers_parse_signal_reads_them() {
        for ok in [
            "SIGTERM",
            "term",
            "9",
            "999",
            "-1",
            "RTMIN",
            "RTMIN+3",
            "SIGRTMAX-14",
        ] {
            assert!(is_docker_signal(ok), "{ok}");
        }
        for bad in ["SIGBOGUS", "0", "", "RTMIN+16", "RTMAX-15", "RTMIN+03"] {
            assert!(!is_docker_signal(bad), "{bad}");
        }
    }

    #[test]
    fn the_first_mistake_in_dockers_order_is_reported() {
        let config = ContainerConfig {
            working_dir: "rel".into(),
            stop_signal: "SIGBOGUS".into(),
            ..Default::default()
        };
        let host = HostConfig {
            memory: -5,
            ..Default::default()
        };
        assert_eq!(
            refusal(config, host),
            "the working directory 'rel' is invalid, it needs to be an absolute path"
        );
    }

    #[test]
    fn extra_hosts_split_at_the_first_colon() {
        assert!(validate_extra_host("a:::1").is_ok());
        assert!(validate_extra_host("a: 1.2.3.4 ").is_ok());
        assert!(validate_extra_host("a:host-gateway").is_ok());
        assert_eq!(
            validate_extra_host("nocolon").unwrap_err().to_string(),
            "bad format for add-host: \"nocolon\""
        );
        assert_eq!(
            validate_extra_host("a:1.2.3.4\nevil").unwrap_err().to_string(),
            "invalid IP address in add-host: \"1.2.3.4\\nevil\""
        );
    }

    #[test]
    fn resources_out_of_range_are_refused() {
        let cases: [(HostConfig, &str); 5] = [
            (
                HostConfig {
                    cpu_period: -3,
                    ..Default::default()
                },
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                HostConfig {
                    shm_size: -1,
                    ..Default::default()
                },
                "SHM size can not be less than 0",
            ),
            (
                HostConfig {
                    memory_swappiness: Some(1000),
                    ..Default::default()
                },
                "Invalid value: 1000, valid memory swappiness range is 0-100",
            ),
            (
                HostConfig {
                    memory: -5,
                    ..Default::default()
                },
                "Minimum memory limit allowed is 6MB",
            ),
            (
                HostConfig {
                    memory_swap: 1 << 30,
                    ..Default::default()
                },
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ),
        ];
        for (host, message) in cases {
            assert_eq!(refusal(ContainerConfig::default(), host), message);
        }
        let fine = HostConfig {
            memory: i64::MAX,
            memory_swappiness: Some(-1),
            cpu_quota: -5,
            ..Default::default()
        };
        assert!(validate(&ContainerConfig::default(), &fine).is_ok());
    }
}
