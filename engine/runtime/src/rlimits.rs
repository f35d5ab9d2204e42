//! Resource limits, never above the host's hard limit.
//!
//! Docker asks for `RLIMIT_NOFILE` 1048576 by default; on a host whose hard limit is lower (this
//! one's is 20000) the request is clamped to what the runtime itself was given, so the container
//! starts rather than failing on EPERM.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// Errors while setting limits.
#[derive(Debug, thiserror::Error)]
pub enum RlimitError {
    /// cannot set a resource limit
    #[error("cannot set {name} to soft {soft}, hard {hard}: {source}")]
    Set {
        /// The limit's name.
        name: &'static str,
        /// Soft value.
        soft: u64,
        /// Hard value.
        hard: u64,
        /// What failed.
        source: nix::Error,
    },
}

/// The kernel's resource number and name of a spec limit.
pub fn resource(typ: PosixRlimitType) -> (libc::__rlimit_resource_t, &'static str) {
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => (libc::RLIMIT_CPU, "RLIMIT_CPU"),
        RlimitFsize => (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        RlimitData => (libc::RLIMIT_DATA, "RLIMIT_DATA"),
        RlimitStack => (libc::RLIMIT_STACK, "RLIMIT_STACK"),
        RlimitCore => (libc::RLIMIT_CORE, "RLIMIT_CORE"),
        RlimitRss => (libc::RLIMIT_RSS, "RLIMIT_RSS"),
        RlimitNproc => (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
        RlimitNofile => (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        RlimitMemlock => (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        RlimitAs => (libc::RLIMIT_AS, "RLIMIT_AS"),
        RlimitLocks => (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        RlimitSigpending => (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        RlimitMsgqueue => (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        RlimitNice => (libc::RLIMIT_NICE, "RLIMIT_NICE"),
        RlimitRtprio => (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        RlimitRttime => (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    }
}

/// Clamp a request to a hard ceiling: `(soft, hard)`.
pub fn clamp(soft: u64, hard: u64, ceiling: u64) -> (u64, u64) {
    let hard = hard.min(ceiling);
    (soft.min(hard), hard)
}

fn get(resource: libc::__rlimit_resource_t) -> libc::rlimit {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid rlimit for the kernel to fill.
    unsafe { libc::getrlimit(resource, &mut current) };
    current
}

/// Apply the spec's limits to this process.
pub fn apply(limits: &[PosixRlimit]) -> Result<(), RlimitError> {
    for limit in limits {
        let (resource, name) = resource(limit.typ());
        let ceiling = get(resource).rlim_max;
        let (soft, hard) = clamp(limit.soft(), limit.hard(), ceiling);
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `new` is a valid rlimit; setrlimit only reads it.
        if unsafe { libc::setrlimit(resource, &new) } != 0 {
            return Err(RlimitError::Set {
                name,
                soft,
                hard,
                source: nix::Error::last(),
            });
        }
        if hard < limit.hard() {
            crate::explain!(
                "set {name} to soft {soft}, hard {hard} (asked for {}, above the host's hard limit)",
                limit.hard()
            );
        } else {
            crate::explain!("set {name} to soft {soft}, hard {hard}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_nofile_is_clamped_to_the_host_hard_limit() {
        assert_eq!(clamp(1_048_576, 1_048_576, 20_000), (20_000, 20_000));
        assert_eq!(clamp(1024, 4096, 20_000), (1024, 4096));
        assert_eq!(clamp(30_000, 10_000, 20_000), (10_000, 10_000));
    }
}
