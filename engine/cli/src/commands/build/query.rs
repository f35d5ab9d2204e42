//! The query string of `POST /build`, as docker/cli's `imageBuildOptionsToQuery` writes it for
//! the classic builder: every key it always sends (empty or zero when not set), the optional
//! ones only when set, maps and lists as JSON, keys in Go's `url.Values` order (sorted).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::BuildArgs;
use crate::commands::container::request::{parse_ulimit, ram_in_bytes};

/// A flag value that does not parse, in pflag's words (`invalid argument … for … flag: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")]
pub struct FlagError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

fn size(flag: &'static str, value: Option<&str>) -> Result<i64, FlagError> {
    match value {
        None => Ok(0),
        Some(text) => ram_in_bytes(text).ok_or_else(|| FlagError {
            flag,
            value: text.to_owned(),
            reason: format!("invalid size: '{text}'"),
        }),
    }
}

/// The query's pairs for `args`, the Dockerfile's name in the context being `dockerfile` and
/// `proxies` the config file's proxy settings (`HTTP_PROXY`, value).
pub fn pairs(
    args: &BuildArgs,
    dockerfile: &str,
    proxies: &[(String, String)],
) -> Result<Vec<(&'static str, String)>, FlagError> {
    let memory = size("-m, --memory", args.memory.as_deref())?;
    // docker/cli's MemSwapBytes: -1 is unlimited swap.
    let memory_swap = match args.memory_swap.as_deref() {
        Some("-1") => -1,
        other => size("--memory-swap", other)?,
    };
    let shm_size = size("--shm-size", args.shm_size.as_deref())?;
    let ulimits = args
        .ulimit
        .iter()
        .map(|text| {
            parse_ulimit(text)
                .map(GoUlimit::from)
                .map_err(|reason| FlagError {
                    flag: "--ulimit",
                    value: text.clone(),
                    reason,
                })
        })
        .collect::<Result<Vec<GoUlimit>, _>>()?;

    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    pairs.extend(args.tag.iter().map(|tag| ("t", tag.clone())));
    pairs.extend(args.security_opt.iter().map(|opt| ("securityopt", opt.clone())));
    pairs.extend(args.add_host.iter().map(|host| ("extrahosts", host.clone())));
    if args.quiet {
        pairs.push(("q", "1".into()));
    }
    if args.no_cache {
        pairs.push(("nocache", "1".into()));
    }
    pairs.push(("rm", if args.rm { "1" } else { "0" }.into()));
    if args.force_rm {
        pairs.push(("forcerm", "1".into()));
    }
    if args.pull {
        pairs.push(("pull", "1".into()));
    }
    if args.squash {
        pairs.push(("squash", "1".into()));
    }
    // "default" and "" are the default isolation, which is not sent.
    if !args.isolation.is_empty() && !args.isolation.eq_ignore_ascii_case("default") {
        pairs.push(("isolation", args.isolation.clone()));
    }
    pairs.push(("cpusetcpus", args.cpuset_cpus.clone()));
    pairs.push(("networkmode", args.network.clone()));
    pairs.push(("cpusetmems", args.cpuset_mems.clone()));
    pairs.push(("cpushares", args.cpu_shares.to_string()));
    pairs.push(("cpuquota", args.cpu_quota.to_string()));
    pairs.push(("cpuperiod", args.cpu_period.to_string()));
    pairs.push(("memory", memory.to_string()));
    pairs.push(("memswap", memory_swap.to_string()));
    pairs.push(("cgroupparent", args.cgroup_parent.clone()));
    pairs.push(("shmsize", shm_size.to_string()));
    pairs.push(("dockerfile", dockerfile.to_owned()));
    pairs.push(("target", args.target.clone()));
    // Go marshals a nil slice as null, and docker/cli's ulimits are nil when none is given.
    pairs.push((
        "ulimits",
        if ulimits.is_empty() {
            "null".into()
        } else {
            json(&ulimits)
        },
    ));
    pairs.push(("buildargs", json(&build_args(&args.build_arg, proxies))));
    pairs.push(("labels", json(&labels(&args.label))));
    pairs.push(("cachefrom", json(&args.cache_from)));
    if !args.platform.is_empty() {
        pairs.push(("platform", args.platform.to_lowercase()));
    }
    // The classic builder, "1" (BuildKit is "2").
    pairs.push(("version", "1".into()));
    // Go's url.Values.Encode sorts by key; values of one key keep their order.
    pairs.sort_by_key(|(key, _)| *key);
    Ok(pairs)
}

