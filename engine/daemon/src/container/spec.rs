//! The OCI runtime spec (`config.json`) for a container, as dockerd writes it: Docker's default
//! capabilities, mounts, masked and read-only paths, device rules and seccomp profile, with the
//! request's resources and security options applied.
//!
//! The spec is written as the JSON the runtime spec documents (easy to compare with
//! `runc spec` or a Docker bundle) and checked into `oci_spec` types.

use std::path::{Path, PathBuf};

use berth_api::types::{ContainerConfig, HostConfig};
use oci_spec::runtime::Spec;
use serde_json::{Value, json};

use super::config::{MASKED_PATHS, READONLY_PATHS};
use super::seccomp;

/// The 14 capabilities a Docker container keeps by default.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel knows (for `--privileged` and `--cap-add ALL`).
pub const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The numeric user a container's process runs as (resolved from the image's /etc/passwd).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// A mount beyond Docker's defaults: /etc files, volumes, binds, tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraMount {
    pub destination: String,
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Everything that goes into a container's spec.
#[derive(Debug)]
pub struct SpecInput<'a> {
    pub id: &'a str,
    pub config: &'a ContainerConfig,
    pub host: &'a HostConfig,
    /// The container's root file system (the overlay's merged dir).
    pub rootfs: &'a Path,
    pub user: ProcessUser,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub mounts: Vec<ExtraMount>,
    /// A network namespace to join (`None`: a new one, unless the network mode is host).
    pub netns: Option<PathBuf>,
    /// Run a tiny init as PID 1 that reaps and forwards signals (`--init`).
    pub init: bool,
}

/// Why a spec can't be made.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// a capability name that doesn't exist
    #[error("invalid capability: {0}")]
    Capability(String),
    /// a ulimit Docker doesn't know
    #[error("invalid ulimit type: {0}")]
    Ulimit(String),
    /// the built spec does not fit the OCI types (a bug)
    #[error("invalid runtime spec: {0}")]
    Invalid(String),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    /// a `--security-opt` without a value (`--security-opt bogus`)
    #[error("invalid --security-opt 1: {0:?}")]
    SecurityOptForm(String),
    /// a `--security-opt` dockerd does not know, or a `no-new-privileges` that is no boolean
    #[error("invalid --security-opt 2: {0:?}")]
    SecurityOptKey(String),
    /// a `--device` whose host path is not a device node
    #[error("error gathering device information while adding custom device {path:?}: {reason}")]
    Device { path: String, reason: String },
}

/// `--security-opt` as dockerd's `parseSecurityOpt` reads it. `label` and `apparmor` are
/// accepted and have no effect: berth has neither SELinux nor AppArmor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    pub no_new_privileges: bool,
    /// `seccomp=…`: `unconfined`, or a profile's JSON (the CLI sends the file's content).
    pub seccomp: Option<String>,
}

impl SecurityOptions {
    pub fn parse(host: &HostConfig) -> Result<SecurityOptions, SpecError> {
        let mut options = SecurityOptions::default();
        for option in host.security_opt.iter().flatten() {
            if option == "no-new-privileges" {
                options.no_new_privileges = true;
                continue;
            }
            if option == "disable" {
                continue;
            }
            // `key=value`, or the older `key:value`.
            let Some((key, value)) = option.split_once('=').or_else(|| option.split_once(':')) else {
                return Err(SpecError::SecurityOptForm(option.clone()));
            };
            match key {
                "label" | "apparmor" => {}
                "seccomp" => options.seccomp = Some(value.to_owned()),
                "no-new-privileges" => {
                    options.no_new_privileges =
                        go_parse_bool(value).ok_or_else(|| SpecError::SecurityOptKey(option.clone()))?;
                }
                _ => return Err(SpecError::SecurityOptKey(option.clone())),
            }
        }
        Ok(options)
    }
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `--device`s as the OCI spec takes them: the nodes to make (`linux.devices`) and the cgroup
/// rules that let the container use them, read from the host's nodes as dockerd's
/// `DevicesFromPath` does (a symlink is followed).
fn devices(host: &HostConfig) -> Result<(Vec<Value>, Vec<Value>), SpecError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let (mut nodes, mut rules) = (Vec::new(), Vec::new());
    for device in host.devices.iter().flatten() {
        let refused = |reason: String| SpecError::Device {
            path: device.path_on_host.clone(),
            reason,
        };
        let meta = std::fs::metadata(&device.path_on_host).map_err(|e| refused(crate::go_error::text(&e)))?;
        let kind = if meta.file_type().is_char_device() {
            "c"
        } else if meta.file_type().is_block_device() {
            "b"
        } else {
            return Err(refused("not a device node".into()));
        };
        let (major, minor) = (libc::major(meta.rdev()), libc::minor(meta.rdev()));
        // The API may leave out what the CLI always fills in.
        let path = match device.path_in_container.as_str() {
            "" => device.path_on_host.clone(),
            relative if !relative.starts_with('/') => format!("/{relative}"),
            absolute => absolute.to_owned(),
        };
        let access = match device.cgroup_permissions.as_str() {
            "" => "rwm",
            given => given,
        };
        nodes.push(json!({
            "path": path, "type": kind, "major": major, "minor": minor,
            "fileMode": meta.permissions().mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid(),
        }));
        rules.push(json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access}));
    }
    Ok((nodes, rules))
}

