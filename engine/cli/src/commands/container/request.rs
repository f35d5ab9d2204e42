//! `run`/`create` flags → the `POST /containers/create` body, parsed as the Docker 20.10 CLI
//! parses them (docker/cli `opts`, go-connections `nat`, go-units), with Docker's error texts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_api::types::{
    BindOptions, ContainerConfig, ContainerCreateRequest, DriverConfig, EmptyObject, EmptyObjectSet,
    EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, LogConfig, Mount, NetworkingConfig,
    PortBinding, PortMap, RestartPolicy, StrSlice, TmpfsOptions, Ulimit, VolumeOptions,
};

use crate::cli::ContainerOptions;

/// Why the flags do not make a container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// a flag's value does not parse, in pflag's words
    #[error("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")]
    FlagValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// the options do not fit together, or a file they name cannot be read
    #[error("{0}")]
    Invalid(String),
    /// a flag this command does not have, where the image should be (`run --foo busybox`)
    #[error("{}", crate::usage_errors::unknown_flag(.0))]
    UnknownFlag(String),
}

impl RequestError {
    pub(super) fn flag(flag: &'static str, value: &str, reason: impl Into<String>) -> RequestError {
        RequestError::FlagValue {
            flag,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> RequestError {
        RequestError::Invalid(message.into())
    }
}

/// Build the create request for `options`; `detach` is `run -d`.
pub fn build(options: &ContainerOptions, detach: bool) -> Result<ContainerCreateRequest, RequestError> {
    // Options end at the image, so an unknown flag lands in its place.
    if options.image().starts_with('-') {
        return Err(RequestError::UnknownFlag(options.image().to_owned()));
    }
    let attach = attach_streams(&options.attach)?;
    let mut attach_stdin = attach.stdin || options.interactive;
    let (mut attach_stdout, mut attach_stderr) = if options.attach.is_empty() {
        (true, true)
    } else {
        (attach.stdout, attach.stderr)
    };

    let memory = parse_bytes("-m, --memory", options.memory.as_deref())?;
    let memory_reservation = parse_bytes("--memory-reservation", options.memory_reservation.as_deref())?;
    let memory_swap = match options.memory_swap.as_deref() {
        Some("-1") => -1,
        other => parse_bytes("--memory-swap", other)?,
    };
    let shm_size = parse_bytes("--shm-size", options.shm_size.as_deref())?;
    let nano_cpus = match &options.cpus {
        Some(cpus) => parse_nano_cpus(cpus).map_err(|reason| RequestError::flag("--cpus", cpus, reason))?,
        None => 0,
    };

    let (mut exposed, port_bindings) = parse_publish(&options.publish)?;
    for expose in &options.expose {
        for port in parse_expose(expose)? {
            exposed.entry(port).or_insert(EmptyObject {});
        }
    }

    let mut volumes = EmptyObjectSet::new();
    let mut binds = Vec::new();
    for spec in &options.volume {
        match volume_bind(spec)? {
            Some(bind) => binds.push(bind),
            None => {
                volumes.insert(spec.clone(), EmptyObject {});
            }
        }
    }
    let mounts = options
        .mount
        .iter()
        .map(|m| parse_mount(m).map_err(|reason| RequestError::flag("--mount", m, reason)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut env = Vec::new();
    for file in &options.env_file {
        env.extend(read_env_file(file, |name| std::env::var(name).ok())?);
    }
    for variable in &options.env {
        env.push(validate_env(variable, |name| std::env::var(name).ok())?);
    }
    let mut label_lines = Vec::new();
    for file in &options.label_file {
        label_lines.extend(read_key_value_file(file, |_| None)?);
    }
    label_lines.extend(options.label.iter().cloned());
    let labels: BTreeMap<String, String> = label_lines.iter().map(|l| split_key_value(l)).collect();

    let restart_policy = parse_restart_policy(options.restart.as_deref().unwrap_or(""))?;
    if options.rm && !matches!(restart_policy.name.as_str(), "" | "no") {
        return Err(RequestError::invalid("Conflicting options: --restart and --rm"));
    }
    let ulimits = options
        .ulimit
        .iter()
        .map(|u| parse_ulimit(u).map_err(|reason| RequestError::flag("--ulimit", u, reason)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tmpfs = BTreeMap::new();
    for spec in &options.tmpfs {
        let (path, opts) = spec.split_once(':').unwrap_or((spec, ""));
        tmpfs.insert(path.to_owned(), opts.to_owned());
    }
    let mut sysctls = BTreeMap::new();
    for sysctl in &options.sysctl {
        let (key, value) = sysctl.split_once('=').ok_or_else(|| {
            RequestError::flag("--sysctl", sysctl, format!("invalid sysctl value {sysctl:?}"))
        })?;
        sysctls.insert(key.to_owned(), value.to_owned());
    }
    let mut log_options = BTreeMap::new();
    for option in &options.log_opt {
        let (key, value) = option.split_once('=').ok_or_else(|| {
            RequestError::invalid(format!("invalid key/value pair format in log options: {option}"))
        })?;
        log_options.insert(key.to_owned(), value.to_owned());
    }

    let mut stdin_once = options.interactive && attach_stdin;
    if detach {
        attach_stdin = false;
        attach_stdout = false;
        attach_stderr = false;
        stdin_once = false;
    }
    let some_list = |items: &[String]| Some(items.to_vec());
    let mac_address = options.mac_address.clone().unwrap_or_default();
    if !mac_address.is_empty() && !valid_mac(&mac_address) {
        return Err(RequestError::invalid(format!(
            "{mac_address} is not a valid mac address"
        )));
    }
    let config = ContainerConfig {
        mac_address,
        hostname: options.hostname.clone().unwrap_or_default(),
        domainname: options.domainname.clone().unwrap_or_default(),
        user: options.user.clone().unwrap_or_default(),
        attach_stdin,
        attach_stdout,
        attach_stderr,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: options.tty,
        open_stdin: options.interactive,
        stdin_once,
        env: (!env.is_empty()).then_some(env),
        cmd: (!options.command().is_empty()).then(|| StrSlice(options.command().to_vec())),
        image: options.image().to_owned(),
        volumes: (!volumes.is_empty()).then_some(volumes),
        working_dir: options.workdir.clone().unwrap_or_default(),
        // `--entrypoint ""` resets the image's entrypoint: Docker sends [""] for it.
        entrypoint: options.entrypoint.as_ref().map(|e| StrSlice(vec![e.clone()])),
        labels: Some(labels),
        stop_signal: options.stop_signal.clone().unwrap_or_default(),
        stop_timeout: options.stop_timeout,
        healthcheck: healthcheck(options)?,
        ..ContainerConfig::default()
    };
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        container_id_file: options
            .cidfile
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        log_config: LogConfig {
            r#type: options.log_driver.clone().unwrap_or_default(),
            config: log_options,
        },
        network_mode: options.network.clone().unwrap_or_else(|| "default".to_owned()),
        port_bindings: Some(port_bindings),
        restart_policy,
        auto_remove: options.rm,
        volumes_from: (!options.volumes_from.is_empty()).then(|| options.volumes_from.clone()),
        cap_add: (!options.cap_add.is_empty()).then(|| options.cap_add.clone()),
        cap_drop: (!options.cap_drop.is_empty()).then(|| options.cap_drop.clone()),
        dns: some_list(&options.dns),
        dns_options: some_list(&options.dns_option),
        dns_search: some_list(&options.dns_search),
        extra_hosts: (!options.add_host.is_empty()).then(|| options.add_host.clone()),
        group_add: (!options.group_add.is_empty()).then(|| options.group_add.clone()),
        ipc_mode: options.ipc.clone().unwrap_or_default(),
        links: (!options.link.is_empty()).then(|| options.link.clone()),
        pid_mode: options.pid.clone().unwrap_or_default(),
        privileged: options.privileged,
        publish_all_ports: options.publish_all,
        readonly_rootfs: options.read_only,
        security_opt: (!options.security_opt.is_empty()).then(|| options.security_opt.clone()),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        uts_mode: options.uts.clone().unwrap_or_default(),
        shm_size,
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        cpu_shares: options.cpu_shares.unwrap_or(0),
        memory,
        nano_cpus,
        cgroup_parent: options.cgroup_parent.clone().unwrap_or_default(),
        cpu_period: options.cpu_period.unwrap_or(0),
        cpu_quota: options.cpu_quota.unwrap_or(0),
        cpuset_cpus: options.cpuset_cpus.clone().unwrap_or_default(),
        memory_reservation,
        memory_swap,
        oom_kill_disable: options.oom_kill_disable,
        pids_limit: options.pids_limit,
        ulimits: (!ulimits.is_empty()).then_some(ulimits),
        mounts: (!mounts.is_empty()).then_some(mounts),
        init: options.init.then_some(true),
        ..HostConfig::default()
    };
    let networking_config = endpoint_settings(options).map(|(network, settings)| NetworkingConfig {
        endpoints_config: Some(BTreeMap::from([(network, settings)])),
    });
    Ok(ContainerCreateRequest {
        config,
        host_config,
        networking_config,
    })
}

/// Which streams `-a` names.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct AttachStreams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

fn attach_streams(values: &[String]) -> Result<AttachStreams, RequestError> {
    let mut streams = AttachStreams::default();
    for value in values {
        match value.to_lowercase().as_str() {
            "stdin" => streams.stdin = true,
            "stdout" => streams.stdout = true,
            "stderr" => streams.stderr = true,
            _ => {
                return Err(RequestError::flag(
                    "-a, --attach",
                    value,
                    "valid streams are STDIN, STDOUT and STDERR",
                ));
            }
        }
    }
    Ok(streams)
}

/// Go's `net.ParseMAC` for the 6-byte forms docker/cli's `ValidateMACAddress` sees in practice
/// (`:` or `-` between two hex digits each).
fn valid_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `--network-alias`, `--ip` and `--ip6` go to the endpoint of the network the container joins.
fn endpoint_settings(options: &ContainerOptions) -> Option<(String, EndpointSettings)> {
    if options.network_alias.is_empty() && options.ip.is_none() && options.ip6.is_none() {
        return None;
    }
    let network = options.network.clone().unwrap_or_else(|| "default".to_owned());
    Some((
        network,
        EndpointSettings {
            aliases: (!options.network_alias.is_empty()).then(|| options.network_alias.clone()),
            ipam_config: (options.ip.is_some() || options.ip6.is_some()).then(|| EndpointIpamConfig {
                ipv4_address: options.ip.clone().unwrap_or_default(),
                ipv6_address: options.ip6.clone().unwrap_or_default(),
            }),
            ..EndpointSettings::default()
        },
    ))
}

/// A size flag (`-m 512m`) in bytes; 0 when not given.
pub(super) fn parse_bytes(flag: &'static str, value: Option<&str>) -> Result<i64, RequestError> {
    match value {
        None => Ok(0),
        Some(text) => ram_in_bytes(text)
            .ok_or_else(|| RequestError::flag(flag, text, format!("invalid size: '{text}'"))),
    }
}

/// go-units `RAMInBytes`: `512m`, `1.5g`, `100kb`, `2GiB` … in powers of 1024.
pub fn ram_in_bytes(text: &str) -> Option<i64> {
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') || number.contains("..") {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let suffix = suffix.strip_prefix(' ').unwrap_or(suffix).to_lowercase();
    let mut rest = suffix.as_str();
    let mut multiplier = 1.0_f64;
    if let Some(unit) = rest.chars().next().filter(|c| "kmgtp".contains(*c)) {
        let power = "kmgtp".find(unit).expect("unit is one of kmgtp") as i32 + 1;
        multiplier = 1024_f64.powi(power);
        rest = &rest[1..];
    }
    let rest = rest.strip_prefix('i').unwrap_or(rest);
    let rest = rest.strip_prefix('b').unwrap_or(rest);
    if !rest.is_empty() {
        return None;
    }
    Some((number * multiplier) as i64)
}

/// `--cpus 1.5` → 1500000000 nano CPUs, with Docker's errors.
pub(super) fn parse_nano_cpus(text: &str) -> Result<i64, String> {
    let not_rational = || format!("failed to parse {text} as a rational number");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let negative = whole.starts_with('-');
    let whole_digits = whole.trim_start_matches(['-', '+']);
    if (whole_digits.is_empty() && fraction.is_empty())
        || !whole_digits.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(not_rational());
    }
    if fraction.trim_end_matches('0').len() > 9 {
        return Err("value is too precise".to_owned());
    }
    let mut nanos: i64 = if whole_digits.is_empty() {
        0
    } else {
        whole_digits.parse::<i64>().map_err(|_| not_rational())?
    };
    nanos = nanos.checked_mul(1_000_000_000).ok_or_else(not_rational)?;
    let fraction = format!("{:0<9}", fraction.trim_end_matches('0'));
    nanos += fraction[..9].parse::<i64>().unwrap_or(0);
    Ok(if negative { -nanos } else { nanos })
}

/// go-connections `ParsePortRange`: `80` or `8000-8010`.
fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    if text.is_empty() {
        return None;
    }
    match text.split_once('-') {
        None => {
            let port = text.parse().ok()?;
            Some((port, port))
        }
        Some((start, end)) => {
            let (start, end): (u16, u16) = (start.parse().ok()?, end.parse().ok()?);
            (end >= start).then_some((start, end))
        }
    }
}

/// go-connections `SplitProtoPort`: `80/udp` → ("udp", "80"); no protocol means tcp.
fn split_proto_port(text: &str) -> (String, String) {
    let parts: Vec<&str> = text.split('/').collect();
    if text.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].into());
    }
    (parts[1].into(), parts[0].into())
}

