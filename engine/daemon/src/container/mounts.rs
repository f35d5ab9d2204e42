//! A container's mounts: `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's VOLUMEs,
//! resolved at create into the list `inspect` shows under `.Mounts`, and into spec mounts at start.
//!
//! Precedence is Docker's: volumes-from, then the config's volumes (anonymous unless something
//! else takes their path), then binds, then `--mount` (a bind and a `--mount` on one path is an
//! error), then tmpfs. Everything is checked before anything is made, and what a failed create
//! made (a volume, a host directory) is undone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_api::types::{HostConfig, Mount, MountPoint};
use serde::{Deserialize, Serialize};

use super::ContainerError;
use super::spec::ExtraMount;
use crate::volume::Volumes;

/// What kind of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerMount {
    pub kind: MountKind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path mounted (bind: as given; volume: its `_data`).
    #[serde(default)]
    pub source: String,
    pub destination: String,
    pub rw: bool,
    /// The mode string `inspect` shows (`ro`, `z`, ``).
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub propagation: String,
    /// A volume made for this container (VOLUME or `-v /path`): `rm -v` removes it.
    #[serde(default)]
    pub anonymous: bool,
    /// Don't copy the image's files into a new volume.
    #[serde(default)]
    pub no_copy: bool,
    /// tmpfs options (`size=…`, `mode=…`).
    #[serde(default)]
    pub tmpfs_options: Vec<String>,
    /// Made by `--tmpfs` (HostConfig.Tmpfs): Docker shows it there, not under `.Mounts`.
    #[serde(default)]
    pub tmpfs_flag: bool,
}

/// The `.Mounts` that `inspect` and `ps` show: everything but `--tmpfs`, as Docker.
pub fn listed(mounts: &[ContainerMount]) -> Vec<MountPoint> {
    mounts
        .iter()
        .filter(|m| !m.tmpfs_flag)
        .map(ContainerMount::to_api)
        .collect()
}

impl ContainerMount {
    /// The `.Mounts` entry `inspect` shows.
    pub fn to_api(&self) -> MountPoint {
        MountPoint {
            r#type: match self.kind {
                MountKind::Bind => "bind",
                MountKind::Volume => "volume",
                MountKind::Tmpfs => "tmpfs",
            }
            .into(),
            name: self.name.clone(),
            source: self.source.clone(),
            destination: self.destination.clone(),
            driver: if self.kind == MountKind::Volume {
                crate::volume::LOCAL_DRIVER.into()
            } else {
                String::new()
            },
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }

    /// The spec mount the runtime makes.
    pub fn to_spec(&self) -> ExtraMount {
        match self.kind {
            MountKind::Tmpfs => {
                let mut options: Vec<String> = vec!["noexec".into(), "nosuid".into(), "nodev".into()];
                options.extend(self.tmpfs_options.iter().cloned());
                if !self.rw {
                    options.push("ro".into());
                }
                ExtraMount {
                    destination: self.destination.clone(),
                    kind: "tmpfs".into(),
                    source: "tmpfs".into(),
                    options,
                }
            }
            _ => {
                let propagation = if self.propagation.is_empty() {
                    "rprivate"
                } else {
                    self.propagation.as_str()
                };
                let mut options = vec!["rbind".to_owned(), propagation.to_owned()];
                if !self.rw {
                    options.push("ro".into());
                }
                ExtraMount {
                    destination: self.destination.clone(),
                    kind: "bind".into(),
                    source: self.source.clone(),
                    options,
                }
            }
        }
    }
}

fn bad(message: impl Into<String>) -> ContainerError {
    ContainerError::BadRequest(message.into())
}

fn check_destination(kind: &str, destination: &str) -> Result<(), ContainerError> {
    if destination.is_empty() {
        return Err(bad(format!(
            "invalid mount config for type \"{kind}\": field Target must not be empty"
        )));
    }
    if !destination.starts_with('/') {
        return Err(bad(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{destination}' mount path must be absolute"
        )));
    }
    if destination.trim_end_matches('/').is_empty() {
        return Err(bad(format!(
            "invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'"
        )));
    }
    Ok(())
}

const PROPAGATIONS: &[&str] = &["shared", "rshared", "slave", "rslave", "private", "rprivate"];