/// `cap_add`/`cap_drop` on top of the defaults (or all of them when privileged).
pub fn capabilities(host: &HostConfig) -> Result<Vec<String>, SpecError> {
    let normalize = |name: &str| -> Result<String, SpecError> {
        let upper = name.to_uppercase();
        if upper == "ALL" {
            return Ok(upper);
        }
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        if ALL_CAPABILITIES.contains(&full.as_str()) {
            Ok(full)
        } else {
            Err(SpecError::Capability(name.to_owned()))
        }
    };
    if host.privileged {
        return Ok(ALL_CAPABILITIES.iter().map(|c| c.to_string()).collect());
    }
    let adds: Vec<String> = host
        .cap_add
        .iter()
        .flatten()
        .map(|c| normalize(c))
        .collect::<Result<_, _>>()?;
    let drops: Vec<String> = host
        .cap_drop
        .iter()
        .flatten()
        .map(|c| normalize(c))
        .collect::<Result<_, _>>()?;
    let mut caps: Vec<String> = if adds.iter().any(|c| c == "ALL") {
        ALL_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    } else {
        DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    };
    if drops.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    for add in adds.into_iter().filter(|c| c != "ALL") {
        if !caps.contains(&add) {
            caps.push(add);
        }
    }
    caps.retain(|c| !drops.contains(c) || adds_contains(host, c));
    Ok(caps)
}

/// A capability both dropped and added stays (Docker gives add precedence over drop).
fn adds_contains(host: &HostConfig, cap: &str) -> bool {
    host.cap_add.iter().flatten().any(|a| {
        let upper = a.to_uppercase();
        upper == cap || format!("CAP_{upper}") == cap
    })
}

/// Docker's default device cgroup rules: deny all, then the basic character devices.
fn device_rules(privileged: bool) -> Value {
    if privileged {
        return json!([{"allow": true, "access": "rwm"}]);
    }
    let allow = |kind: &str, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut rule = json!({"allow": true, "type": kind, "access": access});
        if let Some(major) = major {
            rule["major"] = major.into();
        }
        if let Some(minor) = minor {
            rule["minor"] = minor.into();
        }
        rule
    };
    json!([
        {"allow": false, "access": "rwm"},
        allow("c", None, None, "m"),
        allow("b", None, None, "m"),
        allow("c", Some(1), Some(3), "rwm"),
        allow("c", Some(1), Some(8), "rwm"),
        allow("c", Some(1), Some(7), "rwm"),
        allow("c", Some(5), Some(0), "rwm"),
        allow("c", Some(1), Some(5), "rwm"),
        allow("c", Some(1), Some(9), "rwm"),
        allow("c", Some(136), None, "rwm"),
        allow("c", Some(5), Some(2), "rwm"),
        allow("c", Some(10), Some(200), "rwm"),
    ])
}