/// `-p [ip:][hostPort:]containerPort[/proto]` (ranges allowed) → exposed ports and bindings.
pub fn parse_publish(specs: &[String]) -> Result<(EmptyObjectSet, PortMap), RequestError> {
    let mut exposed = EmptyObjectSet::new();
    let mut bindings = PortMap::new();
    for spec in specs {
        for (port, binding) in parse_port_spec(spec)? {
            exposed.entry(port.clone()).or_insert(EmptyObject {});
            bindings
                .entry(port)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding);
        }
    }
    Ok((exposed, bindings))
}

fn parse_port_spec(spec: &str) -> Result<Vec<(String, PortBinding)>, RequestError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let container_part = parts[parts.len() - 1];
    let (raw_ip, host_port) = match parts.len() {
        1 => ("".to_owned(), ""),
        2 => ("".to_owned(), parts[0]),
        n => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (proto, container_port) = split_proto_port(container_part);
    let ip = raw_ip.trim_start_matches('[').trim_end_matches(']').to_owned();
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(RequestError::invalid(format!("Invalid ip address: {ip}")));
    }
    if container_port.is_empty() {
        return Err(RequestError::invalid(format!("No port specified: {spec}<empty>")));
    }
    let (start, end) = parse_port_range(&container_port)
        .ok_or_else(|| RequestError::invalid(format!("Invalid containerPort: {container_port}")))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host_port)
            .ok_or_else(|| RequestError::invalid(format!("Invalid hostPort: {host_port}")))?
    };
    if !host_port.is_empty() && end - start != host_end - host_start && end != start {
        return Err(RequestError::invalid(format!(
            "Invalid ranges specified for container and host Ports: {container_port} and {host_port}"
        )));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(RequestError::invalid(format!("Invalid proto: {proto}")));
    }
    let mut mappings = Vec::new();
    for i in 0..=(end - start) {
        let mut host = if host_port.is_empty() {
            String::new()
        } else {
            (host_start + i).to_string()
        };
        // One container port and a host range: the range is where the daemon picks from.
        if start == end && host_start != host_end {
            host = format!("{host_start}-{host_end}");
        }
        mappings.push((
            format!("{}/{proto}", start + i),
            PortBinding {
                host_ip: ip.clone(),
                host_port: host,
            },
        ));
    }
    Ok(mappings)
}

