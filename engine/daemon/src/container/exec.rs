//! `docker exec`: another process in a running container, run by its shim.

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use berth_api::types::{ExecConfig, ExecInspect, ProcessConfig};
use serde_json::json;

use berth_api::detach_keys::{DEFAULT_DETACH_KEYS, detach_key_bytes};

use super::config::{process_env, replace_or_append_env};
use super::{Container, ContainerError, Containers, new_id, spec, user};

/// One exec instance.
#[derive(Debug, Clone)]
pub struct Exec {
    pub id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub started: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
    /// Becomes true once the exit code is known.
    pub done: Arc<tokio::sync::watch::Sender<bool>>,
    /// Seen ended by a garbage collection: the next one removes it (see
    /// [`Containers::collect_ended_execs`]).
    pub collectable: bool,
    /// When it was created, in the order of the container's execs.
    pub sequence: u64,
}

/// Most execs a container keeps: past it, creating one forgets the oldest ended ones (a client
/// that execs every second must not make the daemon grow between two collections).
const MAX_EXECS_KEPT: usize = 256;

/// A started exec: its stdio stream when attached.
#[derive(Debug)]
pub struct ExecStart {
    pub tty: bool,
    pub stream: Option<UnixStream>,
    /// The keys that end the attach when typed on its terminal: only with a tty and a stdin.
    pub detach_keys: Option<Vec<u8>>,
    /// What starts an attached exec's process: run it once the client has been answered, so
    /// its first output never arrives with the answer's headers (a client reading those through
    /// a buffer, as the Python SDK does, would lose it). dockerd starts it at that point too.
    pub launch: Option<ExecLaunch>,
}

/// An exec made and attached in the shim, its process not started yet.
#[derive(Debug)]
pub struct ExecLaunch {
    containers: Containers,
    container: Arc<Container>,
    exec_id: String,
    command: String,
}

impl ExecLaunch {
    /// Start the process; then its exit is watched (exec inspect, `exec_die`).
    pub async fn run(self) -> Result<(), ContainerError> {
        let shim = self.container.shim();
        let id = self.exec_id.clone();
        let started =
            tokio::task::spawn_blocking(move || shim.exec_start(&id).map_err(|e| e.to_string())).await?;
        let pid = match started {
            Ok(pid) => pid,
            Err(message) => return Err(self.failed(&message)),
        };
        let ExecLaunch {
            containers,
            container,
            exec_id,
            command,
        } = self;
        containers.with_exec(&container, &exec_id, |e| {
            e.running = true;
            e.pid = i64::from(pid);
        });
        containers.event(
            &container,
            &format!("exec_start: {command}"),
            &[("execID", exec_id.clone())],
        );
        tokio::spawn(async move {
            let shim = container.shim();
            let waited = {
                let id = exec_id.clone();
                tokio::task::spawn_blocking(move || shim.wait(&id)).await
            };
            let code = match waited {
                Ok(Ok(exit)) => i64::from(exit.exit_code),
                _ => 137,
            };
            containers.with_exec(&container, &exec_id, |e| {
                e.running = false;
                e.exit_code = Some(code);
                e.done.send_replace(true);
            });
            containers.event(
                &container,
                "exec_die",
                &[("execID", exec_id.clone()), ("exitCode", code.to_string())],
            );
        });
        Ok(())
    }

    /// It never ran: Docker reports 126 for it, and the runtime's words.
    fn failed(&self, message: &str) -> ContainerError {
        self.containers.with_exec(&self.container, &self.exec_id, |e| {
            e.exit_code = Some(126);
            e.done.send_replace(true);
        });
        ContainerError::Start(format!("OCI runtime exec failed: {message}"))
    }
}

/// Forget ended execs, oldest first, until at most `keep` are left (running ones are kept).
fn forget_oldest_ended(execs: &mut std::collections::BTreeMap<String, Exec>, keep: usize) {
    if execs.len() <= keep {
        return;
    }
    let mut ended: Vec<(u64, String)> = execs
        .values()
        .filter(|e| !e.running)
        .map(|e| (e.sequence, e.id.clone()))
        .collect();
    ended.sort();
    for (_, id) in ended.into_iter().take(execs.len() - keep) {
        execs.remove(&id);
    }
}

impl Containers {
    /// The container an exec belongs to.
    fn exec_owner(&self, exec_id: &str) -> Result<Arc<Container>, ContainerError> {
        self.all()
            .into_iter()
            .find(|c| {
                c.execs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(exec_id)
            })
            .ok_or_else(|| ContainerError::NoSuchExec(exec_id.to_owned()))
    }

