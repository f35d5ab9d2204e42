//! Namespaces: which ones a container gets new, which it joins by path.
//!
//! The pid namespace is special: `setns` and `unshare` on it only affect children, so a new one is
//! made by the `clone` that creates the init, and a joined one is entered by the parent just
//! before that `clone`. The cgroup namespace is made by the child only after the parent has moved
//! it into its cgroup, so that the container sees its own cgroup as the root.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

/// Errors while entering or making namespaces.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// cannot open a namespace to join
    #[error("cannot open namespace {path}: {source}")]
    Open {
        /// The namespace file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// cannot join a namespace
    #[error("cannot join namespace {path}: {source}")]
    Join {
        /// The namespace file.
        path: PathBuf,
        /// What failed.
        source: nix::Error,
    },
    /// cannot create namespaces
    #[error("cannot create namespaces {names}: {source}")]
    Unshare {
        /// Which.
        names: String,
        /// What failed.
        source: nix::Error,
    },
    /// the spec lists a namespace type twice
    #[error("malformed spec file: duplicated namespace {name}")]
    Duplicated {
        /// The type's name in /proc/<pid>/ns.
        name: &'static str,
    },
}

/// The clone flag of a namespace type.
pub fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME shares its value with CSIGNAL's bits in clone(2); only unshare takes it.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// The name of a namespace type as it appears under /proc/<pid>/ns.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Every namespace type the runtime makes or joins, in the order they are joined: user first
/// (it owns the others), mount last (after it the host's paths are gone). A type missing here
/// would be ignored by [`Plan::from_spec`]; `features` reports this list.
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Mount,
];

/// A namespace to join: its type and an open handle on it.
#[derive(Debug)]
pub struct ToJoin {
    /// Which namespace.
    pub typ: LinuxNamespaceType,
    /// The path it was opened from (for messages).
    pub path: PathBuf,
    /// The open namespace file.
    pub file: File,
}

/// The namespaces of a config: those to make and those to join.
#[derive(Debug, Default)]
pub struct Plan {
    /// Namespaces to create.
    pub new: Vec<LinuxNamespaceType>,
    /// Namespaces to join, opened on the host before anything changes, in join order.
    pub join: Vec<ToJoin>,
}

impl Plan {
    /// Build the plan from the spec's list, opening every path now.
    pub fn from_spec(namespaces: &[LinuxNamespace]) -> Result<Self, NamespaceError> {
        // The spec: "If a `namespaces` field contains duplicated namespaces with same `type`,
        // the runtime MUST generate an error."
        for (i, ns) in namespaces.iter().enumerate() {
            if namespaces[..i].iter().any(|earlier| earlier.typ() == ns.typ()) {
                return Err(NamespaceError::Duplicated {
                    name: proc_name(ns.typ()),
                });
            }
        }
        let mut plan = Plan::default();
        for typ in JOIN_ORDER {
            let Some(ns) = namespaces.iter().find(|ns| ns.typ() == typ) else {
                continue;
            };
            match ns.path() {
                Some(path) if !path.as_os_str().is_empty() => plan.join.push(open(typ, path)?),
                _ => plan.new.push(typ),
            }
        }
        Ok(plan)
    }

    /// A plan joining every namespace of a running process, for `exec`.
    pub fn join_process(pid: i32, types: &[LinuxNamespaceType]) -> Result<Self, NamespaceError> {
        let mut plan = Plan::default();
        for typ in JOIN_ORDER {
            if types.contains(&typ) {
                let path = PathBuf::from(format!("/proc/{pid}/ns/{}", proc_name(typ)));
                plan.join.push(open(typ, &path)?);
            }
        }
        Ok(plan)
    }

    /// Whether the plan makes a new namespace of this type.
    pub fn makes(&self, typ: LinuxNamespaceType) -> bool {
        self.new.contains(&typ)
    }

    /// Whether the plan has a namespace of this type at all (new or joined).
    pub fn has(&self, typ: LinuxNamespaceType) -> bool {
        self.makes(typ) || self.join.iter().any(|ns| ns.typ == typ)
    }

    /// Whether the plan joins a namespace of this type by path.
    pub fn joins(&self, typ: LinuxNamespaceType) -> bool {
        self.join.iter().any(|ns| ns.typ == typ)
    }

    /// Join the user namespace given by path, if any. It comes before every other namespace is
    /// made or joined: they then belong to it (a new pid namespace made by the `clone` too, so
    /// `create` joins it in an intermediate process, see `spawn::clone_from_intermediate`).
    pub fn join_user(&self) -> Result<(), NamespaceError> {
        for ns in self.join.iter().filter(|ns| ns.typ == LinuxNamespaceType::User) {
            setns(ns)?;
        }
        Ok(())
    }

    /// Enter the joined pid namespace for our future children (called before the `clone`).
    pub fn join_pid_for_children(&self) -> Result<(), NamespaceError> {
        for ns in self.join.iter().filter(|ns| ns.typ == LinuxNamespaceType::Pid) {
            setns(ns)?;
        }
        Ok(())
    }