fn resources(host: &HostConfig, device_rules_added: Vec<Value>) -> Value {
    let mut memory = json!({});
    if host.memory > 0 {
        memory["limit"] = host.memory.into();
    }
    if host.memory_swap != 0 {
        memory["swap"] = host.memory_swap.into();
    }
    if host.memory_reservation > 0 {
        memory["reservation"] = host.memory_reservation.into();
    }
    if host.oom_kill_disable {
        memory["disableOOMKiller"] = true.into();
    }
    if let Some(swappiness) = host.memory_swappiness.filter(|s| *s >= 0) {
        memory["swappiness"] = swappiness.into();
    }
    let mut cpu = json!({});
    if host.cpu_shares > 0 {
        cpu["shares"] = host.cpu_shares.into();
    }
    if host.nano_cpus > 0 {
        // --cpus: a quota per 100 ms period, as Docker computes it.
        let period = 100_000i64;
        cpu["period"] = period.into();
        cpu["quota"] = (host.nano_cpus * period / 1_000_000_000).into();
    } else {
        if host.cpu_period > 0 {
            cpu["period"] = host.cpu_period.into();
        }
        if host.cpu_quota != 0 {
            cpu["quota"] = host.cpu_quota.into();
        }
    }
    if !host.cpuset_cpus.is_empty() {
        cpu["cpus"] = host.cpuset_cpus.clone().into();
    }
    if !host.cpuset_mems.is_empty() {
        cpu["mems"] = host.cpuset_mems.clone().into();
    }
    let mut rules = device_rules(host.privileged);
    if let Some(rules) = rules.as_array_mut() {
        rules.extend(device_rules_added);
    }
    let mut resources = json!({"devices": rules, "memory": memory, "cpu": cpu});
    if let Some(limit) = host.pids_limit.filter(|l| *l > 0) {
        resources["pids"] = json!({"limit": limit});
    }
    resources
}

/// The OCI `linux.resources` an update asks the runtime for (dockerd's
/// `toContainerdResources`): only what the request sets, since the runtime leaves alone what
/// the object leaves out. Memory swap only when positive; a pids limit of 0 or less lifts it.
pub fn update_resources(request: &HostConfig) -> Value {
    let mut resources = json!({});
    let mut memory = json!({});
    if request.memory != 0 {
        memory["limit"] = request.memory.into();
    }
    if request.memory_reservation != 0 {
        memory["reservation"] = request.memory_reservation.into();
    }
    if request.memory_swap > 0 {
        memory["swap"] = request.memory_swap.into();
    }
    if memory != json!({}) {
        resources["memory"] = memory;
    }
    let mut cpu = json!({});
    if request.cpu_shares != 0 {
        cpu["shares"] = request.cpu_shares.into();
    }
    if request.nano_cpus != 0 {
        let period = 100_000i64;
        cpu["period"] = period.into();
        cpu["quota"] = (request.nano_cpus * period / 1_000_000_000).into();
    } else {
        if request.cpu_period != 0 {
            cpu["period"] = request.cpu_period.into();
        }
        if request.cpu_quota != 0 {
            cpu["quota"] = request.cpu_quota.into();
        }
    }
    if !request.cpuset_cpus.is_empty() {
        cpu["cpus"] = request.cpuset_cpus.clone().into();
    }
    if !request.cpuset_mems.is_empty() {
        cpu["mems"] = request.cpuset_mems.clone().into();
    }
    if cpu != json!({}) {
        resources["cpu"] = cpu;
    }
    if request.blkio_weight != 0 {
        resources["blockIO"] = json!({"weight": request.blkio_weight});
    }
    if let Some(limit) = request.pids_limit {
        resources["pids"] = json!({"limit": if limit <= 0 { -1 } else { limit }});
    }
    resources
}

fn rlimits(host: &HostConfig) -> Result<Vec<Value>, SpecError> {
    host.ulimits
        .iter()
        .flatten()
        .map(|u| {
            let name = u.name.to_uppercase();
            const KNOWN: &[&str] = &[
                "CORE",
                "CPU",
                "DATA",
                "FSIZE",
                "LOCKS",
                "MEMLOCK",
                "MSGQUEUE",
                "NICE",
                "NOFILE",
                "NPROC",
                "RSS",
                "RTPRIO",
                "RTTIME",
                "SIGPENDING",
                "STACK",
                "AS",
            ];
            if !KNOWN.contains(&name.as_str()) {
                return Err(SpecError::Ulimit(u.name.clone()));
            }
            Ok(json!({"type": format!("RLIMIT_{name}"), "hard": u.hard, "soft": u.soft}))
        })
        .collect()
}

/// Docker's default mounts, minus those a user mount replaces.
fn default_mounts(host: &HostConfig, taken: &[&str]) -> Vec<Value> {
    let shm_size = format!("size={}k", host.shm_size / 1024);
    let sys_mode = if host.privileged { "rw" } else { "ro" };
    let mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", sys_mode]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", sys_mode]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", shm_size]}),
    ];
    mounts
        .into_iter()
        .filter(|m| !taken.contains(&m["destination"].as_str().unwrap_or_default()))
        .collect()
}

