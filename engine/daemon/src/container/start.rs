//! `docker start`: mount the container's root, write its bundle, hand it to a shim, start it.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use berth_shim::client::ShimOptions;
use tokio::sync::oneshot;

use super::mounts::{ContainerMount, MountKind};
use super::record::Status;
use super::spec::{ExtraMount, SpecInput};
use super::{Container, ContainerError, Containers, config, spec, user};
use crate::image::time;
use crate::layer;

/// An attach made before the container started: served the shim's stream once it is created,
/// so not a byte of output is missed (Docker's CLI attaches, then starts).
#[derive(Debug)]
pub struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub reply: oneshot::Sender<Result<UnixStream, ContainerError>>,
}

/// The exit code Docker records when a container's process could not be started.
pub fn start_failure_code(message: &str) -> i64 {
    if message.contains("executable file not found") || message.contains("no such file or directory") {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        128
    }
}

impl Containers {
    /// `POST /containers/{id}/start`.
    pub async fn start(&self, name: &str) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let lifecycle = container.lifecycle.lock().await;
        let result = self.start_locked(&container).await;
        // As Docker: a container meant to remove itself when it ends (--rm) is removed when
        // it cannot start, so `run --rm` of a bad command leaves nothing behind.
        let failed = matches!(&result, Err(e) if !matches!(e, ContainerError::NotModified | ContainerError::Conflict(_)));
        if failed && container.record().host_config.auto_remove {
            drop(lifecycle);
            let _ = self.remove(&container.id, true, true).await;
        }
        result
    }

    /// Start a container whose lifecycle lock the caller holds.
    pub(super) async fn start_locked(&self, container: &Arc<Container>) -> Result<(), ContainerError> {
        match container.record().state.status {
            Status::Running => return Err(ContainerError::NotModified),
            Status::Paused => {
                return Err(ContainerError::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ));
            }
            Status::Removing | Status::Dead => {
                return Err(ContainerError::Conflict(format!(
                    "cannot start container {}: it is being removed",
                    container.id
                )));
            }
            _ => {}
        }
        let prepared = {
            let (this, c) = (self.clone(), container.clone());
            let span = crate::explain::container_span(&container.id);
            tokio::task::spawn_blocking(move || span.in_scope(|| this.create_in_shim(&c))).await?
        };
        if let Err(error) = prepared {
            return Err(self.record_start_failure(container, error));
        }
        self.serve_pending_attaches(container).await;
        let started = {
            let shim = container.shim();
            tokio::task::spawn_blocking(move || shim.start()).await?
        };
        let pid = match started {
            Ok(pid) => pid,
            Err(e) => {
                let error = ContainerError::Start(e.to_string());
                let _ = self.cleanup_after_failed_start(container).await;
                return Err(self.record_start_failure(container, error));
            }
        };
        container.update(&self.inner.tmp, |record| {
            record.state.status = Status::Running;
            record.state.pid = i64::from(pid);
            record.state.exit_code = 0;
            record.state.error.clear();
            record.state.oom_killed = false;
            record.state.started_at = time::now_rfc3339();
            record.has_been_started = true;
            record.manually_stopped = false;
        })?;
        self.event(container, "start", &[]);
        self.monitor(container.clone());
        self.watch_health(container);
        Ok(())
    }

    /// Mount the root, resolve the user, write the spec, and have a shim create the container.
    fn create_in_shim(&self, container: &Container) -> Result<(), ContainerError> {
        let record = container.record();
        let paths = &container.paths;
        let mut lowers: Vec<PathBuf> = vec![paths.init_layer()];
        if let Some(top) = &record.top_layer {
            lowers.extend(self.inner.images.store().layers.lower_dirs(top)?);
        }
        let rootfs = paths.rootfs();
        layer::mount_overlay(&lowers, &paths.upper(), &paths.work(), &rootfs)
            .map_err(|e| ContainerError::Start(format!("mount the container's root file system: {e}")))?;
        // Whether the `connect` and `mount` events went out (a failure after them logs their
        // `disconnect` and `unmount`, as dockerd's cleanup does).
        let mut joined_events = false;
        let result = (|| {
            let host = &record.host_config;
            let process_user = user::resolve(
                &rootfs,
                &record.config.user,
                host.group_add.as_deref().unwrap_or_default(),
            )
            .map_err(|e| ContainerError::Start(e.to_string()))?;
            let bind = |destination: &str, source: PathBuf| ExtraMount {
                destination: destination.into(),
                kind: "bind".into(),
                source: source.display().to_string(),
                options: vec!["rbind".into(), "rprivate".into()],
            };
            let mut mounts = vec![
                bind("/etc/resolv.conf", paths.resolv_conf()),
                bind("/etc/hostname", paths.hostname()),
                bind("/etc/hosts", paths.hosts()),
            ];
            for mount in &record.mounts {
                self.prepare_mount(&record, &rootfs, mount)?;
                mounts.push(mount.to_spec());
            }
            let joined = self.join_networks(container)?;
            self.publish_start_events(container);
            joined_events = true;
            let mut args = vec![record.path.clone()];
            args.extend(record.args.iter().cloned());
            let spec = spec::build(SpecInput {
                id: &record.id,
                config: &record.config,
                host,
                rootfs: &rootfs,
                user: process_user,
                args,
                env: config::process_env(&record.config, &joined.link_env),
                mounts,
                netns: joined.netns,
                init: host.init == Some(true),
            })
            .map_err(|e| ContainerError::Start(e.to_string()))?;
            std::fs::create_dir_all(&paths.exec)?;
            let json =
                serde_json::to_vec_pretty(&spec).map_err(|e| ContainerError::Internal(e.to_string()))?;
            std::fs::write(paths.exec.join("config.json"), json)?;
            let options = ShimOptions {
                shim_binary: self.inner.binaries.shim.clone(),
                id: record.id.clone(),
                bundle: paths.exec.clone(),
                state_dir: paths.exec.clone(),
                runtime: self.inner.binaries.runtime.clone(),
                runtime_root: self.runtime_root(),
                log_path: paths.log(&record.id),
                tty: record.config.tty,
                stdin: record.config.open_stdin,
                stdin_once: record.config.stdin_once,
            };
            crate::explain!(container = %record.id, "started berth-shim to create container {} with berth-runtime", record.short_id());
            options
                .spawn()
                .map_err(|e| ContainerError::Start(format!("OCI runtime create failed: {e}")))?;
            Ok(())
        })();
        if result.is_err() {
            self.release_host_resources(container, crate::network::VethRelease::Now);
            if joined_events {
                self.publish_exit_events(container);
            }
        }
        result
    }

    /// Copy the image's files into a new, empty volume (once), and say what is mounted where.
    fn prepare_mount(
        &self,
        record: &super::ContainerRecord,
        rootfs: &std::path::Path,
        mount: &ContainerMount,
    ) -> Result<(), ContainerError> {
        let access = if mount.rw { "" } else { " read-only" };
        match mount.kind {
            MountKind::Volume => {
                self.inner
                    .volumes
                    .activate(&mount.name, &record.id)
                    .map_err(|e| ContainerError::Start(e.to_string()))?;
                if !mount.no_copy && !record.has_been_started && self.inner.volumes.is_empty(&mount.name) {
                    crate::volume::copy_up(rootfs, &mount.destination, std::path::Path::new(&mount.source))
                        .map_err(|e| {
                        ContainerError::Start(format!(
                            "copy the image's {} into volume {}: {e}",
                            mount.destination, mount.name
                        ))
                    })?;
                }
                crate::explain!(
                    "bound volume {} ({}){access} at {}",
                    mount.name,
                    mount.source,
                    mount.destination
                );
            }
            MountKind::Bind => crate::explain!(
                "bound host path {}{access} at {}",
                mount.source,
                mount.destination
            ),
            MountKind::Tmpfs => crate::explain!("mounted a tmpfs{access} at {}", mount.destination),
        }
        Ok(())
    }

    /// Hand every waiting attach its stream from the shim, before the process runs.
    async fn serve_pending_attaches(&self, container: &Arc<Container>) {
        let pending: Vec<PendingAttach> =
            std::mem::take(&mut *container.pending_attach.lock().unwrap_or_else(|p| p.into_inner()));
        for attach in pending {
            let shim = container.shim();
            let stream = tokio::task::spawn_blocking(move || {
                shim.attach("init", attach.stdin, attach.stdout, attach.stderr)
                    .map_err(|e| ContainerError::Internal(e.to_string()))
            })
            .await
            .unwrap_or_else(|e| Err(e.into()));
            let _ = attach.reply.send(stream);
        }
    }

    /// The shim was created but start failed: stop it and unmount.
    async fn cleanup_after_failed_start(&self, container: &Arc<Container>) -> Result<(), ContainerError> {
        let shim = container.shim();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = shim.kill(9, true);
            shim.wait("init")
        })
        .await;
        let span = crate::explain::container_span(&container.id);
        let (this, c) = (self.clone(), container.clone());
        let _ = tokio::task::spawn_blocking(move || {
            span.in_scope(|| this.release_host_resources(&c, crate::network::VethRelease::Now))
        })
        .await;
        self.publish_exit_events(container);
        Ok(())
    }

    /// Note a failed start in the record (as `inspect` shows it) and pass the error on.
    fn record_start_failure(&self, container: &Container, error: ContainerError) -> ContainerError {
        let message = error.to_string();
        let _ = container.update(&self.inner.tmp, |record| {
            record.state.error = message.clone();
            record.state.exit_code = start_failure_code(&message);
            if record.state.status != Status::Created {
                record.state.status = Status::Exited;
            }
        });
        error
    }
}