    /// Join every namespace but user and pid (called by the child, after [`Plan::join_user`]).
    pub fn join_others(&self) -> Result<(), NamespaceError> {
        for ns in self
            .join
            .iter()
            .filter(|ns| !matches!(ns.typ, LinuxNamespaceType::User | LinuxNamespaceType::Pid))
        {
            setns(ns)?;
        }
        Ok(())
    }

    /// The flags for the `clone` that makes the process: a new pid (and user) namespace.
    pub fn clone_flags(&self) -> CloneFlags {
        let mut flags = CloneFlags::empty();
        for typ in [LinuxNamespaceType::User, LinuxNamespaceType::Pid] {
            if self.makes(typ) {
                flags |= flag(typ);
            }
        }
        flags
    }

    /// The new namespaces the `clone` itself makes (see [`Self::clone_flags`]), for saying so.
    pub fn cloned(&self) -> Vec<LinuxNamespaceType> {
        [LinuxNamespaceType::User, LinuxNamespaceType::Pid]
            .into_iter()
            .filter(|typ| self.makes(*typ))
            .collect()
    }

    /// Make the remaining new namespaces (all but user, pid and cgroup) in the child.
    pub fn unshare_rest(&self) -> Result<(), NamespaceError> {
        let types: Vec<_> = self
            .new
            .iter()
            .copied()
            .filter(|t| {
                !matches!(
                    t,
                    LinuxNamespaceType::User | LinuxNamespaceType::Pid | LinuxNamespaceType::Cgroup
                )
            })
            .collect();
        unshare(&types)
    }

    /// Make the cgroup namespace, if asked for (after the process joined its cgroup).
    pub fn unshare_cgroup(&self) -> Result<(), NamespaceError> {
        if self.makes(LinuxNamespaceType::Cgroup) {
            unshare(&[LinuxNamespaceType::Cgroup])?;
        }
        Ok(())
    }
}

fn open(typ: LinuxNamespaceType, path: &Path) -> Result<ToJoin, NamespaceError> {
    let file = File::open(path).map_err(|source| NamespaceError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ToJoin {
        typ,
        path: path.to_path_buf(),
        file,
    })
}

fn setns(ns: &ToJoin) -> Result<(), NamespaceError> {
    nix::sched::setns(ns.file.as_fd(), flag(ns.typ)).map_err(|source| NamespaceError::Join {
        path: ns.path.clone(),
        source,
    })?;
    crate::explain!(
        "joined the {} namespace at {}",
        proc_name(ns.typ),
        ns.path.display()
    );
    Ok(())
}

fn unshare(types: &[LinuxNamespaceType]) -> Result<(), NamespaceError> {
    if types.is_empty() {
        return Ok(());
    }
    let flags = types
        .iter()
        .fold(CloneFlags::empty(), |acc, typ| acc | flag(*typ));
    let names = names(types);
    nix::sched::unshare(flags).map_err(|source| NamespaceError::Unshare {
        names: names.clone(),
        source,
    })?;
    crate::explain!("created new namespaces: {names}");
    Ok(())
}

/// Comma-separated proc names of namespace types, for messages.
pub fn names(types: &[LinuxNamespaceType]) -> String {
    types.iter().map(|t| proc_name(*t)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let builder = LinuxNamespaceBuilder::default().typ(typ);
        match path {
            Some(path) => builder.path(path).build().expect("namespace"),
            None => builder.build().expect("namespace"),
        }
    }

    #[test]
    fn new_and_joined_namespaces_are_told_apart() {
        let spec = [
            ns(LinuxNamespaceType::Mount, None),
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Network, Some("/proc/self/ns/net")),
            ns(LinuxNamespaceType::Cgroup, None),
        ];
        let plan = Plan::from_spec(&spec).expect("plan");
        assert!(plan.makes(LinuxNamespaceType::Mount));
        assert!(plan.makes(LinuxNamespaceType::Pid));
        assert!(!plan.makes(LinuxNamespaceType::Network));
        assert!(plan.has(LinuxNamespaceType::Network));
        assert!(plan.joins(LinuxNamespaceType::Network));
        assert!(!plan.joins(LinuxNamespaceType::Mount));
        assert!(!plan.has(LinuxNamespaceType::Uts));
        assert_eq!(plan.clone_flags(), CloneFlags::CLONE_NEWPID);
        assert_eq!(plan.join.len(), 1);
    }

    #[test]
    fn a_missing_namespace_path_is_an_error_naming_it() {
        let spec = [ns(LinuxNamespaceType::Network, Some("/nonexistent/ns/net"))];
        let err = Plan::from_spec(&spec).expect_err("missing path");
        assert!(err.to_string().contains("/nonexistent/ns/net"));
    }

    #[test]
    fn a_type_listed_twice_is_an_error() {
        let spec = [
            ns(LinuxNamespaceType::Ipc, None),
            ns(LinuxNamespaceType::Mount, None),
            ns(LinuxNamespaceType::Ipc, Some("/proc/self/ns/ipc")),
        ];
        let err = Plan::from_spec(&spec).expect_err("duplicated ipc");
        assert_eq!(err.to_string(), "malformed spec file: duplicated namespace ipc");
    }
}