    fn with_exec<T>(
        &self,
        container: &Container,
        exec_id: &str,
        f: impl FnOnce(&mut Exec) -> T,
    ) -> Option<T> {
        container
            .execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(exec_id)
            .map(f)
    }

    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, name: &str, config: ExecConfig) -> Result<String, ContainerError> {
        let container = self.get(name)?;
        let record = container.record();
        if !record.state.status.is_running() {
            return Err(ContainerError::not_running(&record.id));
        }
        if record.state.status == super::Status::Paused {
            return Err(ContainerError::Conflict(format!(
                "Container {name} is paused, unpause the container before exec"
            )));
        }
        if config.cmd.is_empty() {
            return Err(ContainerError::BadRequest("No exec command specified".into()));
        }
        if !config.detach_keys.is_empty() && detach_key_bytes(&config.detach_keys).is_err() {
            // dockerd's words, and its 500 (it gives this error no kind).
            return Err(ContainerError::Internal(format!(
                "Invalid escape keys ({}) provided",
                config.detach_keys
            )));
        }
        let id = new_id();
        let command = config.cmd.join(" ");
        let mut execs = container.execs.lock().unwrap_or_else(|p| p.into_inner());
        forget_oldest_ended(&mut execs, MAX_EXECS_KEPT - 1);
        let sequence = execs.values().map(|e| e.sequence + 1).max().unwrap_or(0);
        execs.insert(
            id.clone(),
            Exec {
                id: id.clone(),
                config,
                running: false,
                started: false,
                exit_code: None,
                pid: 0,
                done: Arc::new(tokio::sync::watch::channel(false).0),
                collectable: false,
                sequence,
            },
        );
        drop(execs);
        self.event(&container, &format!("exec_create: {command}"), &[]);
        Ok(id)
    }

    /// Forget the execs that ended, as dockerd's exec garbage collection does: an exec seen
    /// ended by one call is removed by the next, so its exit code stays readable for at least
    /// the time between two calls. Answers how many went.
    pub fn collect_ended_execs(&self) -> usize {
        let mut removed = 0;
        for container in self.all() {
            let mut execs = container.execs.lock().unwrap_or_else(|p| p.into_inner());
            let before = execs.len();
            // Never started (created and forgotten by a client) counts as ended too.
            execs.retain(|_, exec| exec.running || !exec.collectable);
            removed += before - execs.len();
            for exec in execs.values_mut() {
                exec.collectable = !exec.running;
            }
        }
        removed
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspect, ContainerError> {
        let container = self.exec_owner(exec_id)?;
        let exec = self
            .with_exec(&container, exec_id, |e| e.clone())
            .expect("owner has it");
        let (entrypoint, arguments) = exec
            .config
            .cmd
            .split_first()
            .map(|(e, a)| (e.clone(), a.to_vec()))
            .unwrap_or_default();
        Ok(ExecInspect {
            id: exec.id,
            running: exec.running,
            exit_code: exec.exit_code,
            process_config: ProcessConfig {
                privileged: exec.config.privileged,
                user: exec.config.user.clone(),
                tty: exec.config.tty,
                entrypoint,
                arguments,
            },
            open_stdin: exec.config.attach_stdin,
            open_stderr: exec.config.attach_stderr,
            open_stdout: exec.config.attach_stdout,
            can_remove: false,
            container_id: container.id.clone(),
            detach_keys: exec.config.detach_keys.clone(),
            pid: exec.pid,
        })
    }

    /// `POST /exec/{id}/start`: run the exec; unless detached, its stdio stream is returned
    /// (attached before the process runs, so no output is missed).
    pub async fn exec_start(&self, exec_id: &str, detach: bool) -> Result<ExecStart, ContainerError> {
        let container = self.exec_owner(exec_id)?;
        let exec = self
            .with_exec(&container, exec_id, |e| {
                let already = e.started;
                e.started = true;
                (already, e.clone())
            })
            .expect("owner has it");
        if exec.0 {
            return Err(ContainerError::Conflict(format!(
                "Error: Exec command {exec_id} is already running"
            )));
        }
        let exec = exec.1;
        let record = container.record();
        if !record.state.status.is_running() {
            return Err(ContainerError::not_running(&record.id));
        }
        let process = {
            let rootfs = container.paths.rootfs();
            let user_spec = if exec.config.user.is_empty() {
                record.config.user.clone()
            } else {
                exec.config.user.clone()
            };
            let group_add = record.host_config.group_add.clone().unwrap_or_default();
            let process_user =
                tokio::task::spawn_blocking(move || user::resolve(&rootfs, &user_spec, &group_add))
                    .await?
                    .map_err(|e| ContainerError::Start(e.to_string()))?;
            let caps = if exec.config.privileged {
                spec::ALL_CAPABILITIES.iter().map(|c| c.to_string()).collect()
            } else {
                spec::capabilities(&record.host_config)
                    .map_err(|e| ContainerError::BadRequest(e.to_string()))?
            };
            let env = replace_or_append_env(
                process_env(&record.config, &self.link_env(&record)),
                exec.config.env.as_deref().unwrap_or_default(),
            );
            let cwd = [
                exec.config.working_dir.as_str(),
                record.config.working_dir.as_str(),
            ]
            .into_iter()
            .find(|d| !d.is_empty())
            .unwrap_or("/")
            .to_owned();
            let mut user = json!({"uid": process_user.uid, "gid": process_user.gid});
            if !process_user.additional_gids.is_empty() {
                user["additionalGids"] = process_user.additional_gids.into();
            }
            json!({
                "terminal": exec.config.tty,
                "user": user,
                "args": exec.config.cmd,
                "env": env,
                "cwd": cwd,
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps},
                "noNewPrivileges": record.host_config.security_opt.iter().flatten().any(|o| o.starts_with("no-new-privileges")),
            })
        };
        let shim = container.shim();
        let (tty, stdin) = (exec.config.tty, exec.config.attach_stdin && !detach);
        let (out, err) = (exec.config.attach_stdout, exec.config.attach_stderr);
        let id = exec.id.clone();
        let prepared = tokio::task::spawn_blocking(move || -> Result<Option<UnixStream>, String> {
            shim.exec_create(&id, process, tty, stdin)
                .map_err(|e| e.to_string())?;
            if detach {
                return Ok(None);
            }
            Ok(Some(
                shim.attach(&id, stdin, out, err).map_err(|e| e.to_string())?,
            ))
        })
        .await?;
        let launch = ExecLaunch {
            containers: self.clone(),
            container: container.clone(),
            exec_id: exec_id.to_owned(),
            command: exec.config.cmd.join(" "),
        };
        let stream = match prepared {
            Ok(stream) => stream,
            Err(message) => return Err(launch.failed(&message)),
        };
        // Detached, it runs now; attached, once the client holds the stream (`ExecStart::launch`).
        let launch = match stream {
            None => {
                launch.run().await?;
                None
            }
            Some(_) => Some(launch),
        };
        let detach_keys = (tty && stdin).then(|| {
            detach_key_bytes(&exec.config.detach_keys)
                .ok()
                .filter(|keys| !keys.is_empty())
                .unwrap_or_else(|| DEFAULT_DETACH_KEYS.to_vec())
        });
        Ok(ExecStart {
            tty,
            stream,
            detach_keys,
            launch,
        })
    }

    /// The client typed the detach keys on an exec's terminal: it runs on, unwatched.
    pub fn exec_detached(&self, exec_id: &str) {
        if let Ok(container) = self.exec_owner(exec_id) {
            self.event(&container, "exec_detach", &[("execID", exec_id.to_owned())]);
        }
    }

    /// Until the exec has exited (its exit code is then in `exec_inspect`).
    pub async fn exec_wait(&self, exec_id: &str) -> Result<(), ContainerError> {
        let container = self.exec_owner(exec_id)?;
        let mut done = self
            .with_exec(&container, exec_id, |e| e.done.subscribe())
            .expect("owner has it");
        let _ = done.wait_for(|d| *d).await;
        Ok(())
    }

    /// `POST /exec/{id}/resize?h=…&w=…`.
    pub async fn exec_resize(&self, exec_id: &str, width: u16, height: u16) -> Result<(), ContainerError> {
        let container = self.exec_owner(exec_id)?;
        let shim = container.shim();
        let id = exec_id.to_owned();
        tokio::task::spawn_blocking(move || shim.resize(&id, width, height))
            .await?
            .map_err(|e| ContainerError::Conflict(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(sequence: u64, running: bool) -> Exec {
        Exec {
            id: format!("e{sequence}"),
            config: ExecConfig::default(),
            running,
            started: true,
            exit_code: (!running).then_some(0),
            pid: 0,
            done: Arc::new(tokio::sync::watch::channel(!running).0),
            collectable: false,
            sequence,
        }
    }

    #[test]
    fn the_oldest_ended_execs_go_first_and_running_ones_stay() {
        let mut execs: std::collections::BTreeMap<String, Exec> = (0..10)
            .map(|n| exec(n, n == 1 || n == 8))
            .map(|e| (e.id.clone(), e))
            .collect();
        forget_oldest_ended(&mut execs, 5);
        let mut left: Vec<&str> = execs.keys().map(String::as_str).collect();
        left.sort();
        assert_eq!(left, ["e1", "e6", "e7", "e8", "e9"]);
        // Nothing to forget under the bound.
        forget_oldest_ended(&mut execs, 5);
        assert_eq!(execs.len(), 5);
    }
}