/// `KEY=VALUE` → `"KEY":"VALUE"`, a bare `KEY` (unset in the client's environment) → null,
/// so that the Dockerfile's default applies (docker/cli's `ConvertKVStringsToMapWithNil`);
/// then the configured proxies, upper and lower case, where the flags set neither (its
/// `ParseProxyConfig`).
fn build_args(values: &[String], proxies: &[(String, String)]) -> BTreeMap<String, Option<String>> {
    let mut args: BTreeMap<String, Option<String>> = values
        .iter()
        .map(|value| match value.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (value.clone(), None),
        })
        .collect();
    for (name, value) in proxies {
        args.entry(name.clone()).or_insert_with(|| Some(value.clone()));
        args.entry(name.to_lowercase())
            .or_insert_with(|| Some(value.clone()));
    }
    args
}

/// `KEY=VALUE` → `"KEY":"VALUE"`, a bare `KEY` → `"KEY":""`.
fn labels(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|value| match value.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (value.clone(), String::new()),
        })
        .collect()
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("query values serialize")
}

/// go-units' `Ulimit` as Go marshals it: `{"Name":…,"Hard":…,"Soft":…}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GoUlimit {
    name: String,
    hard: i64,
    soft: i64,
}

impl From<berth_api::types::Ulimit> for GoUlimit {
    fn from(u: berth_api::types::Ulimit) -> GoUlimit {
        GoUlimit {
            name: u.name,
            hard: u.hard,
            soft: u.soft,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn build(args: &[&str]) -> BuildArgs {
        let argv = ["berth", "build"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).expect("parses").command {
            Some(Command::Build(args)) => *args,
            other => panic!("not a build: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_sent_as_docker_cli_sends_them() {
        let pairs = pairs(
            &build(&[
                "-t",
                "x:1",
                "--build-arg",
                "A=b",
                "--build-arg",
                "BERTH_UNSET_ARG",
                ".",
            ]),
            "Dockerfile",
            &[],
        )
        .unwrap();
        let query = berth_api::client::query(&pairs).unwrap();
        assert_eq!(
            query,
            "?buildargs=%7B%22A%22%3A%22b%22%2C%22BERTH_UNSET_ARG%22%3Anull%7D&cachefrom=%5B%5D&cgroupparent=&cpuperiod=0&cpuquota=0&cpusetcpus=&cpusetmems=&cpushares=0&dockerfile=Dockerfile&labels=%7B%7D&memory=0&memswap=0&networkmode=default&rm=1&shmsize=0&t=x%3A1&target=&ulimits=null&version=1"
        );
    }

    #[test]
    fn configured_proxies_fill_in_what_the_flags_leave() {
        let proxies = [("HTTP_PROXY".to_owned(), "http://p:3128".to_owned())];
        let args = build_args(&["http_proxy=mine".to_owned()], &proxies);
        let json = serde_json::to_string(&args).unwrap();
        assert_eq!(json, r#"{"HTTP_PROXY":"http://p:3128","http_proxy":"mine"}"#);
    }

    #[test]
    fn sizes_and_ulimits_are_checked() {
        let error = pairs(&build(&["-m", "lots", "."]), "Dockerfile", &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"
        );
        let pairs = pairs(
            &build(&[
                "--memory-swap",
                "-1",
                "--ulimit",
                "nofile=10:20",
                "--shm-size",
                "1m",
                ".",
            ]),
            "x",
            &[],
        )
        .unwrap();
        let get = |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("memswap"), Some("-1"));
        assert_eq!(get("shmsize"), Some("1048576"));
        assert_eq!(get("ulimits"), Some(r#"[{"Name":"nofile","Hard":20,"Soft":10}]"#));
    }
}
