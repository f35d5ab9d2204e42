//! `features`: the OCI runtime features document (runtime-spec `features.md`), which tells a
//! caller what this runtime can do before it writes a config.
//!
//! Every list is read from the table the runtime itself works from (namespaces from the join
//! order, capabilities from what `capabilities` can resolve, mount options from the option
//! parser, seccomp from the filter compiler, hooks from `hooks`), so the document cannot claim
//! more than the code does.

use std::collections::HashMap;

use oci_spec::runtime::{
    Apparmor, Cgroup, Features, IDMap, IntelRdt, LinuxFeature, LinuxNamespaceType, MountExtensions, Seccomp,
    Selinux,
};

/// The oldest spec version whose configs we read.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The features document.
pub fn features() -> Features {
    let mut doc = Features::default();
    doc.set_oci_version_min(OCI_VERSION_MIN.to_string());
    doc.set_oci_version_max(crate::state::OCI_VERSION.to_string());
    doc.set_hooks(Some(
        crate::hooks::Kind::ALL.map(|k| k.as_str().to_string()).to_vec(),
    ));
    doc.set_mount_options(Some(mount_options()));
    doc.set_linux(Some(linux()));
    doc.set_annotations(Some(HashMap::from([(
        "org.berth.runtime.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )])));
    // No annotation changes how a container is isolated.
    doc.set_potentially_unsafe_config_annotations(Some(Vec::new()));
    doc
}

/// Flag and propagation words, sorted as runc prints them.
fn mount_options() -> Vec<String> {
    let mut words: Vec<String> = crate::mount_options::FLAG_WORDS
        .iter()
        .map(|(word, _, _)| word.to_string())
        .chain(
            crate::mount_options::PROPAGATION_WORDS
                .iter()
                .map(|(word, _)| word.to_string()),
        )
        .collect();
    words.sort();
    words
}

fn linux() -> LinuxFeature {
    let mut namespaces: Vec<LinuxNamespaceType> = crate::namespaces::JOIN_ORDER.to_vec();
    namespaces.sort_by_key(|ns| serde_json::to_string(ns).unwrap_or_default());

    let mut cgroup = Cgroup::default();
    // Both hierarchies are driven through cgroupfs (`cgroups::Cgroup::{V1, V2}`); there is no
    // systemd driver (`--systemd-cgroup` is refused) and no rdma controller.
    cgroup.set_v1(Some(true));
    cgroup.set_v2(Some(true));
    cgroup.set_systemd(Some(false));
    cgroup.set_systemd_user(Some(false));
    cgroup.set_rdma(Some(false));

    let mut seccomp = Seccomp::default();
    seccomp.set_enabled(Some(true));
    let mut actions = crate::seccomp::supported_actions();
    actions.sort_by_key(|a| a.to_string());
    seccomp.set_actions(Some(actions));
    let mut operators: Vec<String> = crate::seccomp::OPERATORS.iter().map(|o| o.to_string()).collect();
    operators.sort();
    seccomp.set_operators(Some(operators));
    seccomp.set_archs(Some(crate::seccomp::architectures()));
    let flags: Vec<String> = crate::seccomp::FLAGS.iter().map(|(f, _)| f.to_string()).collect();
    seccomp.set_known_flags(Some(flags.clone()));
    seccomp.set_supported_flags(Some(flags));

    let mut linux = LinuxFeature::default();
    linux.set_namespaces(Some(namespaces));
    linux.set_capabilities(Some(crate::capabilities::known()));
    linux.set_cgroup(Some(cgroup));
    linux.set_seccomp(Some(seccomp));
    // No LSM support: profiles and labels in a config are refused or ignored.
    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(false));
    linux.set_apparmor(Some(apparmor));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(false));
    linux.set_selinux(Some(selinux));
    let mut intel_rdt = IntelRdt::default();
    intel_rdt.set_enabled(Some(false));
    linux.set_intel_rdt(Some(intel_rdt));
    let mut idmap = IDMap::default();
    idmap.set_enabled(Some(false));
    let mut extensions = MountExtensions::default();
    extensions.set_idmap(Some(idmap));
    linux.set_mount_extensions(Some(extensions));
    linux
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_spec_keys_and_no_nulls() {
        let json = serde_json::to_value(features()).expect("features json");
        for key in ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux"] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        assert!(!json.to_string().contains("null"), "{json}");
        assert_eq!(json["linux"]["namespaces"][0], "cgroup");
        assert!(
            json["mountOptions"]
                .as_array()
                .is_some_and(|o| o.iter().any(|w| w == "rbind"))
        );
    }

    #[test]
    fn notify_is_not_claimed() {
        let json = serde_json::to_value(features()).expect("features json");
        let actions = json["linux"]["seccomp"]["actions"].as_array().expect("actions");
        assert!(actions.iter().any(|a| a == "SCMP_ACT_ERRNO"));
        assert!(!actions.iter().any(|a| a == "SCMP_ACT_NOTIFY"));
    }
}
