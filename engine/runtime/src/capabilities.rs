//! Capabilities: the five sets of the spec.
//!
//! The bounding set is cut first, while we still hold CAP_SETPCAP; the user switch keeps the
//! permitted set (PR_SET_KEEPCAPS); then effective, inheritable and permitted are set to the
//! spec's lists, and the ambient ones raised last (each must be permitted and inheritable).

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, Capability};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// Errors while setting capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    /// unknown capability
    #[error("unknown capability: {0}")]
    Unknown(String),
    /// cannot change a capability set
    #[error("cannot set the {set} capabilities: {source}")]
    Set {
        /// Which set.
        set: &'static str,
        /// What failed.
        source: caps::errors::CapsError,
    },
}

/// The kernel's name for an OCI capability (`CAP_CHOWN`).
pub fn name(cap: &oci_spec::runtime::Capability) -> String {
    // oci-spec serializes each variant under its kernel name.
    serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Every capability the runtime can set, by kernel name, in the kernel's order: those both the
/// OCI spec's type and the `caps` crate (which [`CapabilitySets`] goes through) know.
pub fn known() -> Vec<String> {
    let mut known: Vec<Capability> = caps::all()
        .into_iter()
        .filter(|cap| serde_json::from_value::<oci_spec::runtime::Capability>(cap.to_string().into()).is_ok())
        .collect();
    known.sort_by_key(|cap| cap.index());
    known.iter().map(Capability::to_string).collect()
}

fn to_caps(set: Option<&Capabilities>) -> Result<HashSet<Capability>, CapabilityError> {
    let mut out = HashSet::new();
    for cap in set.into_iter().flatten() {
        let name = name(cap);
        match Capability::from_str(&name) {
            Ok(c) => {
                out.insert(c);
            }
            // A capability newer than the caps crate: the kernel may still not know it either.
            Err(_) => tracing::warn!("capability {name} is unknown here and left out"),
        }
    }
    Ok(out)
}

/// Sorted kernel names, for messages.
fn names(set: &HashSet<Capability>) -> String {
    let mut list: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    list.sort();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

/// The spec's sets, resolved to the kernel's capabilities.
#[derive(Debug, Clone)]
pub struct CapabilitySets {
    bounding: HashSet<Capability>,
    effective: HashSet<Capability>,
    inheritable: HashSet<Capability>,
    permitted: HashSet<Capability>,
    ambient: HashSet<Capability>,
}

impl CapabilitySets {
    /// Resolve the spec's lists; no `capabilities` at all means none of them.
    pub fn from_spec(spec: Option<&LinuxCapabilities>) -> Result<Self, CapabilityError> {
        Ok(Self {
            bounding: to_caps(spec.and_then(|c| c.bounding().as_ref()))?,
            effective: to_caps(spec.and_then(|c| c.effective().as_ref()))?,
            inheritable: to_caps(spec.and_then(|c| c.inheritable().as_ref()))?,
            permitted: to_caps(spec.and_then(|c| c.permitted().as_ref()))?,
            ambient: to_caps(spec.and_then(|c| c.ambient().as_ref()))?,
        })
    }

    /// Drop from the bounding set every capability the spec does not list.
    pub fn apply_bounding(&self) -> Result<(), CapabilityError> {
        let current = caps::read(None, CapSet::Bounding).map_err(|source| CapabilityError::Set {
            set: "bounding",
            source,
        })?;
        for cap in current.difference(&self.bounding) {
            caps::drop(None, CapSet::Bounding, *cap).map_err(|source| CapabilityError::Set {
                set: "bounding",
                source,
            })?;
        }
        crate::explain!("kept capabilities {} in the bounding set", names(&self.bounding));
        Ok(())
    }

    /// Set effective, inheritable, permitted and ambient (after the user switch).
    pub fn apply_process_sets(&self) -> Result<(), CapabilityError> {
        let set = |which: CapSet, name: &'static str, caps: &HashSet<Capability>| {
            caps::set(None, which, caps).map_err(|source| CapabilityError::Set { set: name, source })
        };
        // Effective first (a subset of what is still permitted), permitted last (narrowing it
        // earlier would forbid the inheritable ones).
        set(CapSet::Effective, "effective", &self.effective)?;
        set(CapSet::Inheritable, "inheritable", &self.inheritable)?;
        set(CapSet::Permitted, "permitted", &self.permitted)?;
        caps::clear(None, CapSet::Ambient).map_err(|source| CapabilityError::Set {
            set: "ambient",
            source,
        })?;
        for cap in &self.ambient {
            // The kernel refuses an ambient capability that is not both permitted and
            // inheritable; runc goes on without it, and so do we.
            if caps::raise(None, CapSet::Ambient, *cap).is_err() {
                crate::explain!("left out ambient capability {cap}: it is not inheritable");
            }
        }
        crate::explain!("set effective capabilities to {}", names(&self.effective));
        Ok(())
    }

    /// Whether the process keeps CAP_SYS_ADMIN (it may then load seccomp without no_new_privs).
    pub fn keeps_sys_admin(&self) -> bool {
        self.effective.contains(&Capability::CAP_SYS_ADMIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_capabilities_start_with_chown_and_include_the_newer_ones() {
        let known = known();
        assert_eq!(known.first().map(String::as_str), Some("CAP_CHOWN"));
        for name in [
            "CAP_SYS_ADMIN",
            "CAP_AUDIT_READ",
            "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE",
        ] {
            assert!(known.iter().any(|k| k == name), "{name} missing from {known:?}");
        }
    }

    #[test]
    fn oci_names_are_the_kernel_names() {
        assert_eq!(
            name(&oci_spec::runtime::Capability::NetBindService),
            "CAP_NET_BIND_SERVICE"
        );
        let spec: LinuxCapabilities =
            serde_json::from_str(r#"{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"]}"#)
                .expect("caps");
        let sets = CapabilitySets::from_spec(Some(&spec)).expect("sets");
        assert_eq!(names(&sets.bounding), "CAP_CHOWN, CAP_KILL");
        assert_eq!(names(&sets.permitted), "none");
        assert!(!sets.keeps_sys_admin());
    }
}
