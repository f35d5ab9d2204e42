//! What a build is asked to do: `POST /build`'s query, as Docker's `ImageBuildOptions`.

use std::collections::BTreeMap;

/// The options of one build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `t`: the names to tag the result with (several allowed).
    pub tags: Vec<String>,
    /// `dockerfile`: the Dockerfile's path in the context (`Dockerfile` when empty).
    pub dockerfile: String,
    /// `buildargs`: `--build-arg`s; `None` for a name given without a value and not set in the
    /// client's environment (only warned about when no ARG declares it).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `target`: the stage to stop at.
    pub target: String,
    /// `nocache`.
    pub no_cache: bool,
    /// `pull`: pull the FROM images even when present.
    pub pull: bool,
    /// `rm` (on unless `rm=0`): remove each step's container once committed.
    pub remove: bool,
    /// `forcerm`: remove the containers of failed steps too.
    pub force_remove: bool,
    /// `labels`: set on the final image.
    pub labels: BTreeMap<String, String>,
    /// `q`: print only the image id.
    pub quiet: bool,
    /// `cachefrom`: images to take cached steps from.
    pub cache_from: Vec<String>,
    /// `networkmode` for RUN (`default` when empty).
    pub network_mode: String,
    /// `shmsize`, `memory`, `memswap`, `cpushares`, `cpuperiod`, `cpuquota` for RUN.
    pub shm_size: i64,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    /// `cpusetcpus`, `cpusetmems`, `cgroupparent` for RUN.
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub cgroup_parent: String,
    /// `extrahosts`: `name:ip` lines for RUN's /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// `platform`: only this machine's is built.
    pub platform: String,
}
