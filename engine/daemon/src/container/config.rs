//! A container's configuration from its image's and the request's, merged as Docker merges them.

use berth_api::types::{ContainerConfig, HostConfig};

/// Docker's `merge`: what the request leaves unset comes from the image.
pub fn merge_image_config(user: &mut ContainerConfig, image: &ContainerConfig) {
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    if let Some(image_ports) = &image.exposed_ports {
        let ports = user.exposed_ports.get_or_insert_with(Default::default);
        for (port, v) in image_ports {
            ports.entry(port.clone()).or_insert_with(|| v.clone());
        }
    }
    match (&mut user.env, &image.env) {
        (None, Some(image_env)) => user.env = Some(image_env.clone()),
        (Some(env), Some(image_env)) if env.is_empty() => *env = image_env.clone(),
        (Some(env), Some(image_env)) => {
            for entry in image_env {
                let key = env_key(entry);
                if !env.iter().any(|e| env_key(e) == key) {
                    env.push(entry.clone());
                }
            }
        }
        _ => {}
    }
    if let Some(image_labels) = &image.labels {
        let labels = user.labels.get_or_insert_with(Default::default);
        for (k, v) in image_labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let no_entrypoint = user.entrypoint.as_ref().is_none_or(|e| e.0.is_empty());
    if no_entrypoint {
        if user.cmd.as_ref().is_none_or(|c| c.0.is_empty()) {
            user.cmd = image.cmd.clone();
            user.args_escaped = image.args_escaped;
        }
        // `--entrypoint ""` (an empty list, not absent) clears the image's entrypoint.
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    // A healthcheck given in part takes the rest from the image's, field by field (Docker's
    // `merge`: `--health-interval` alone keeps the image's test).
    match (&mut user.healthcheck, &image.healthcheck) {
        (None, image_check) => user.healthcheck = image_check.clone(),
        (Some(check), Some(image_check)) => {
            if check.test.as_ref().is_none_or(Vec::is_empty) {
                check.test = image_check.test.clone();
            }
            if check.interval == 0 {
                check.interval = image_check.interval;
            }
            if check.timeout == 0 {
                check.timeout = image_check.timeout;
            }
            if check.start_period == 0 {
                check.start_period = image_check.start_period;
            }
            if check.retries == 0 {
                check.retries = image_check.retries;
            }
        }
        (Some(_), None) => {}
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    if let Some(image_volumes) = &image.volumes {
        let volumes = user.volumes.get_or_insert_with(Default::default);
        for (path, v) in image_volumes {
            volumes.entry(path.clone()).or_insert_with(|| v.clone());
        }
    }
    if user.on_build.is_none() {
        user.on_build = image.on_build.clone();
    }
    if user.stop_signal.is_empty() {
        user.stop_signal = image.stop_signal.clone();
    }
}

/// `KEY` of `KEY=value` (or of a bare `KEY`).
pub fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Docker's `ReplaceOrAppendEnvValues`: `overrides` replace same-key entries of `defaults`, the
/// rest are appended; a bare `KEY` in overrides removes it.
pub fn replace_or_append_env(defaults: Vec<String>, overrides: &[String]) -> Vec<String> {
    let mut env = defaults;
    for entry in overrides {
        let key = env_key(entry);
        let position = env.iter().position(|e| env_key(e) == key);
        match (position, entry.contains('=')) {
            (Some(i), true) => env[i] = entry.clone(),
            (Some(i), false) => {
                env.remove(i);
            }
            (None, true) => env.push(entry.clone()),
            (None, false) => {}
        }
    }
    env
}

/// The PATH a container gets when its image sets none (Docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment the container's process starts with (Docker's `CreateDaemonEnvironment`).
pub fn process_env(config: &ContainerConfig, linked: &[String]) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", config.hostname),
    ];
    if config.tty {
        env.push("TERM=xterm".into());
    }
    env.extend(linked.iter().cloned());
    replace_or_append_env(env, config.env.as_deref().unwrap_or_default())
}

/// Defaults Docker fills into a host config at create (as `inspect` then shows them).
pub fn fill_host_config_defaults(host: &mut HostConfig) {
    if host.network_mode.is_empty() {
        host.network_mode = "default".into();
    }
    if host.log_config.r#type.is_empty() {
        host.log_config.r#type = "json-file".into();
    }
    if host.restart_policy.name.is_empty() {
        host.restart_policy.name = "no".into();
    }
    if host.ipc_mode.is_empty() {
        host.ipc_mode = "private".into();
    }
    if host.cgroupns_mode.is_empty() {
        host.cgroupns_mode = "host".into();
    }
    if host.shm_size == 0 {
        host.shm_size = 64 * 1024 * 1024;
    }
    if host.runtime.is_empty() {
        host.runtime = super::validate::RUNTIME.into();
    }
    // Docker doubles the memory limit for memory+swap when only memory is given (a limit
    // too large to double means no swap limit of its own: the most there is).
    if host.memory > 0 && host.memory_swap == 0 {
        host.memory_swap = host.memory.saturating_mul(2);
    }
    for list in [&mut host.dns, &mut host.dns_options, &mut host.dns_search] {
        list.get_or_insert_with(Vec::new);
    }
    host.port_bindings.get_or_insert_with(Default::default);
    host.blkio_weight_device.get_or_insert_with(Vec::new);
    host.devices.get_or_insert_with(Vec::new);
    if !host.privileged {
        host.masked_paths
            .get_or_insert_with(|| MASKED_PATHS.iter().map(|s| s.to_string()).collect());
        host.readonly_paths
            .get_or_insert_with(|| READONLY_PATHS.iter().map(|s| s.to_string()).collect());
    }
}