/// A mount before anything is made: what to do at create.
#[derive(Debug)]
enum Planned {
    /// A host directory, created when missing (as `-v` does).
    Bind {
        mount: ContainerMount,
        create_missing: bool,
    },
    /// A named volume, created when missing; or anonymous (`name` empty). `--mount`'s
    /// `volume-driver`, `volume-label` and `volume-opt` apply when it is created.
    Volume {
        mount: ContainerMount,
        driver: String,
        labels: Option<BTreeMap<String, String>>,
        options: Option<BTreeMap<String, String>>,
    },
    Tmpfs(ContainerMount),
}

impl Planned {
    fn destination(&self) -> &str {
        match self {
            Planned::Bind { mount, .. } | Planned::Volume { mount, .. } | Planned::Tmpfs(mount) => {
                &mount.destination
            }
        }
    }
}

/// `-v src:dst[:opts]` (HostConfig.Binds).
fn parse_bind(spec: &str) -> Result<Planned, ContainerError> {
    let invalid = || bad(format!("invalid volume specification: '{spec}'"));
    let bad_mode = |options: &str| bad(format!("invalid mode: {options}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, options) = match parts.as_slice() {
        [source, destination] => (*source, *destination, ""),
        [source, destination, options] => (*source, *destination, *options),
        _ => return Err(invalid()),
    };
    if source.is_empty() || destination.is_empty() {
        return Err(invalid());
    }
    // Docker's rule: each kind of option at most once (`ro,rw` is an invalid mode).
    let (mut rw, mut no_copy, mut propagation) = (true, false, String::new());
    let (mut access_seen, mut label_seen, mut copy_seen) = (false, false, false);
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let seen = match option {
            "ro" | "rw" => {
                rw = option == "rw";
                &mut access_seen
            }
            "z" | "Z" => &mut label_seen,
            "nocopy" => {
                no_copy = true;
                &mut copy_seen
            }
            p if PROPAGATIONS.contains(&p) && propagation.is_empty() => {
                propagation = p.to_owned();
                continue;
            }
            _ => return Err(bad_mode(options)),
        };
        if std::mem::replace(seen, true) {
            return Err(bad_mode(options));
        }
    }
    let is_bind = source.starts_with('/');
    let kind = if is_bind { "bind" } else { "volume" };
    check_destination(kind, destination)
        .map_err(|e| bad(format!("invalid volume specification: '{spec}': {e}")))?;
    // Docker's mount config: a volume takes no propagation (a bind option), a bind no `nocopy`
    // (a volume option).
    let foreign = match (is_bind, no_copy, propagation.is_empty()) {
        (true, true, _) => Some("VolumeOptions"),
        (false, _, false) => Some("BindOptions"),
        _ => None,
    };
    if let Some(field) = foreign {
        return Err(bad(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"{kind}\": field {field} must not be specified"
        )));
    }
    let mount = ContainerMount {
        kind: if is_bind {
            MountKind::Bind
        } else {
            MountKind::Volume
        },
        name: if is_bind { String::new() } else { source.to_owned() },
        source: if is_bind { source.to_owned() } else { String::new() },
        destination: destination.to_owned(),
        rw,
        // The options as given, as Docker's inspect shows them (`ro,z,nocopy`).
        mode: options.to_owned(),
        propagation: if is_bind && propagation.is_empty() {
            "rprivate".into()
        } else {
            propagation
        },
        anonymous: false,
        no_copy,
        tmpfs_options: Vec::new(),
        tmpfs_flag: false,
    };
    Ok(if is_bind {
        Planned::Bind {
            mount,
            create_missing: true,
        }
    } else {
        Planned::Volume {
            mount,
            driver: String::new(),
            labels: None,
            options: None,
        }
    })
}

