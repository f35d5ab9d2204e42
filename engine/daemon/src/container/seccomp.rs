//! Docker's default seccomp profile, turned into a spec's `linux.seccomp` the way dockerd does:
//! keep the rules that apply to this machine's architecture, kernel and the container's
//! capabilities; drop the rest.

use oci_spec::runtime::{LinuxSeccomp, LinuxSyscall};
use serde::Deserialize;

/// Docker's default profile (moby profiles/seccomp/default.json), as shipped with Docker 20.10.
pub const DEFAULT_PROFILE: &str = include_str!("../../assets/seccomp-default.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: serde_json::Value,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    names: Vec<String>,
    action: serde_json::Value,
    #[serde(default)]
    args: Option<serde_json::Value>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    includes: Filter,
    #[serde(default, deserialize_with = "null_as_default")]
    excludes: Filter,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default, deserialize_with = "null_as_empty")]
    arches: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    caps: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

fn null_as_default<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Filter, D::Error> {
    Ok(Option::<Filter>::deserialize(deserializer)?.unwrap_or_default())
}

/// Docker's profile writes `null` for an empty list.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// What a rule's includes and excludes are checked against.
pub struct Target<'a> {
    /// Go's name for the architecture (`amd64`).
    pub arch: &'a str,
    /// `(major, minor)` of the running kernel.
    pub kernel: (u32, u32),
    /// The container's bounding capabilities (`CAP_SYS_ADMIN`…).
    pub capabilities: &'a [String],
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// the profile is not valid JSON of Docker's seccomp format (dockerd's words; a syntax
    /// error in Go's)
    #[error("Decoding seccomp profile failed: {0}")]
    Profile(String),
    /// both ways of naming architectures at once
    #[error(
        "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"
    )]
    Architectures,
}

impl From<serde_json::Error> for SeccompError {
    fn from(error: serde_json::Error) -> Self {
        SeccompError::Profile(error.to_string())
    }
}

/// Docker's `setupSeccomp`.
pub fn to_oci(profile_json: &str, target: &Target<'_>) -> Result<LinuxSeccomp, SeccompError> {
    if let Err(crate::go_json::SyntaxError::Invalid(message)) =
        crate::go_json::check_syntax(profile_json.as_bytes())
    {
        return Err(SeccompError::Profile(message));
    }
    let profile: Profile = serde_json::from_str(profile_json)?;
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(SeccompError::Architectures);
    }
    let native = seccomp_arch(target.arch);
    // A profile of the request's may list its architectures plainly (or none: the native one).
    let architectures: Vec<String> = if profile.arch_map.is_empty() {
        profile.architectures.clone()
    } else {
        profile
            .arch_map
            .iter()
            .filter(|a| Some(a.architecture.as_str()) == native)
            .flat_map(|a| std::iter::once(a.architecture.clone()).chain(a.sub_architectures.iter().cloned()))
            .collect()
    };
    let mut syscalls = Vec::new();
    for rule in profile.syscalls {
        if rule.excludes.arches.iter().any(|a| a == target.arch)
            || rule.excludes.caps.iter().any(|c| target.capabilities.contains(c))
        {
            continue;
        }
        if !rule.includes.arches.is_empty() && !rule.includes.arches.iter().any(|a| a == target.arch) {
            continue;
        }
        if !rule.includes.caps.iter().all(|c| target.capabilities.contains(c)) {
            continue;
        }
        if let Some(min) = &rule.includes.min_kernel {
            if target.kernel < parse_kernel(min) {
                continue;
            }
        }
        let mut syscall = serde_json::json!({"names": rule.names, "action": rule.action});
        if let Some(args) = rule.args {
            syscall["args"] = args;
        }
        if let Some(errno) = rule.errno_ret {
            syscall["errnoRet"] = errno.into();
        }
        syscalls.push(serde_json::from_value::<LinuxSyscall>(syscall)?);
    }
    let mut seccomp = serde_json::json!({
        "defaultAction": profile.default_action,
        "architectures": architectures,
    });
    if let Some(errno) = profile.default_errno_ret {
        seccomp["defaultErrnoRet"] = errno.into();
    }
    let mut seccomp: LinuxSeccomp = serde_json::from_value(seccomp)?;
    seccomp.set_syscalls(Some(syscalls));
    Ok(seccomp)
}

fn seccomp_arch(go_arch: &str) -> Option<&'static str> {
    match go_arch {
        "amd64" => Some("SCMP_ARCH_X86_64"),
        "arm64" => Some("SCMP_ARCH_AARCH64"),
        _ => None,
    }
}

fn parse_kernel(version: &str) -> (u32, u32) {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The running kernel's `(major, minor)`.
pub fn kernel_version() -> (u32, u32) {
    nix::sys::utsname::uname()
        .map(|u| parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_caps() -> Vec<String> {
        super::super::spec::DEFAULT_CAPABILITIES
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn names(seccomp: &LinuxSeccomp) -> Vec<String> {
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn default_profile_for_a_default_container() {
        let caps = default_caps();
        let seccomp = to_oci(
            DEFAULT_PROFILE,
            &Target {
                arch: "amd64",
                kernel: (6, 1),
                capabilities: &caps,
            },
        )
        .unwrap();
        assert_eq!(seccomp.default_errno_ret(), Some(1));
        let arches = serde_json::to_value(seccomp.architectures()).unwrap();
        assert_eq!(
            arches,
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let allowed = names(&seccomp);
        assert!(allowed.contains(&"read".to_string()));
        assert!(
            allowed.contains(&"arch_prctl".to_string()),
            "amd64-only rule kept"
        );
        // Only with CAP_SYS_ADMIN: mount, unshare; keyctl is never allowed by default.
        for denied in ["mount", "unshare", "keyctl", "s390_pci_mmio_read", "reboot"] {
            assert!(
                !allowed.contains(&denied.to_string()),
                "{denied} must stay denied"
            );
        }
    }

    #[test]
    fn capabilities_and_kernels_select_rules() {
        let mut caps = default_caps();
        caps.push("CAP_SYS_ADMIN".into());
        let seccomp = to_oci(
            DEFAULT_PROFILE,
            &Target {
                arch: "amd64",
                kernel: (4, 4),
                capabilities: &caps,
            },
        )
        .unwrap();
        let allowed = names(&seccomp);
        assert!(allowed.contains(&"mount".to_string()));
        assert!(
            !allowed.contains(&"ptrace".to_string()),
            "ptrace needs kernel 4.8"
        );
        // The clone rule that masks namespace flags is for containers without CAP_SYS_ADMIN.
        let clone_rules = seccomp
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.names().contains(&"clone".into()))
            .count();
        assert_eq!(clone_rules, 1);
    }
}
