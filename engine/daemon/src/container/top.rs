//! `docker top`: the host's `ps` with the user's arguments, keeping the rows of the container's
//! processes (found in its cgroup).

use std::collections::BTreeSet;

use berth_api::types::ContainerTopResponse;

use super::{ContainerError, Containers};

impl Containers {
    /// `GET /containers/{id}/top?ps_args=…`: the host's `ps`, keeping the container's processes.
    pub async fn top(&self, name: &str, ps_args: &str) -> Result<ContainerTopResponse, ContainerError> {
        let container = self.get(name)?;
        let record = container.record();
        if !record.state.status.is_running() {
            return Err(ContainerError::not_running(&record.id));
        }
        let parent = if record.host_config.cgroup_parent.is_empty() {
            "berth"
        } else {
            record.host_config.cgroup_parent.trim_matches('/')
        };
        let relative = format!("{parent}/{}", record.id);
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.split_whitespace().map(str::to_owned).collect()
        };
        tokio::task::spawn_blocking(move || top_of_cgroup(&relative, &args)).await?
    }
}

/// The pids in a container's cgroup: the v1 pids hierarchy, else the v2 one.
fn cgroup_pids(relative: &str) -> BTreeSet<u32> {
    [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .iter()
    .filter_map(|root| std::fs::read_to_string(format!("{root}/{relative}/cgroup.procs")).ok())
    .find(|procs| !procs.trim().is_empty())
    .map(|procs| procs.lines().filter_map(|l| l.trim().parse().ok()).collect())
    .unwrap_or_default()
}

fn top_of_cgroup(relative: &str, ps_args: &[String]) -> Result<ContainerTopResponse, ContainerError> {
    let pids = cgroup_pids(relative);
    let output = std::process::Command::new("ps")
        .args(ps_args)
        .output()
        .map_err(|e| ContainerError::Internal(format!("error running ps: {e}")))?;
    if !output.status.success() {
        return Err(ContainerError::Internal(format!(
            "ps: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    parse_ps(&text, &pids)
}

/// Read `ps` output into titles and the rows of `pids`. Columns are found where every line is
/// blank, so a blank cell (a process may name itself "") stays in its column instead of
/// shifting the next ones; the last column (a command line, with spaces) takes the rest of the
/// line. Docker splits on whitespace; for the rows it can read, the answer is the same.
fn parse_ps(text: &str, pids: &BTreeSet<u32>) -> Result<ContainerTopResponse, ContainerError> {
    let lines: Vec<Vec<char>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().collect())
        .collect();
    let Some(header) = lines.first() else {
        return Err(ContainerError::Internal(
            "Couldn't find PID field in ps output".into(),
        ));
    };
    let titles: Vec<String> = String::from_iter(header.iter())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let pid_column = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ContainerError::Internal("Couldn't find PID field in ps output".into()))?;
    let spans = column_spans(&lines);
    let mut processes = Vec::new();
    for line in &lines[1..] {
        let row = if spans.len() >= titles.len() {
            cells_by_position(line, &spans, titles.len())
        } else {
            cells_by_whitespace(line, titles.len())
        };
        let pid = row.get(pid_column).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pids.contains(&pid)) {
            processes.push(row);
        }
    }
    Ok(ContainerTopResponse { titles, processes })
}

/// The character ranges of the columns: runs of positions where some line has text.
fn column_spans(lines: &[Vec<char>]) -> Vec<(usize, usize)> {
    let width = lines.iter().map(Vec::len).max().unwrap_or(0);
    let used: Vec<bool> = (0..width)
        .map(|i| lines.iter().any(|l| l.get(i).is_some_and(|c| !c.is_whitespace())))
        .collect();
    let mut spans = Vec::new();
    let mut start = None;
    for (i, &u) in used.iter().enumerate() {
        match (u, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, width));
    }
    spans
}

/// One cell per title from the column positions; the last title takes every column left.
fn cells_by_position(line: &[char], spans: &[(usize, usize)], titles: usize) -> Vec<String> {
    let cell = |from: usize, to: usize| -> String {
        let from = from.min(line.len());
        let to = to.min(line.len());
        String::from_iter(&line[from..to]).trim().to_owned()
    };
    let mut row: Vec<String> = spans[..titles - 1].iter().map(|&(a, b)| cell(a, b)).collect();
    row.push(cell(spans[titles - 1].0, line.len()));
    row
}

/// One cell per title by whitespace (Docker's way), blanks where the line is short.
fn cells_by_whitespace(line: &[char], titles: usize) -> Vec<String> {
    let text = String::from_iter(line);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let mut row: Vec<String> = (0..titles - 1)
        .map(|i| fields.get(i).copied().unwrap_or_default().to_owned())
        .collect();
    row.push(
        fields
            .get(titles - 1..)
            .map(|rest| rest.join(" "))
            .unwrap_or_default(),
    );
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pids(list: &[u32]) -> BTreeSet<u32> {
        list.iter().copied().collect()
    }

    #[test]
    fn rows_keep_commands_whole() {
        let text = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                    root          42       1  0 10:00 ?        00:00:00 sleep 600\n\
                    root          43      42  0 10:00 ?        00:00:00 sh -c echo a  b\n\
                    root          99       1  0 10:00 ?        00:00:00 other\n";
        let top = parse_ps(text, &pids(&[42, 43])).unwrap();
        assert_eq!(
            top.titles,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[0][7], "sleep 600");
        assert_eq!(top.processes[1][7], "sh -c echo a  b");
    }

    #[test]
    fn a_blank_cell_stays_in_its_column() {
        // `ps -o pid,comm,comm,user` of a process that named itself "".
        let text = "    PID COMMAND         COMMAND         USER\n\
                         42                                 root\n\
                         43 sleep           sleep           root\n";
        let top = parse_ps(text, &pids(&[42, 43])).unwrap();
        assert_eq!(top.processes[0], ["42", "", "", "root"]);
        assert_eq!(top.processes[1], ["43", "sleep", "sleep", "root"]);
        // Without a PID column, Docker's error; without output, too; never a panic.
        assert!(parse_ps("USER COMMAND\nroot sh\n", &pids(&[1])).is_err());
        assert!(parse_ps("", &pids(&[1])).is_err());
        assert!(parse_ps("PID\n", &pids(&[1])).unwrap().processes.is_empty());
    }
}
