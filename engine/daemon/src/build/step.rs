//! A build step's container, as moby's `internals.go`: created from the image built so far with
//! the step's config, run when the step is a RUN (its output forwarded to the client), committed
//! as the next image, and removed. The container is an ordinary one of the engine (network,
//! mounts, cgroups, events), so a RUN behaves as `docker run` would.

use std::io::Read;
use std::os::unix::net::UnixStream;

use berth_api::types::{ContainerConfig, ContainerCreateRequest, HostConfig};
use berth_shim::frame::{FrameReader, Stream};
use tokio::sync::mpsc;

use super::BuildError;
use super::options::BuildOptions;
use super::output::Output;
use crate::container::WaitCondition;
use crate::digest::Digest;
use crate::engine::Engine;
use crate::image::CommitRequest;

/// The host config of every step container: the build's resources and network (Docker's
/// `hostConfigFromOptions`).
fn host_config(options: &BuildOptions) -> HostConfig {
    HostConfig {
        network_mode: options.network_mode.clone(),
        shm_size: options.shm_size,
        extra_hosts: (!options.extra_hosts.is_empty()).then(|| options.extra_hosts.clone()),
        memory: options.memory,
        memory_swap: options.memory_swap,
        cpu_shares: options.cpu_shares,
        cpu_period: options.cpu_period,
        cpu_quota: options.cpu_quota,
        cpuset_cpus: options.cpuset_cpus.clone(),
        cpuset_mems: options.cpuset_mems.clone(),
        cgroup_parent: options.cgroup_parent.clone(),
        ..HostConfig::default()
    }
}

/// Create the step's container on `image` (`None`: `FROM scratch`, which has no root to run
/// in). Nothing runs yet.
pub async fn create(
    engine: &Engine,
    options: &BuildOptions,
    image: &Digest,
    config: &ContainerConfig,
) -> Result<String, BuildError> {
    let mut config = config.clone();
    config.image = image.to_string();
    let created = engine
        .containers
        .create(
            None,
            ContainerCreateRequest {
                config,
                host_config: host_config(options),
                networking_config: None,
            },
        )
        .await
        .map_err(|e| BuildError::Step(e.to_string()))?;
    Ok(created.id)
}

/// Run the step's container to its end, its output sent to the client as it comes; an exit
/// code other than 0 fails the step with Docker's words.
pub async fn run(engine: &Engine, id: &str, command: &[String], output: &Output) -> Result<(), BuildError> {
    let step_error = |e: crate::container::ContainerError| BuildError::Step(e.to_string());
    let waiter = engine
        .containers
        .wait(id, WaitCondition::NextExit)
        .map_err(step_error)?;
    let (_tty, attached) = engine
        .containers
        .attach(id, false, true, true)
        .map_err(step_error)?;
    let forwarding = tokio::spawn(forward(attached, output.clone()));
    if let Err(e) = engine.containers.start(id).await {
        forwarding.abort();
        return Err(step_error(e));
    }
    let code = waiter.done().await;
    // The shim closes the stream when the process has ended: all output is in by then.
    let _ = forwarding.await;
    if code != 0 {
        return Err(BuildError::RunFailed {
            command: command.join(" "),
            code,
        });
    }
    Ok(())
}

/// Send what the container writes to the client: stdout as it is, stderr wrapped as Docker
/// wraps it.
async fn forward(attached: crate::container::AttachStream, output: Output) {
    let Ok(stream) = attached.await else {
        return;
    };
    let (frames, mut received) = mpsc::channel::<(Stream, Vec<u8>)>(64);
    // The stream is a blocking UNIX socket: read on a thread, send on the runtime.
    let reader = tokio::task::spawn_blocking(move || read_frames(stream, frames));
    while let Some((stream, bytes)) = received.recv().await {
        match stream {
            Stream::Stdout => output.run_stdout(&bytes).await,
            Stream::Stderr => output.run_stderr(&bytes).await,
        }
    }
    let _ = reader.await;
}

fn read_frames(stream: UnixStream, frames: mpsc::Sender<(Stream, Vec<u8>)>) {
    let mut reader = FrameReader::new(stream.take(u64::MAX));
    while let Ok(Some(frame)) = reader.next_frame() {
        if frames.blocking_send(frame).is_err() {
            break;
        }
    }
}

/// Commit the step's container as the next image: `config` is the image's config (what the
/// build state holds); `recorded` is the container config the image keeps (what the cache
/// compares), the container's own when `None`.
pub async fn commit(
    engine: &Engine,
    id: &str,
    config: ContainerConfig,
    recorded: Option<ContainerConfig>,
    author: &str,
) -> Result<Digest, BuildError> {
    let container = engine
        .containers
        .get(id)
        .map_err(|e| BuildError::Step(e.to_string()))?;
    let record = container.record();
    let upper = container.paths.upper();
    let images = engine.images.clone();
    let author = author.to_owned();
    tokio::task::spawn_blocking(move || {
        images.commit_container(CommitRequest {
            container_id: &record.id,
            image: Some(&record.image),
            top_layer: record.top_layer.as_ref(),
            upper: &upper,
            config,
            container_config: recorded.unwrap_or_else(|| record.config.clone()),
            author,
            comment: String::new(),
        })
    })
    .await
    .map_err(|e| BuildError::Step(e.to_string()))?
    .map_err(|e| BuildError::Step(e.to_string()))
}

/// The files in `dir` as the first image of a `FROM scratch` stage (no parent, no container).
pub async fn commit_directory(
    engine: &Engine,
    dir: &std::path::Path,
    config: ContainerConfig,
    recorded: ContainerConfig,
    author: &str,
) -> Result<Digest, BuildError> {
    let images = engine.images.clone();
    let (dir, author) = (dir.to_owned(), author.to_owned());
    tokio::task::spawn_blocking(move || {
        images.commit_container(CommitRequest {
            container_id: "",
            image: None,
            top_layer: None,
            upper: &dir,
            config,
            container_config: recorded,
            author,
            comment: String::new(),
        })
    })
    .await
    .map_err(|e| BuildError::Step(e.to_string()))?
    .map_err(|e| BuildError::Step(e.to_string()))
}

/// Make `dir` (and its parents, 0755, owned by root) in the container's root file system:
/// WORKDIR's directory, as Docker's `ContainerCreateWorkdir`.
pub async fn make_dir(engine: &Engine, id: &str, dir: &str) -> Result<(), BuildError> {
    let fs = engine
        .containers
        .open_root_fs(id)
        .await
        .map_err(|e| BuildError::Step(e.to_string()))?;
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let view = fs.view();
        let path = view
            .resolve(&crate::archive::clean(dir.as_bytes()), true)
            .map_err(|e| BuildError::Step(format!("mkdir {dir}: {e}")))?;
        super::copy::make_dirs(view, &path, (0, 0)).map_err(|e| BuildError::Step(e.to_string()))
    })
    .await
    .map_err(|e| BuildError::Step(e.to_string()))?
}

/// Remove the step's container (and its anonymous volumes, as Docker's builder does).
pub async fn remove(engine: &Engine, id: &str) -> Result<(), BuildError> {
    engine
        .containers
        .remove(id, true, true)
        .await
        .map_err(|e| BuildError::Step(e.to_string()))
}