/// Paths under /proc and /sys a container can't read (Docker's defaults).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths under /proc a container can read but not write (Docker's defaults).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

#[cfg(test)]
mod tests {
    use berth_api::types::StrSlice;

    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn env_merges_like_docker() {
        // Docker 20.10: -e X=1 on an image with A=1 gives ["X=1","A=1"].
        let mut user = ContainerConfig {
            env: Some(strs(&["X=1"])),
            ..Default::default()
        };
        let image = ContainerConfig {
            env: Some(strs(&["A=1", "X=0"])),
            ..Default::default()
        };
        merge_image_config(&mut user, &image);
        assert_eq!(user.env.unwrap(), strs(&["X=1", "A=1"]));
    }

    #[test]
    fn cmd_and_entrypoint_follow_dockers_rules() {
        let image = ContainerConfig {
            entrypoint: Some(StrSlice(strs(&["/entry"]))),
            cmd: Some(StrSlice(strs(&["serve"]))),
            ..Default::default()
        };
        let mut plain = ContainerConfig::default();
        merge_image_config(&mut plain, &image);
        assert_eq!(
            (plain.entrypoint.unwrap().0, plain.cmd.unwrap().0),
            (strs(&["/entry"]), strs(&["serve"]))
        );

        let mut with_cmd = ContainerConfig {
            cmd: Some(StrSlice(strs(&["sh"]))),
            ..Default::default()
        };
        merge_image_config(&mut with_cmd, &image);
        assert_eq!(
            (with_cmd.entrypoint.unwrap().0, with_cmd.cmd.unwrap().0),
            (strs(&["/entry"]), strs(&["sh"]))
        );

        // A new entrypoint drops the image's cmd too.
        let mut new_entry = ContainerConfig {
            entrypoint: Some(StrSlice(strs(&["/bin/sh"]))),
            ..Default::default()
        };
        merge_image_config(&mut new_entry, &image);
        assert_eq!(new_entry.cmd, None);

        // `--entrypoint ""` clears it.
        let mut cleared = ContainerConfig {
            entrypoint: Some(StrSlice(vec![])),
            ..Default::default()
        };
        merge_image_config(&mut cleared, &image);
        assert_eq!(cleared.entrypoint.unwrap().0, Vec::<String>::new());
        assert_eq!(cleared.cmd.unwrap().0, strs(&["serve"]));
    }

    #[test]
    fn process_env_puts_dockers_defaults_first() {
        let config = ContainerConfig {
            hostname: "abc".into(),
            tty: true,
            env: Some(strs(&["PATH=/x", "A=1"])),
            ..Default::default()
        };
        assert_eq!(
            process_env(&config, &[]),
            strs(&["PATH=/x", "HOSTNAME=abc", "TERM=xterm", "A=1"])
        );
    }

    #[test]
    fn host_defaults_as_inspect_shows_them() {
        let mut host = HostConfig {
            memory: 64 << 20,
            ..Default::default()
        };
        fill_host_config_defaults(&mut host);
        assert_eq!(host.memory_swap, 128 << 20);
        assert_eq!(host.network_mode, "default");
        assert_eq!(host.shm_size, 67108864);
        assert_eq!(host.masked_paths.as_ref().unwrap().len(), 10);
    }
}
