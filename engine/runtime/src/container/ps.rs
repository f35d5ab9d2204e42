//! `ps`: the container's processes. The pids come from its cgroup; the table is the host's
//! `ps -ef` (or `ps` with the caller's options) cut down to those pids, as runc prints it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cgroups;
use crate::state::ContainerDir;

/// The container's pids, as seen from the host.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    Ok(cgroups::pids_of(&record.cgroup_dirs)?)
}

/// Run the host's `ps` with `ps_args` (`-ef` when there are none) and keep its header and the
/// lines of `pids`.
pub fn table(pids: &[i32], ps_args: &[String]) -> Result<String> {
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() { &default[..] } else { ps_args };
    let out = Command::new("ps").args(args).output().context("cannot run ps")?;
    if !out.status.success() {
        bail!(
            "ps {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    filter(&String::from_utf8_lossy(&out.stdout), pids)
}

/// The header line, then each line whose PID column holds one of `pids`.
pub fn filter(ps_output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = ps_output.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|title| title == "PID")
        .context("couldn't find PID field in ps output")?;
    let mut table = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(column).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .with_context(|| format!("unable to parse pid {field:?} in ps output"))?;
        if pids.contains(&pid) {
            table.push_str(line);
            table.push('\n');
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 07:00 ?        00:00:01 /sbin/init
root       17086       1  3 07:05 ?        00:00:00 sleep 1000
root       17090   17086  0 07:05 ?        00:00:00 sh -c echo 1 2 3
";

    #[test]
    fn keeps_the_header_and_the_container_lines() {
        let table = filter(PS_EF, &[17086, 17090]).expect("filter");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("UID"));
        assert!(lines[1].ends_with("sleep 1000"));
        assert!(lines[2].ends_with("sh -c echo 1 2 3"));
    }

    #[test]
    fn finds_the_pid_column_wherever_it_is() {
        let table = filter("COMMAND PID\nsleep 7\nsh 8\n", &[8]).expect("filter");
        assert_eq!(table, "COMMAND PID\nsh 8\n");
    }

    #[test]
    fn output_without_a_pid_column_is_an_error() {
        let err = filter("USER COMMAND\nroot sh\n", &[1]).expect_err("no PID column");
        assert!(err.to_string().contains("PID"), "{err}");
    }
}
