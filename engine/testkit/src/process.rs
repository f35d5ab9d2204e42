/// The `State:` letter of a process in /proc (`S` sleeping, `D` also for a task stopped in a
/// cgroup freezer); `?` when the process is gone.
pub fn state_letter(pid: i64) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("State:"))
        .and_then(|state| state.trim().chars().next())
        .unwrap_or('?')
}