/// `--mount type=…,source=…,target=…` (HostConfig.Mounts).
fn parse_mount(m: &Mount) -> Result<Planned, ContainerError> {
    let kind = m.r#type.as_str();
    if !matches!(kind, "bind" | "volume" | "tmpfs") {
        return Err(bad(format!(
            "invalid mount config for type \"{kind}\": mount type unknown"
        )));
    }
    check_destination(kind, &m.target)?;
    let base = ContainerMount {
        kind: MountKind::Bind,
        name: String::new(),
        source: String::new(),
        destination: m.target.clone(),
        rw: !m.read_only,
        mode: String::new(),
        propagation: String::new(),
        anonymous: false,
        no_copy: false,
        tmpfs_options: Vec::new(),
        tmpfs_flag: false,
    };
    match kind {
        "bind" => {
            if m.source.is_empty() {
                return Err(bad(
                    "invalid mount config for type \"bind\": field Source must not be empty",
                ));
            }
            if !Path::new(&m.source).exists() {
                return Err(bad(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
            let propagation = m
                .bind_options
                .as_ref()
                .map(|b| b.propagation.clone())
                .unwrap_or_default();
            if !propagation.is_empty() && !PROPAGATIONS.contains(&propagation.as_str()) {
                return Err(bad(format!(
                    "invalid mount config for type \"bind\": invalid propagation mode: {propagation}"
                )));
            }
            let propagation = if propagation.is_empty() {
                "rprivate".to_owned()
            } else {
                propagation
            };
            Ok(Planned::Bind {
                mount: ContainerMount {
                    source: m.source.clone(),
                    propagation,
                    ..base
                },
                create_missing: false,
            })
        }
        "volume" => {
            let options = m.volume_options.clone().unwrap_or_default();
            let driver_config = options.driver_config.unwrap_or_default();
            Ok(Planned::Volume {
                mount: ContainerMount {
                    kind: MountKind::Volume,
                    name: m.source.clone(),
                    mode: "z".into(),
                    no_copy: options.no_copy,
                    ..base
                },
                driver: driver_config.name,
                labels: options.labels,
                options: driver_config.options,
            })
        }
        _ => {
            if !m.source.is_empty() {
                return Err(bad(
                    "invalid mount config for type \"tmpfs\": field Source must not be specified",
                ));
            }
            let mut options = Vec::new();
            if let Some(tmpfs) = &m.tmpfs_options {
                if tmpfs.size_bytes > 0 {
                    options.push(format!("size={}", tmpfs.size_bytes));
                }
                if tmpfs.mode > 0 {
                    options.push(format!("mode={:o}", tmpfs.mode));
                }
            }
            Ok(Planned::Tmpfs(ContainerMount {
                kind: MountKind::Tmpfs,
                tmpfs_options: options,
                ..base
            }))
        }
    }
}

/// `--tmpfs /path[:opts]` (HostConfig.Tmpfs).
fn parse_tmpfs(destination: &str, options: &str) -> Result<Planned, ContainerError> {
    // Docker words this one without naming a mount type.
    if destination.trim_end_matches('/').is_empty() && !destination.is_empty() {
        return Err(bad("invalid specification: destination can't be '/'"));
    }
    check_destination("tmpfs", destination)?;
    let mut rw = true;
    let mut extra = Vec::new();
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => rw = false,
            "rw" => {}
            other => extra.push(other.to_owned()),
        }
    }
    Ok(Planned::Tmpfs(ContainerMount {
        kind: MountKind::Tmpfs,
        name: String::new(),
        source: String::new(),
        destination: destination.to_owned(),
        rw,
        mode: String::new(),
        propagation: String::new(),
        anonymous: false,
        no_copy: false,
        tmpfs_options: extra,
        tmpfs_flag: true,
    }))
}

/// Make a missing `-v` bind source, parents first, as Docker does. On failure, Docker's words,
/// naming the directory that could not be made (and nothing made is left). Returns the topmost
/// directory made, for [`plan`] to undo if a later mount fails.
fn make_bind_source(source: &str) -> Result<Option<PathBuf>, ContainerError> {
    let missing: Vec<&Path> = Path::new(source)
        .ancestors()
        .take_while(|a| !a.exists())
        .collect();
    let mut top_made = None;
    for dir in missing.iter().rev() {
        if let Err(e) = std::fs::create_dir(dir) {
            if let Some(top) = top_made {
                let _ = crate::tree::remove_all(top);
            }
            return Err(bad(format!(
                "error while creating mount source path '{source}': mkdir {}: {}",
                dir.display(),
                crate::go_error::text(&e)
            )));
        }
        top_made.get_or_insert(dir.to_path_buf());
    }
    Ok(top_made)
}

/// Undo what a failed plan made.
#[derive(Default)]
struct Made {
    volumes: Vec<String>,
    dirs: Vec<PathBuf>,
}

/// Resolve every mount of a new container. `volumes_from` gives the mounts of the containers
/// named in `--volumes-from` (already looked up by the caller).
pub fn plan(
    config_volumes: &[String],
    host: &HostConfig,
    volumes_from: &[(Vec<ContainerMount>, Option<bool>)],
    volumes: &Volumes,
) -> Result<Vec<ContainerMount>, ContainerError> {
    // 1. Check everything (no side effects).
    let mut planned: BTreeMap<String, Planned> = BTreeMap::new();
    for (mounts, rw) in volumes_from {
        // Docker copies a mount without its Mode; `:ro` makes it read-only, `:rw` keeps its
        // access. A copied anonymous volume stays anonymous: `rm -v` of the last container
        // using it removes it, whichever container made it.
        for mount in mounts.iter().filter(|m| m.kind != MountKind::Tmpfs) {
            let mut mount = mount.clone();
            mount.mode = String::new();
            if let Some(rw) = rw {
                mount.rw = mount.rw && *rw;
            }
            planned.insert(
                mount.destination.clone(),
                Planned::Bind {
                    mount,
                    create_missing: false,
                },
            );
        }
    }
    let mut explicit: BTreeMap<String, &str> = BTreeMap::new();
    for bind in host.binds.iter().flatten() {
        let p = parse_bind(bind)?;
        explicit.insert(p.destination().to_owned(), "bind");
        planned.insert(p.destination().to_owned(), p);
    }
    for m in host.mounts.iter().flatten() {
        let p = parse_mount(m)?;
        if explicit.contains_key(p.destination()) {
            return Err(bad(format!("Duplicate mount point: {}", p.destination())));
        }
        explicit.insert(p.destination().to_owned(), "mount");
        planned.insert(p.destination().to_owned(), p);
    }
    for (destination, options) in host.tmpfs.iter().flatten() {
        let p = parse_tmpfs(destination, options)?;
        planned.insert(p.destination().to_owned(), p);
    }
    for destination in config_volumes {
        check_destination("volume", destination)?;
        planned
            .entry(destination.clone())
            .or_insert_with(|| Planned::Volume {
                mount: ContainerMount {
                    kind: MountKind::Volume,
                    name: String::new(),
                    source: String::new(),
                    destination: destination.clone(),
                    rw: true,
                    mode: String::new(),
                    propagation: String::new(),
                    anonymous: true,
                    no_copy: false,
                    tmpfs_options: Vec::new(),
                    tmpfs_flag: false,
                },
                driver: String::new(),
                labels: None,
                options: None,
            });
    }
    // 2. Make what is missing, undoing it all on the first failure.
    let mut made = Made::default();
    let result = (|| {
        let mut mounts = Vec::new();
        for (_, p) in planned {
            mounts.push(match p {
                Planned::Bind {
                    mount,
                    create_missing,
                } => {
                    if create_missing {
                        made.dirs.extend(make_bind_source(&mount.source)?);
                    }
                    mount
                }
                Planned::Volume {
                    mut mount,
                    driver,
                    labels,
                    options,
                } => {
                    let existed = !mount.name.is_empty() && volumes.exists(&mount.name);
                    let name = (!mount.name.is_empty()).then_some(mount.name.as_str());
                    let volume = volumes
                        .create(name, &driver, labels, options)
                        .map_err(|e| bad(e.to_string()))?;
                    if !existed {
                        made.volumes.push(volume.name.clone());
                    }
                    mount.anonymous = mount.anonymous || name.is_none();
                    mount.name = volume.name;
                    mount.source = volume.mountpoint;
                    mount
                }
                Planned::Tmpfs(mount) => mount,
            });
        }
        Ok(mounts)
    })();
    if result.is_err() {
        for name in &made.volumes {
            let _ = volumes.remove(name, &[], true);
        }
        for dir in &made.dirs {
            let _ = crate::tree::remove_all(dir);
        }
    }
    result
}

/// `--volumes-from name[:ro|rw]` → (container name, forced mode).
pub fn parse_volumes_from(spec: &str) -> Result<(&str, Option<bool>), ContainerError> {
    match spec.rsplit_once(':') {
        Some((name, "ro")) => Ok((name, Some(false))),
        Some((name, "rw")) => Ok((name, Some(true))),
        Some((_, mode)) => Err(bad(format!("invalid mode: {mode}"))),
        None => Ok((spec, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_like_docker() {
        let Planned::Volume { mount, .. } = parse_bind("website:/usr/local/apache2/htdocs:ro").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (mount.name.as_str(), mount.rw, mount.mode.as_str()),
            ("website", false, "ro")
        );
        let Planned::Bind {
            mount,
            create_missing,
        } = parse_bind("/srv/web:/usr/share/nginx/html").unwrap()
        else {
            panic!()
        };
        assert!(create_missing);
        assert_eq!(mount.to_api().propagation, "rprivate");
        assert!(
            parse_bind("a:b:c:d")
                .unwrap_err()
                .to_string()
                .contains("invalid volume specification")
        );
        assert!(
            parse_bind("v:relative")
                .unwrap_err()
                .to_string()
                .contains("must be absolute")
        );
        assert!(parse_bind("v:/x:bogus").is_err());
        // Docker's rules: one option of each kind; the whole mode named.
        assert_eq!(
            parse_bind("v:/x:ro,rw").unwrap_err().to_string(),
            "invalid mode: ro,rw"
        );
        // As Docker 20.10 answers each (checked beside dockerd).
        match parse_bind("v:/x:ro,z,nocopy") {
            Ok(Planned::Volume { mount, .. }) => {
                assert_eq!((mount.name.as_str(), mount.destination.as_str()), ("v", "/x"));
                assert!(!mount.rw && mount.no_copy, "{mount:?}");
                assert_eq!(
                    (mount.mode.as_str(), mount.propagation.as_str()),
                    ("ro,z,nocopy", "")
                );
            }
            other => panic!("a named volume mount, not {other:?}"),
        }
        match parse_bind("/tmp:/x:ro,rslave") {
            Ok(Planned::Bind { mount, .. }) => {
                assert_eq!(
                    (mount.mode.as_str(), mount.propagation.as_str()),
                    ("ro,rslave", "rslave")
                );
            }
            other => panic!("a bind mount, not {other:?}"),
        }
        assert_eq!(
            parse_bind("v:/x:rslave").unwrap_err().to_string(),
            "invalid volume specification: 'v:/x:rslave': invalid mount config for type \"volume\": field BindOptions must not be specified"
        );
        assert_eq!(
            parse_bind("/tmp:/x:nocopy").unwrap_err().to_string(),
            "invalid volume specification: '/tmp:/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"
        );
        assert_eq!(
            parse_bind("/h:/").unwrap_err().to_string(),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
    }

    #[test]
    fn mounts_check_their_fields() {
        let bogus = Mount {
            r#type: "bogus".into(),
            target: "/x".into(),
            ..Default::default()
        };
        assert_eq!(
            parse_mount(&bogus).unwrap_err().to_string(),
            "invalid mount config for type \"bogus\": mount type unknown"
        );
        let missing = Mount {
            r#type: "bind".into(),
            source: "/no/such/dir".into(),
            target: "/x".into(),
            ..Default::default()
        };
        assert_eq!(
            parse_mount(&missing).unwrap_err().to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir"
        );
        let no_target = Mount {
            r#type: "volume".into(),
            ..Default::default()
        };
        assert!(
            parse_mount(&no_target)
                .unwrap_err()
                .to_string()
                .contains("Target must not be empty")
        );
    }

    #[test]
    fn plan_makes_volumes_and_undoes_them_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = Volumes::open(&dir.path().join("volumes"), dir.path(), Default::default()).unwrap();
        let bind_dir = dir.path().join("made/by/bind");
        let host = HostConfig {
            binds: Some(vec!["named:/data".into(), format!("{}:/b", bind_dir.display())]),
            tmpfs: Some(BTreeMap::from([("/t".to_string(), "size=1m".to_string())])),
            ..Default::default()
        };
        let mounts = plan(&["/anon".into(), "/data".into()], &host, &[], &volumes).unwrap();
        let kinds: Vec<(&str, MountKind, bool)> = mounts
            .iter()
            .map(|m| (m.destination.as_str(), m.kind, m.anonymous))
            .collect();
        assert_eq!(
            kinds,
            [
                ("/anon", MountKind::Volume, true),
                ("/b", MountKind::Bind, false),
                ("/data", MountKind::Volume, false),
                ("/t", MountKind::Tmpfs, false)
            ]
        );
        // Docker lists a --tmpfs under HostConfig.Tmpfs only.
        let listed: Vec<String> = listed(&mounts).into_iter().map(|m| m.destination).collect();
        assert_eq!(listed, ["/anon", "/b", "/data"]);
        assert!(bind_dir.is_dir());
        assert_eq!(volumes.list().unwrap().len(), 2);

        // A failing plan leaves no new volume and no new directory behind.
        let failing = HostConfig {
            binds: Some(vec!["fresh:/f".into(), "/proc/nope/x:/x".into()]),
            ..Default::default()
        };
        assert_eq!(
            plan(&["/anon2".into()], &failing, &[], &volumes)
                .unwrap_err()
                .to_string(),
            "error while creating mount source path '/proc/nope/x': mkdir /proc/nope: no such file or directory"
        );
        assert_eq!(volumes.list().unwrap().len(), 2, "nothing half-made");
    }
}
