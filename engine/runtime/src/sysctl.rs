//! Which sysctls a container may set: only those its own namespaces hold (runc's checks and
//! words), so a container never writes the host's kernel settings. Checked at create, before
//! anything is made.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use oci_spec::runtime::LinuxNamespaceType;

use crate::namespaces::Plan;

/// The IPC namespace's sysctls besides `fs.mqueue.*`.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Why a sysctl is refused (runc's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysctlError {
    #[error("sysctl {0:?} is not allowed in the hosts ipc namespace")]
    HostIpc(String),
    #[error("sysctl {0:?} not allowed in host network namespace")]
    HostNetwork(String),
    #[error("sysctl {0:?} is not allowed as it conflicts with the OCI \"hostname\" field")]
    Hostname(String),
    #[error("sysctl {0:?} is not in a separate kernel namespace")]
    NotNamespaced(String),
}

/// `net/ipv4/conf/eth0.100/rp_filter` → `net.ipv4.conf.eth0/100.rp_filter` (sysctl(8) accepts
/// `/` as the separator; runc compares in the dotted form).
fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes().get(i) == Some(&b'/') => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                other => other,
            })
            .collect(),
        _ => key.to_owned(),
    }
}

/// Whether the network namespace the container joins is the host's (the one the runtime runs in).
fn joins_host_network(plan: &Plan) -> bool {
    let inode = |path: &std::path::Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let host = inode(std::path::Path::new("/proc/self/ns/net"));
    plan.join
        .iter()
        .filter(|ns| ns.typ == LinuxNamespaceType::Network)
        .any(|ns| host.is_some() && inode(&ns.path) == host)
}

/// Check every sysctl of the spec against the container's namespaces.
pub fn validate(sysctls: &HashMap<String, String>, plan: &Plan) -> Result<(), SysctlError> {
    let host_network = !plan.has(LinuxNamespaceType::Network) || joins_host_network(plan);
    // Sorted, so the same spec always names the same culprit.
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        let name = dotted(key);
        if IPC_SYSCTLS.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
            if !plan.has(LinuxNamespaceType::Ipc) {
                return Err(SysctlError::HostIpc(name));
            }
            continue;
        }
        if name.starts_with("net.") {
            if host_network {
                return Err(SysctlError::HostNetwork(name));
            }
            continue;
        }
        if plan.has(LinuxNamespaceType::Uts) {
            match name.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => return Err(SysctlError::Hostname(name)),
                _ => {}
            }
        }
        return Err(SysctlError::NotNamespaced(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(new: &[LinuxNamespaceType]) -> Plan {
        Plan {
            new: new.to_vec(),
            join: Vec::new(),
        }
    }

    fn check(key: &str, namespaces: &[LinuxNamespaceType]) -> Result<(), SysctlError> {
        validate(
            &HashMap::from([(key.to_owned(), "1".to_owned())]),
            &plan(namespaces),
        )
    }

    #[test]
    fn only_what_the_containers_namespaces_hold() {
        use LinuxNamespaceType::{Ipc, Network, Uts};
        let all = [Ipc, Network, Uts];
        for ok in [
            "kernel.msgmax",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "kernel.domainname",
        ] {
            assert_eq!(check(ok, &all), Ok(()), "{ok}");
        }
        assert_eq!(check("net/ipv4/ip_forward", &all), Ok(()));
        assert_eq!(
            check("kernel.msgmax", &[Network, Uts]).unwrap_err().to_string(),
            "sysctl \"kernel.msgmax\" is not allowed in the hosts ipc namespace"
        );
        assert_eq!(
            check("net.ipv4.ip_forward", &[Ipc, Uts]).unwrap_err().to_string(),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert_eq!(
            check("vm.swappiness", &all).unwrap_err().to_string(),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace"
        );
        assert_eq!(
            check("kernel.domainname", &[Ipc, Network]),
            Err(SysctlError::NotNamespaced("kernel.domainname".into()))
        );
        assert_eq!(
            check("kernel.hostname", &all),
            Err(SysctlError::Hostname("kernel.hostname".into()))
        );
        // A key that names a file outside /proc/sys never passes.
        assert!(check("/etc/passwd", &all).is_err());
    }
}
