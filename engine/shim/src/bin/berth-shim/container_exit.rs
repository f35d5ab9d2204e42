//! What happens when the container's init has exited and its output has drained: OOM check,
//! `exit.json`, `runtime delete`. (Answering waiters and closing streams is the same for every
//! process: see the supervisor.)

use std::time::Instant;

use berth_api::explain::TARGET;
use berth_shim::protocol::ProcessStatus;
use tracing::{info, warn};

use crate::cgroup;
use crate::supervisor::{INIT_INDEX, Supervisor};

impl Supervisor {
    /// Record the container's exit and remove it from the runtime.
    pub fn record_container_exit(&mut self) {
        let oom_killed = self.oom_killed();
        let Some(exit) = &mut self.processes[INIT_INDEX].exit else {
            return;
        };
        exit.oom_killed = oom_killed;
        let exit = exit.clone();
        match exit.write_to_state_dir(self.state.dir()) {
            Ok(()) => info!(
                target: TARGET,
                "recorded the exit of container {}: code {}, oom killed {}, in {}",
                self.id,
                exit.exit_code,
                exit.oom_killed,
                self.state.exit_file().display()
            ),
            Err(e) => warn!("could not write {}: {e}", self.state.exit_file().display()),
        }
        // The cgroup is read above, before delete removes it.
        if let Err(e) = self.runtime.delete(false) {
            warn!("{} delete failed, forcing it: {e}", self.runtime.name());
            if let Err(e) = self.runtime.delete(true) {
                warn!("{} delete --force failed: {e}", self.runtime.name());
            }
        }
        self.status = ProcessStatus::Stopped;
        self.stopping_since = Some(Instant::now());
    }

    /// Did the kernel OOM-kill a process of the container's memory cgroup?
    fn oom_killed(&self) -> bool {
        let Some(path) = &self.cgroups_path else {
            return false;
        };
        let Some(file) = cgroup::oom_counter_file(std::path::Path::new(cgroup::CGROUP_ROOT), path) else {
            warn!("no memory cgroup counter found for {path}");
            return false;
        };
        match cgroup::read_oom_kills(&file) {
            Ok(count) => count > 0,
            Err(e) => {
                warn!("could not read {}: {e}", file.display());
                false
            }
        }
    }
}