/// `--expose 80`, `--expose 8000-8010/udp`.
fn parse_expose(spec: &str) -> Result<Vec<String>, RequestError> {
    if spec.contains(':') {
        return Err(RequestError::invalid(format!(
            "invalid port format for --expose: {spec}"
        )));
    }
    let (proto, port) = split_proto_port(spec);
    let (start, end) = parse_port_range(&port).ok_or_else(|| {
        RequestError::invalid(format!(
            "invalid range format for --expose: {spec}, error: invalid start port '{port}'"
        ))
    })?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `-v`: a bind or named volume (`src:dst[:mode]`) goes to `Binds`, with `./x` made absolute;
/// a bare container path is an anonymous volume (`None`: it goes to `Config.Volumes`).
fn volume_bind(spec: &str) -> Result<Option<String>, RequestError> {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [_] => Ok(None),
        [source, rest @ ..] if rest.len() <= 2 => {
            if source.is_empty() {
                return Err(RequestError::invalid(format!(
                    "invalid spec: {spec}: empty section between colons"
                )));
            }
            let source = if *source == "." || source.starts_with("./") {
                std::path::absolute(source)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| (*source).to_owned())
            } else {
                (*source).to_owned()
            };
            Ok(Some(format!("{source}:{}", rest.join(":"))))
        }
        // Too many colons: Docker's CLI passes it on, and the daemon names it
        // ("invalid volume specification: 'a:b:c:d'").
        _ => Ok(Some(spec.to_owned())),
    }
}