/// The spec for a container.
pub fn build(input: SpecInput<'_>) -> Result<Spec, SpecError> {
    let host = input.host;
    let caps = capabilities(host)?;
    let mut extra = input.mounts.clone();
    // Parents before children, as Docker sorts them (by path depth).
    extra.sort_by_key(|m| m.destination.trim_end_matches('/').matches('/').count());
    let taken: Vec<&str> = extra.iter().map(|m| m.destination.as_str()).collect();
    let mut mounts = default_mounts(host, &taken);
    mounts.extend(extra.iter().map(
        |m| json!({"destination": m.destination, "type": m.kind, "source": m.source, "options": m.options}),
    ));

    let mut namespaces = vec![json!({"type": "mount"})];
    if host.network_mode != "host" {
        match &input.netns {
            Some(path) => namespaces.push(json!({"type": "network", "path": path})),
            None => namespaces.push(json!({"type": "network"})),
        }
    }
    if host.uts_mode != "host" {
        namespaces.push(json!({"type": "uts"}));
    }
    if host.pid_mode != "host" {
        namespaces.push(json!({"type": "pid"}));
    }
    if host.ipc_mode != "host" {
        namespaces.push(json!({"type": "ipc"}));
    }
    if host.cgroupns_mode == "private" {
        namespaces.push(json!({"type": "cgroup"}));
    }

    let security = SecurityOptions::parse(host)?;
    let no_new_privileges = security.no_new_privileges;
    let (device_nodes, device_rules_added) = devices(host)?;
    let cgroup_parent = if host.cgroup_parent.is_empty() {
        "/berth"
    } else {
        host.cgroup_parent.as_str()
    };
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources(host, device_rules_added),
        "devices": device_nodes,
        "cgroupsPath": format!("{}/{}", cgroup_parent.trim_end_matches('/'), input.id),
    });
    // Docker's two defaults outside the host's network, then the request's (which win); the
    // runtime refuses those that would reach beyond the container's namespaces.
    let mut sysctl = serde_json::Map::new();
    if host.network_mode != "host" {
        sysctl.insert("net.ipv4.ip_unprivileged_port_start".into(), "0".into());
        sysctl.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
    }
    for (key, value) in host.sysctls.iter().flatten() {
        sysctl.insert(key.clone(), value.clone().into());
    }
    if !sysctl.is_empty() {
        linux["sysctl"] = Value::Object(sysctl);
    }
    if !host.privileged {
        let masked = host
            .masked_paths
            .clone()
            .unwrap_or_else(|| MASKED_PATHS.iter().map(|s| s.to_string()).collect());
        let readonly = host
            .readonly_paths
            .clone()
            .unwrap_or_else(|| READONLY_PATHS.iter().map(|s| s.to_string()).collect());
        linux["maskedPaths"] = masked.into();
        linux["readonlyPaths"] = readonly.into();
    }
    // Docker's order: privileged runs unconfined, then `seccomp=unconfined`, then the
    // request's profile, then the default one.
    let profile = match security.seccomp.as_deref() {
        _ if host.privileged => None,
        Some("unconfined") => None,
        Some(custom) => Some(custom),
        None => Some(seccomp::DEFAULT_PROFILE),
    };
    if let Some(profile) = profile {
        let target = seccomp::Target {
            arch: crate::image::go_arch(),
            kernel: seccomp::kernel_version(),
            capabilities: &caps,
        };
        let profile = seccomp::to_oci(profile, &target)?;
        linux["seccomp"] = serde_json::to_value(profile).map_err(|e| SpecError::Invalid(e.to_string()))?;
    }

    let mut process = json!({
        "terminal": input.config.tty,
        "user": {"uid": input.user.uid, "gid": input.user.gid},
        "args": input.args,
        "env": input.env,
        "cwd": if input.config.working_dir.is_empty() { "/" } else { input.config.working_dir.as_str() },
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps},
        "noNewPrivileges": no_new_privileges,
    });
    if !input.user.additional_gids.is_empty() {
        process["user"]["additionalGids"] = input.user.additional_gids.clone().into();
    }
    if host.oom_score_adj != 0 {
        process["oomScoreAdj"] = host.oom_score_adj.into();
    }
    let rlimits = rlimits(host)?;
    if !rlimits.is_empty() {
        process["rlimits"] = rlimits.into();
    }
    let mut annotations = json!({});
    if input.init {
        annotations["org.berth.init"] = "true".into();
    }
    let spec = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": input.rootfs, "readonly": host.readonly_rootfs},
        "hostname": input.config.hostname,
        "domainname": input.config.domainname,
        "mounts": mounts,
        "linux": linux,
        "annotations": annotations,
    });
    serde_json::from_value(spec).map_err(|e| SpecError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(config: &'a ContainerConfig, host: &'a HostConfig) -> SpecInput<'a> {
        SpecInput {
            id: "0123456789ab",
            config,
            host,
            rootfs: Path::new("/var/lib/berth/c/merged"),
            user: ProcessUser::default(),
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            mounts: vec![ExtraMount {
                destination: "/etc/hosts".into(),
                kind: "bind".into(),
                source: "/x/hosts".into(),
                options: vec!["rbind".into(), "rprivate".into()],
            }],
            netns: None,
            init: false,
        }
    }

    #[test]
    fn a_default_container_gets_dockers_defaults() {
        let config = ContainerConfig {
            hostname: "0123456789ab".into(),
            ..Default::default()
        };
        let mut host = HostConfig::default();
        super::super::config::fill_host_config_defaults(&mut host);
        let spec = serde_json::to_value(build(input(&config, &host)).unwrap()).unwrap();
        assert_eq!(
            spec["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(spec["process"]["noNewPrivileges"], false);
        assert_eq!(spec["process"]["cwd"], "/");
        assert_eq!(spec["hostname"], "0123456789ab");
        assert_eq!(spec["linux"]["cgroupsPath"], "/berth/0123456789ab");
        assert_eq!(spec["linux"]["maskedPaths"].as_array().unwrap().len(), 10);
        assert_eq!(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        let destinations: Vec<&str> = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            destinations,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc/hosts"
            ]
        );
        let namespaces: Vec<&str> = spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(namespaces, ["mount", "network", "uts", "pid", "ipc"]);
    }

    #[test]
    fn resources_map_to_cgroup_settings() {
        let config = ContainerConfig::default();
        let mut host = HostConfig {
            memory: 64 << 20,
            nano_cpus: 500_000_000,
            pids_limit: Some(50),
            cpu_shares: 512,
            ..Default::default()
        };
        super::super::config::fill_host_config_defaults(&mut host);
        let spec = serde_json::to_value(build(input(&config, &host)).unwrap()).unwrap();
        let resources = &spec["linux"]["resources"];
        assert_eq!(resources["memory"]["limit"], 64 << 20);
        assert_eq!(resources["memory"]["swap"], 128 << 20);
        assert_eq!(resources["cpu"]["quota"], 50_000);
        assert_eq!(resources["cpu"]["period"], 100_000);
        assert_eq!(resources["cpu"]["shares"], 512);
        assert_eq!(resources["pids"]["limit"], 50);
    }

    #[test]
    fn an_update_names_only_what_it_changes() {
        let request = HostConfig {
            nano_cpus: 500_000_000,
            memory: 64 << 20,
            pids_limit: Some(0),
            ..HostConfig::default()
        };
        assert_eq!(
            update_resources(&request),
            json!({
                "memory": {"limit": 64 << 20},
                "cpu": {"period": 100_000, "quota": 50_000},
                "pids": {"limit": -1},
            })
        );
        assert_eq!(update_resources(&HostConfig::default()), json!({}));
        let swap_unlimited = HostConfig {
            memory_swap: -1,
            ..HostConfig::default()
        };
        assert_eq!(update_resources(&swap_unlimited), json!({}));
    }

    #[test]
    fn capabilities_add_and_drop() {
        let host = HostConfig {
            cap_add: Some(vec!["sys_admin".into()]),
            cap_drop: Some(vec!["CAP_NET_RAW".into(), "chown".into()]),
            ..Default::default()
        };
        let caps = capabilities(&host).unwrap();
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_NET_RAW".to_string()));
        assert_eq!(caps.len(), 13);
        let all = HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(vec!["KILL".into()]),
            ..Default::default()
        };
        assert_eq!(capabilities(&all).unwrap(), ["CAP_KILL"]);
        let bad = HostConfig {
            cap_add: Some(vec!["NOPE".into()]),
            ..Default::default()
        };
        assert_eq!(
            capabilities(&bad).unwrap_err().to_string(),
            "invalid capability: NOPE"
        );
    }
}
