//! What each request of the socket protocol does (berth_shim::protocol lists them).

use std::fs;
use std::io;
use std::os::fd::AsFd;

use berth_api::explain::TARGET;
use berth_shim::protocol::{
    Empty, ExecIdError, PidReply, ProcessStatus, Request, ShimState, check_exec_id, error_line, ok_line,
};
use berth_shim::timefmt;
use tracing::info;

use crate::conn::{Attachment, Phase};
use crate::process::Process;
use crate::runtime::RuntimeError;
use crate::stdio::{self, ConsoleSocket};
use crate::supervisor::{INIT_INDEX, Supervisor};

/// Why a request was refused; the message is the reply's `error`.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// bad request: {0}
    #[error("bad request: {0}")]
    BadRequest(String),
    /// no such process: {0}
    #[error("no such process: {0}")]
    NoSuchProcess(String),
    /// process {0} has exited
    #[error("process {0} has exited")]
    Exited(String),
    /// cannot start container {id}: it is {status}, not created
    #[error("cannot start container {id}: it is {status}, not created")]
    NotCreated {
        /// The container id.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// container {0} is not running
    #[error("container {0} is not running")]
    NotRunning(String),
    /// process {0} has no tty
    #[error("process {0} has no tty")]
    NoTty(String),
    /// process {0} has no pty yet: start it first
    #[error("process {0} has no pty yet: start it first")]
    NoPtyYet(String),
    /// exec {0} already exists
    #[error("exec {0} already exists")]
    ExecExists(String),
    /// exec {0} has already started
    #[error("exec {0} has already started")]
    ExecStarted(String),
    /// the exec's process must be a JSON object
    #[error("the exec's process must be a JSON object")]
    ExecProcessNotObject,
    /// {0}
    #[error(transparent)]
    BadExecId(#[from] ExecIdError),
    /// {0}
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// could not {action}: {source}
    #[error("could not {action}: {source}")]
    Io {
        /// What the shim tried.
        action: String,
        /// The I/O error.
        source: io::Error,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> RequestError {
    let action = action.into();
    move |source| RequestError::Io { action, source }
}

/// What the connection does after a request.
enum Outcome {
    /// Send this reply line and close.
    Reply(String),
    /// Send `{"ok":true}`, then stream.
    Attach(Attachment),
    /// Reply when this process has exited.
    Wait(usize),
}

fn status_name(status: ProcessStatus) -> &'static str {
    match status {
        ProcessStatus::Created => "created",
        ProcessStatus::Running => "running",
        ProcessStatus::Stopped => "stopped",
    }
}

impl Supervisor {
    /// Run the request on connection `conn`; `rest` is what the client sent after the request line
    /// (stdin for an attach).
    pub fn handle_request(&mut self, conn: usize, line: &[u8], rest: &[u8]) {
        let outcome = serde_json::from_slice::<Request>(line)
            .map_err(|e| RequestError::BadRequest(e.to_string()))
            .and_then(|request| self.execute(request));
        match outcome {
            Ok(Outcome::Reply(reply)) => self.conns[conn].reply_and_close(&reply),
            Err(e) => self.conns[conn].reply_and_close(&error_line(&e.to_string())),
            Ok(Outcome::Wait(process)) => {
                if let (true, Some(exit)) = (self.processes[process].done, &self.processes[process].exit) {
                    let reply = ok_line(exit);
                    self.conns[conn].reply_and_close(&reply);
                } else {
                    self.conns[conn].phase = Phase::Waiting(process);
                }
            }
            Ok(Outcome::Attach(attachment)) => {
                self.conns[conn].phase = Phase::Attached(attachment);
                self.conns[conn].send(ok_line(&Empty {}).as_bytes());
                if attachment.stdin && !rest.is_empty() {
                    self.write_stdin(attachment.process, rest);
                }
            }
        }
    }

    fn execute(&mut self, request: Request) -> Result<Outcome, RequestError> {
        match request {
            Request::Attach {
                process,
                stdin,
                stdout,
                stderr,
            } => self.attach(&process, stdin, stdout, stderr),
            Request::Start => self.start().map(|pid| Outcome::Reply(ok_line(&PidReply { pid }))),
            Request::Kill { signal, all } => self
                .kill(signal, all)
                .map(|()| Outcome::Reply(ok_line(&Empty {}))),
            Request::Pause => self.freeze(true).map(|()| Outcome::Reply(ok_line(&Empty {}))),
            Request::Resume => self.freeze(false).map(|()| Outcome::Reply(ok_line(&Empty {}))),
            Request::Update { resources } => self
                .update(&resources)
                .map(|()| Outcome::Reply(ok_line(&Empty {}))),
            Request::Resize {
                process,
                width,
                height,
            } => self
                .resize(&process, width, height)
                .map(|()| Outcome::Reply(ok_line(&Empty {}))),
            Request::Wait { process } => self.process_index(&process).map(Outcome::Wait),
            Request::ExecCreate {
                id,
                process,
                tty,
                stdin,
            } => self
                .exec_create(&id, process, tty, stdin)
                .map(|()| Outcome::Reply(ok_line(&Empty {}))),
            Request::ExecStart { id } => self
                .exec_start(&id)
                .map(|pid| Outcome::Reply(ok_line(&PidReply { pid }))),
            Request::State => {
                let pid = self.processes[INIT_INDEX].pid.unwrap_or(0);
                Ok(Outcome::Reply(ok_line(&ShimState {
                    status: self.status,
                    pid,
                })))
            }
        }
    }

    fn process_index(&self, name: &str) -> Result<usize, RequestError> {
        self.find(name)
            .ok_or_else(|| RequestError::NoSuchProcess(name.to_owned()))
    }

    fn attach(
        &mut self,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<Outcome, RequestError> {
        let index = self.process_index(name)?;
        let process = &self.processes[index];
        if process.done {
            return Err(RequestError::Exited(name.to_owned()));
        }
        Ok(Outcome::Attach(Attachment {
            process: index,
            stdin: stdin && process.wants_stdin,
            stdout,
            stderr,
        }))
    }

    fn start(&mut self) -> Result<i32, RequestError> {
        if self.status != ProcessStatus::Created {
            return Err(RequestError::NotCreated {
                id: self.id.clone(),
                status: status_name(self.status),
            });
        }
        self.runtime.start()?;
        self.status = ProcessStatus::Running;
        self.processes[INIT_INDEX].started = true;
        Ok(self.processes[INIT_INDEX].pid.unwrap_or(0))
    }

    fn kill(&mut self, signal: i32, all: bool) -> Result<(), RequestError> {
        if self.processes[INIT_INDEX].exit.is_some() {
            return Err(RequestError::NotRunning(self.id.clone()));
        }
        Ok(self.runtime.kill(signal, all)?)
    }

    /// Pause (freeze) or resume (thaw) the container.
    fn freeze(&mut self, frozen: bool) -> Result<(), RequestError> {
        if self.processes[INIT_INDEX].exit.is_some() {
            return Err(RequestError::NotRunning(self.id.clone()));
        }
        if frozen {
            Ok(self.runtime.pause()?)
        } else {
            Ok(self.runtime.resume()?)
        }
    }

    fn update(&mut self, resources: &serde_json::Value) -> Result<(), RequestError> {
        if self.processes[INIT_INDEX].exit.is_some() {
            return Err(RequestError::NotRunning(self.id.clone()));
        }
        if !resources.is_object() {
            return Err(RequestError::BadRequest("resources must be a JSON object".into()));
        }
        let file = self.state.update_resources();
        fs::write(&file, resources.to_string()).map_err(io_error(format!("write {}", file.display())))?;
        let result = self.runtime.update(&file);
        let _ = fs::remove_file(&file);
        Ok(result?)
    }

    fn resize(&mut self, name: &str, width: u16, height: u16) -> Result<(), RequestError> {
        let process = &self.processes[self.process_index(name)?];
        if !process.tty {
            return Err(RequestError::NoTty(name.to_owned()));
        }
        let Some(master) = &process.master else {
            return Err(RequestError::NoPtyYet(name.to_owned()));
        };
        stdio::set_window_size(master.as_fd(), width, height).map_err(io_error("resize the pty"))?;
        info!(target: TARGET, "set the pty window of {name} to {width}x{height} (TIOCSWINSZ on its master)");
        Ok(())
    }

    fn exec_create(
        &mut self,
        id: &str,
        mut spec: serde_json::Value,
        tty: bool,
        stdin: bool,
    ) -> Result<(), RequestError> {
        check_exec_id(id)?;
        if self.find(id).is_some() {
            return Err(RequestError::ExecExists(id.to_owned()));
        }
        if self.processes[INIT_INDEX].exit.is_some() {
            return Err(RequestError::NotRunning(self.id.clone()));
        }
        spec.as_object_mut()
            .ok_or(RequestError::ExecProcessNotObject)?
            .insert("terminal".into(), tty.into());
        // Docker closes an exec's stdin when the attached client closes its side: stdin-once.
        let mut process = if tty {
            Process::for_pty(id, stdin, true)
        } else {
            let process = Process::with_pipes(id, stdin, true).map_err(io_error("make the exec's pipes"))?;
            let which = if stdin {
                "stdin, stdout and stderr"
            } else {
                "stdout and stderr"
            };
            info!(target: TARGET, "made pipes for the {which} of exec {id}");
            process
        };
        process.spec = Some(spec);
        self.processes.push(process);
        Ok(())
    }

    fn exec_start(&mut self, id: &str) -> Result<i32, RequestError> {
        let index = self.process_index(id)?;
        if index == INIT_INDEX {
            return Err(RequestError::BadExecId(ExecIdError::Reserved));
        }
        if self.processes[index].started {
            return Err(RequestError::ExecStarted(id.to_owned()));
        }
        if self.status != ProcessStatus::Running {
            return Err(RequestError::NotRunning(self.id.clone()));
        }
        self.processes[index].started = true;
        let result = self.run_exec(index, id);
        let _ = fs::remove_file(self.state.exec_process(id));
        let _ = fs::remove_file(self.state.exec_pid(id));
        if result.is_err() {
            // It never ran: its waiters learn so with Docker's "cannot run" code.
            self.processes[index].release_io();
            self.set_exit(index, 126, timefmt::now_rfc3339_nano());
        }
        result
    }

    fn run_exec(&mut self, index: usize, id: &str) -> Result<i32, RequestError> {
        let spec_file = self.state.exec_process(id);
        let pid_file = self.state.exec_pid(id);
        let spec = self.processes[index].spec.take().unwrap_or_default();
        fs::write(&spec_file, spec.to_string())
            .map_err(io_error(format!("write {}", spec_file.display())))?;
        let tty = self.processes[index].tty;
        let console = if tty {
            let console = ConsoleSocket::bind(&self.state.console_socket())
                .map_err(io_error("bind the console socket"))?;
            info!(target: TARGET, "bound {} for the runtime to send exec {id}'s pty master", console.path().display());
            Some(console)
        } else {
            None
        };
        let io = self.processes[index].child_io.take();
        self.runtime
            .exec(&spec_file, &pid_file, console.as_ref().map(|c| c.path()), io)?;
        if let Some(console) = &console {
            let (master, name) = console
                .take_master()
                .map_err(io_error("receive the exec's pty master"))?;
            info!(target: TARGET, "received the pty master of {name} for exec {id} over the console socket");
            self.processes[index]
                .attach_pty(master)
                .map_err(io_error("use the exec's pty"))?;
        }
        let pid = read_pid_file(&pid_file).map_err(io_error(format!("read {}", pid_file.display())))?;
        info!(target: TARGET, "ran {} exec for container {}: exec {id} runs as pid {pid}", self.runtime.name(), self.id);
        self.processes[index].pid = Some(pid);
        self.claim_orphan_exit(index);
        Ok(pid)
    }
}

/// A pid file written by the runtime.
pub fn read_pid_file(path: &std::path::Path) -> io::Result<i32> {
    fs::read_to_string(path)?
        .trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not a pid: {e}")))
}