/// `--mount type=bind,source=/a,target=/b,readonly` (docker/cli `MountOpt`).
pub fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut mount = Mount {
        r#type: "volume".into(),
        ..Mount::default()
    };
    let parse_bool = |key: &str, v: &str| match v.to_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(format!("invalid value for {key}: {v}")),
    };
    for field in csv_fields(value) {
        let (key, field_value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v)),
            None => (field.to_lowercase(), None),
        };
        let Some(field_value) = field_value else {
            match key.as_str() {
                "readonly" | "ro" => mount.read_only = true,
                "volume-nocopy" => mount.volume_options.get_or_insert_with(Default::default).no_copy = true,
                "bind-nonrecursive" => {
                    mount
                        .bind_options
                        .get_or_insert_with(Default::default)
                        .non_recursive = true;
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        match key.as_str() {
            "type" => mount.r#type = field_value.to_lowercase(),
            "source" | "src" => {
                mount.source = if field_value == "." || field_value.starts_with("./") {
                    std::path::absolute(field_value)
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| field_value.to_owned())
                } else {
                    field_value.to_owned()
                };
            }
            "target" | "dst" | "destination" => mount.target = field_value.to_owned(),
            "readonly" | "ro" => mount.read_only = parse_bool(&key, field_value)?,
            "consistency" => mount.consistency = field_value.to_lowercase(),
            "bind-propagation" => {
                mount
                    .bind_options
                    .get_or_insert_with(BindOptions::default)
                    .propagation = field_value.to_lowercase();
            }
            "bind-nonrecursive" => {
                mount
                    .bind_options
                    .get_or_insert_with(BindOptions::default)
                    .non_recursive = parse_bool(&key, field_value)?;
            }
            "volume-nocopy" => {
                mount
                    .volume_options
                    .get_or_insert_with(VolumeOptions::default)
                    .no_copy = parse_bool(&key, field_value)
                    .map_err(|_| format!("invalid value for volume-nocopy: {field_value}"))?;
            }
            "volume-label" => {
                let (k, v) = split_key_value(field_value);
                let options = mount.volume_options.get_or_insert_with(VolumeOptions::default);
                options.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
            "volume-driver" => {
                let options = mount.volume_options.get_or_insert_with(VolumeOptions::default);
                options
                    .driver_config
                    .get_or_insert_with(DriverConfig::default)
                    .name = field_value.to_owned();
            }
            "volume-opt" => {
                let (k, v) = split_key_value(field_value);
                let options = mount.volume_options.get_or_insert_with(VolumeOptions::default);
                let driver = options.driver_config.get_or_insert_with(DriverConfig::default);
                driver.options.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
            "tmpfs-size" => {
                mount
                    .tmpfs_options
                    .get_or_insert_with(TmpfsOptions::default)
                    .size_bytes = ram_in_bytes(field_value)
                    .ok_or_else(|| format!("invalid value for {key}: {field_value}"))?;
            }
            "tmpfs-mode" => {
                mount.tmpfs_options.get_or_insert_with(TmpfsOptions::default).mode =
                    u32::from_str_radix(field_value, 8)
                        .map_err(|_| format!("invalid value for {key}: {field_value}"))?;
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if mount.target.is_empty() {
        return Err("target is required".into());
    }
    for (present, prefix, kind) in [
        (mount.volume_options.is_some(), "volume", "volume"),
        (mount.bind_options.is_some(), "bind", "bind"),
        (mount.tmpfs_options.is_some(), "tmpfs", "tmpfs"),
    ] {
        if present && mount.r#type != kind {
            return Err(format!(
                "cannot mix '{prefix}-*' options with mount type '{}'",
                mount.r#type
            ));
        }
    }
    Ok(mount)
}

/// The fields of one CSV record (Go's `encoding/csv`): commas split, double quotes group.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `k=v` → (k, v); a bare `k` → (k, "").
fn split_key_value(text: &str) -> (String, String) {
    match text.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (text.to_owned(), String::new()),
    }
}

/// docker/cli `ValidateEnv`: `NAME` alone takes the client's value when it has one.
pub fn validate_env(variable: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, RequestError> {
    let (name, value) = match variable.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (variable, None),
    };
    if name.is_empty() {
        return Err(RequestError::flag(
            "-e, --env",
            variable,
            format!("invalid environment variable: {variable}"),
        ));
    }
    Ok(match (value, lookup(name)) {
        (Some(_), _) => variable.to_owned(),
        (None, Some(found)) => format!("{name}={found}"),
        (None, None) => variable.to_owned(),
    })
}

/// An `--env-file`: Docker's key=value file, bare names taken from the client's environment.
fn read_env_file(path: &Path, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, RequestError> {
    read_key_value_file(path, lookup)
}

/// docker/cli `parseKeyValueFile`: skip blank and `#` lines; `k=v` as is; a bare `k` only when
/// `lookup` knows it.
fn read_key_value_file(
    path: &Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, RequestError> {
    let bytes = std::fs::read(path).map_err(|e| RequestError::invalid(go_open_error(path, &e)))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        RequestError::invalid(format!("env file {} contains invalid utf8 bytes", path.display()))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (variable, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim_start(), Some(v)),
            None => (line, None),
        };
        if variable.contains([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']) {
            return Err(RequestError::invalid(format!(
                "poorly formatted environment: variable '{variable}' contains whitespaces"
            )));
        }
        if variable.is_empty() {
            return Err(RequestError::invalid(format!(
                "poorly formatted environment: no variable name on line '{line}'"
            )));
        }
        match value {
            Some(value) => lines.push(format!("{variable}={value}")),
            None => {
                if let Some(found) = lookup(line.trim()) {
                    lines.push(format!("{}={found}", line.trim()));
                }
            }
        }
    }
    Ok(lines)
}

/// Go's `open NAME: no such file or directory`.
fn go_open_error(path: &Path, error: &std::io::Error) -> String {
    let reason = match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string().to_lowercase(),
    };
    format!("open {}: {reason}", path.display())
}

/// docker/cli's `--health-*` and `--no-healthcheck`: nothing given leaves the image's check.
fn healthcheck(options: &ContainerOptions) -> Result<Option<HealthConfig>, RequestError> {
    let duration = |flag: &'static str, value: &Option<String>| -> Result<i64, RequestError> {
        match value {
            None => Ok(0),
            Some(text) => super::timestamp::parse_go_duration(text)
                .ok_or_else(|| RequestError::flag(flag, text, format!("time: invalid duration {text:?}"))),
        }
    };
    let interval = duration("--health-interval", &options.health_interval)?;
    let timeout = duration("--health-timeout", &options.health_timeout)?;
    let start_period = duration("--health-start-period", &options.health_start_period)?;
    let retries = options.health_retries.unwrap_or(0);
    let given = options.health_cmd.as_deref().is_some_and(|c| !c.is_empty())
        || interval != 0
        || timeout != 0
        || start_period != 0
        || retries != 0;
    if options.no_healthcheck {
        if given {
            return Err(RequestError::invalid(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..HealthConfig::default()
        }));
    }
    if !given {
        return Ok(None);
    }
    for (flag, value) in [
        ("--health-interval", interval),
        ("--health-timeout", timeout),
        ("--health-retries", retries),
        ("--health-start-period", start_period),
    ] {
        if value < 0 {
            return Err(RequestError::invalid(format!("{flag} cannot be negative")));
        }
    }
    Ok(Some(HealthConfig {
        test: options
            .health_cmd
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|cmd| vec!["CMD-SHELL".into(), cmd.clone()]),
        interval,
        timeout,
        start_period,
        retries,
    }))
}

/// docker/cli `ParseRestartPolicy`; the daemon checks the name.
pub(super) fn parse_restart_policy(policy: &str) -> Result<RestartPolicy, RequestError> {
    let mut result = RestartPolicy::default();
    if policy.is_empty() {
        return Ok(result);
    }
    let parts: Vec<&str> = policy.split(':').collect();
    if parts.len() > 2 {
        return Err(RequestError::invalid("invalid restart policy format"));
    }
    if let [_, count] = parts.as_slice() {
        result.maximum_retry_count = count
            .parse()
            .map_err(|_| RequestError::invalid("maximum retry count must be an integer"))?;
    }
    result.name = parts[0].to_owned();
    Ok(result)
}

/// go-units `ParseUlimit`: `nofile=1024[:2048]`.
/// A `--ulimit` (`nofile=1024:2048`), with docker/cli's messages.
pub fn parse_ulimit(text: &str) -> Result<Ulimit, String> {
    let (name, limits) = text
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {text}"))?;
    const KNOWN: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    if !KNOWN.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let (soft, hard) = match limits.split_once(':') {
        Some((soft, hard)) => (soft, hard),
        None => (limits, limits),
    };
    let number = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {text}"))
    };
    let (soft, hard) = (number(soft)?, number(hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_owned(),
        soft,
        hard,
    })
}

