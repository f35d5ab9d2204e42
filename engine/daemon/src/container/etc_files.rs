//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` of a container: files berthd writes in the
//! container's directory and binds over the image's.

use std::path::Path;

/// The hosts file every container starts with (Docker's), plus its own address when it has one.
pub fn hosts(hostname: &str, addresses: &[String], extra: &[String]) -> String {
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for line in extra {
        hosts.push_str(line);
        hosts.push('\n');
    }
    // The main network's addresses, IPv4 then IPv6, as Docker writes them.
    for address in addresses {
        hosts.push_str(&format!("{address}\t{hostname}\n"));
    }
    hosts
}

/// The host's resolv.conf with loopback name servers dropped (they mean nothing inside a
/// container's network namespace); Google's public servers when none is left, as Docker does.
pub fn resolv_conf(host_resolv: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host_resolv.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let server = words.next().unwrap_or_default();
            if server.starts_with("127.") || server == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// Make the init layer all containers share, once: filled in a temporary directory and renamed
/// into place, so a crash never leaves a half-made one.
pub fn ensure_init_layer(dir: &Path, tmp: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let staging = tmp.join(format!("init-layer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let made = write_init_layer(&staging).and_then(|()| std::fs::rename(&staging, dir));
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    made
}

/// Fill the init layer with the mount points every container needs, as Docker's init layer has.
fn write_init_layer(dir: &Path) -> std::io::Result<()> {
    for sub in ["dev/pts", "dev/shm", "etc", "proc", "sys"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for file in [
        "etc/hostname",
        "etc/hosts",
        "etc/resolv.conf",
        "dev/console",
        ".dockerenv",
    ] {
        std::fs::write(dir.join(file), b"")?;
    }
    std::os::unix::fs::symlink("/proc/mounts", dir.join("etc/mtab"))
}

/// Write the three files for a new container.
pub fn write_all(paths: &super::ContainerPaths, hostname: &str, domainname: &str) -> std::io::Result<()> {
    let full = if domainname.is_empty() {
        hostname.to_owned()
    } else {
        format!("{hostname}.{domainname}")
    };
    std::fs::write(paths.hostname(), format!("{full}\n"))?;
    std::fs::write(paths.hosts(), hosts(hostname, &[], &[]))?;
    let host_resolv = std::fs::read_to_string(Path::new("/etc/resolv.conf")).unwrap_or_default();
    std::fs::write(paths.resolv_conf(), resolv_conf(&host_resolv))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_are_dropped() {
        let out = resolv_conf("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n");
        assert_eq!(out, "search lan\nnameserver 10.0.0.1\n");
        let only_local = resolv_conf("nameserver 127.0.0.53\noptions edns0\n");
        assert!(only_local.contains("nameserver 8.8.8.8") && only_local.contains("options edns0"));
    }

    #[test]
    fn hosts_end_with_the_containers_own_name() {
        let out = hosts("abc123", &["10.66.0.2".into()], &[]);
        assert!(out.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(out.ends_with("10.66.0.2\tabc123\n"));
        let dual = hosts("abc123", &["10.66.0.2".into(), "fd42:1::2".into()], &[]);
        assert!(dual.ends_with("10.66.0.2\tabc123\nfd42:1::2\tabc123\n"), "{dual}");
    }
}