/// `--cidfile`: refuse an existing file, as Docker does, before anything is created.
pub fn check_cidfile(path: Option<&PathBuf>) -> Result<(), RequestError> {
    match path {
        Some(path) if path.exists() => Err(RequestError::invalid(format!(
            "Container ID file found, make sure the other container isn't running or delete {}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Parse `berth run ARGS` and build its request.
    fn run(args: &[&str]) -> Result<ContainerCreateRequest, RequestError> {
        #[derive(Parser)]
        #[command(disable_help_flag = true)]
        struct Wrapper {
            #[command(flatten)]
            options: ContainerOptions,
            #[arg(short = 'd')]
            detach: bool,
        }
        let mut argv = vec!["run"];
        argv.extend_from_slice(args);
        let parsed = Wrapper::try_parse_from(argv).expect("flags parse");
        build(&parsed.options, parsed.detach)
    }

    #[test]
    fn options_after_the_image_belong_to_the_command() {
        let request = run(&["-e", "A=1", "busybox", "sh", "-c", "echo -n hi", "-d"]).unwrap();
        assert_eq!(request.config.image, "busybox");
        assert_eq!(
            request.config.cmd,
            Some(StrSlice(vec![
                "sh".into(),
                "-c".into(),
                "echo -n hi".into(),
                "-d".into()
            ]))
        );
        assert_eq!(request.config.env, Some(vec!["A=1".into()]));
        assert!(request.config.attach_stdout && request.config.attach_stderr);
        assert!(!request.config.attach_stdin && !request.config.open_stdin);
        assert_eq!(request.host_config.network_mode, "default");
    }

    #[test]
    fn interactive_attaches_stdin_once_and_detach_attaches_nothing() {
        let request = run(&["-i", "-t", "busybox"]).unwrap();
        assert!(request.config.attach_stdin && request.config.open_stdin && request.config.stdin_once);
        assert!(request.config.tty);
        assert_eq!(request.config.cmd, None);
        let detached = run(&["-d", "-i", "busybox"]).unwrap();
        assert!(detached.config.open_stdin);
        assert!(
            !detached.config.attach_stdin && !detached.config.attach_stdout && !detached.config.stdin_once
        );
    }

    #[test]
    fn resources_parse_as_docker_does() {
        let request = run(&[
            "-m",
            "512m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "64",
            "--memory-swap",
            "-1",
            "busybox",
        ])
        .unwrap();
        assert_eq!(request.host_config.memory, 512 * 1024 * 1024);
        assert_eq!(request.host_config.nano_cpus, 1_500_000_000);
        assert_eq!(request.host_config.pids_limit, Some(64));
        assert_eq!(request.host_config.memory_swap, -1);
        assert_eq!(
            run(&["--memory", "abc", "busybox"]).unwrap_err().to_string(),
            "invalid argument \"abc\" for \"-m, --memory\" flag: invalid size: 'abc'"
        );
        assert_eq!(
            run(&["--cpus", "abc", "busybox"]).unwrap_err().to_string(),
            "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number"
        );
        assert_eq!(ram_in_bytes("1.5g"), Some(1_610_612_736));
        assert_eq!(ram_in_bytes("100kb"), Some(102_400));
        assert_eq!(ram_in_bytes("2GiB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(ram_in_bytes("42"), Some(42));
        assert_eq!(ram_in_bytes("1x"), None);
        assert_eq!(parse_nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(
            parse_nano_cpus("0.0000000001"),
            Err("value is too precise".into())
        );
    }

    #[test]
    fn restart_policies_and_their_conflicts() {
        let request = run(&["--restart", "on-failure:3", "busybox"]).unwrap();
        assert_eq!(request.host_config.restart_policy.name, "on-failure");
        assert_eq!(request.host_config.restart_policy.maximum_retry_count, 3);
        assert_eq!(
            run(&["--rm", "--restart=always", "busybox"])
                .unwrap_err()
                .to_string(),
            "Conflicting options: --restart and --rm"
        );
        assert_eq!(
            run(&["--restart", "on-failure:x", "busybox"])
                .unwrap_err()
                .to_string(),
            "maximum retry count must be an integer"
        );
        assert!(
            run(&["--rm", "--restart=no", "busybox"])
                .unwrap()
                .host_config
                .auto_remove
        );
    }

    #[test]
    fn ports_publish_and_expose() {
        let request = run(&[
            "-p",
            "8080:80",
            "-p",
            "127.0.0.1::53/udp",
            "--expose",
            "9000-9001",
            "-P",
            "httpd:2.4",
        ])
        .unwrap();
        let exposed: Vec<&String> = request.config.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(exposed, ["53/udp", "80/tcp", "9000/tcp", "9001/tcp"]);
        let bindings = request.host_config.port_bindings.unwrap();
        assert_eq!(
            bindings["80/tcp"],
            Some(vec![PortBinding {
                host_ip: "".into(),
                host_port: "8080".into()
            }])
        );
        assert_eq!(
            bindings["53/udp"],
            Some(vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: "".into()
            }])
        );
        assert!(request.host_config.publish_all_ports);
        assert_eq!(
            run(&["-p", "99999:80", "busybox"]).unwrap_err().to_string(),
            "Invalid hostPort: 99999"
        );
        assert_eq!(
            run(&["-p", "80/xyz", "busybox"]).unwrap_err().to_string(),
            "Invalid proto: xyz"
        );
        let ranged = parse_publish(&["8000-8001:80-81".into()]).unwrap().1;
        assert_eq!(ranged["81/tcp"].as_ref().unwrap()[0].host_port, "8001");
    }

    #[test]
    fn volumes_binds_and_mounts() {
        let request = run(&[
            "-v",
            "/data",
            "-v",
            "web:/srv:ro",
            "--mount",
            "type=bind,source=/tmp,target=/host,readonly",
            "--mount",
            "type=tmpfs,dst=/scratch,tmpfs-size=64m",
            "busybox",
        ])
        .unwrap();
        assert_eq!(
            request.config.volumes.unwrap().keys().collect::<Vec<_>>(),
            ["/data"]
        );
        assert_eq!(request.host_config.binds, Some(vec!["web:/srv:ro".into()]));
        let mounts = request.host_config.mounts.unwrap();
        assert_eq!(mounts[0].r#type, "bind");
        assert_eq!(mounts[0].source, "/tmp");
        assert_eq!(mounts[0].target, "/host");
        assert!(mounts[0].read_only);
        assert_eq!(
            mounts[1].tmpfs_options.as_ref().unwrap().size_bytes,
            64 * 1024 * 1024
        );
        assert_eq!(
            parse_mount("type=bind,source=/a").unwrap_err(),
            "target is required"
        );
        assert_eq!(
            parse_mount("type=volume,target=/a,bind-propagation=shared").unwrap_err(),
            "cannot mix 'bind-*' options with mount type 'volume'"
        );
        assert_eq!(
            parse_mount("target=/a,bogus").unwrap_err(),
            "invalid field 'bogus' must be a key=value pair"
        );
        let relative = run(&["-v", "./here:/x", "busybox"]).unwrap();
        assert!(relative.host_config.binds.unwrap()[0].starts_with('/'));
    }

    #[test]
    fn env_files_then_env_flags() {
        let dir = std::env::temp_dir().join(format!("berth-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("env");
        std::fs::write(
            &file,
            "# comment\n\n  A=1\nB= spaced \nBERTH_TEST_UNSET_VARIABLE\n",
        )
        .unwrap();
        let lines = read_env_file(&file, |_| None).unwrap();
        assert_eq!(lines, ["A=1", "B= spaced "]);
        let looked_up = read_env_file(&file, |name| {
            (name == "BERTH_TEST_UNSET_VARIABLE").then(|| "x".into())
        });
        assert_eq!(looked_up.unwrap()[2], "BERTH_TEST_UNSET_VARIABLE=x");
        std::fs::write(&file, "BAD KEY=1\n").unwrap();
        assert_eq!(
            read_env_file(&file, |_| None).unwrap_err().to_string(),
            "poorly formatted environment: variable 'BAD KEY' contains whitespaces"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            run(&["--env-file", "/nonexistent/env", "busybox"])
                .unwrap_err()
                .to_string(),
            "open /nonexistent/env: no such file or directory"
        );
        assert_eq!(validate_env("X", |_| Some("7".into())).unwrap(), "X=7");
        assert_eq!(validate_env("X", |_| None).unwrap(), "X");
    }

    #[test]
    fn labels_user_workdir_entrypoint_and_init() {
        let request = run(&[
            "-l",
            "a=1",
            "--label",
            "flag",
            "-u",
            "1000:1000",
            "-w",
            "/srv",
            "--entrypoint",
            "",
            "-h",
            "box",
            "--init",
            "--name",
            "web",
            "busybox",
        ])
        .unwrap();
        let labels = request.config.labels.unwrap();
        assert_eq!(labels["a"], "1");
        assert_eq!(labels["flag"], "");
        assert_eq!(request.config.user, "1000:1000");
        assert_eq!(request.config.working_dir, "/srv");
        assert_eq!(request.config.entrypoint, Some(StrSlice(vec!["".into()])));
        assert_eq!(request.config.hostname, "box");
        assert_eq!(request.host_config.init, Some(true));
        assert_eq!(run(&["busybox"]).unwrap().host_config.init, None);
    }

    #[test]
    fn an_unknown_flag_is_not_an_image() {
        assert_eq!(
            run(&["--foo", "busybox"]).unwrap_err().to_string(),
            "unknown flag: --foo"
        );
        assert_eq!(
            run(&["-x", "busybox"]).unwrap_err().to_string(),
            "unknown shorthand flag: 'x' in -x"
        );
    }

    #[test]
    fn attach_streams_are_checked() {
        let request = run(&["-a", "stdout", "busybox"]).unwrap();
        assert!(request.config.attach_stdout && !request.config.attach_stderr);
        assert_eq!(
            run(&["-a", "bogus", "busybox"]).unwrap_err().to_string(),
            "invalid argument \"bogus\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
        );
    }
}
