//! The user's terminal: raw mode while a `-it` session runs (restored however the session ends),
//! its window size, and resizes forwarded to the container's pty on `SIGWINCH`.

use std::io::IsTerminal;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};

use berth_api::client::Client;
use nix::sys::termios::{self, SetArg, Termios};

/// The terminal's settings before raw mode; dropping (or [`RawMode::restore`]) puts them back.
#[derive(Debug)]
pub struct RawMode {
    saved: Mutex<Option<Termios>>,
}

impl RawMode {
    /// Put stdin in raw mode (moby/term `MakeRaw`: no echo, no line editing, no signals from
    /// keys: Ctrl-C reaches the container as a byte). `None` when stdin is not a terminal.
    pub fn enable() -> Option<Arc<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Arc::new(RawMode {
            saved: Mutex::new(Some(saved)),
        }))
    }

    /// Restore the saved settings (once; later calls do nothing).
    pub fn restore(&self) {
        let saved = self.saved.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(saved) = saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &saved);
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

/// The window size of the terminal on `fd`: (rows, columns), or `None` when it is no terminal.
fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    use std::os::fd::AsRawFd;
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass, which lives for the call;
    // the fd is borrowed, so it is open.
    let result = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (result == 0).then_some((size.ws_row, size.ws_col))
}

/// The size of the terminal stdout is on (Docker sizes the container's pty by its output).
pub fn stdout_size() -> Option<(u16, u16)> {
    window_size(std::io::stdout().as_fd())
}

/// Whose pty a resize is for.
#[derive(Debug, Clone)]
pub enum ResizeTarget {
    Container(String),
    Exec(String),
}

impl ResizeTarget {
    fn path(&self, rows: u16, columns: u16) -> String {
        match self {
            ResizeTarget::Container(id) => format!("/containers/{id}/resize?h={rows}&w={columns}"),
            ResizeTarget::Exec(id) => format!("/exec/{id}/resize?h={rows}&w={columns}"),
        }
    }
}

/// Send the terminal's size to the container's (or exec's) pty.
pub async fn resize(client: &Client, target: &ResizeTarget) -> Result<(), berth_api::client::ClientError> {
    resize_by(client, target, 0).await
}

/// Send the terminal's size plus `extra` rows and columns.
async fn resize_by(
    client: &Client,
    target: &ResizeTarget,
    extra: u16,
) -> Result<(), berth_api::client::ClientError> {
    let Some((rows, columns)) = stdout_size() else {
        return Ok(());
    };
    let (rows, columns) = (rows.saturating_add(extra), columns.saturating_add(extra));
    if rows == 0 && columns == 0 {
        return Ok(());
    }
    client.call(http::Method::POST, &target.path(rows, columns)).await
}

/// Docker's `MonitorTtySize`: size the pty now (retrying briefly: the process may still be
/// starting), then again on every `SIGWINCH`, until the returned task is dropped or aborted.
pub fn monitor_size(client: &Client, target: ResizeTarget) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        for attempt in 0..5u64 {
            if resize(&client, &target).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 * (attempt + 1))).await;
        }
        let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while winch.recv().await.is_some() {
            let _ = resize(&client, &target).await;
        }
    })
}

/// Docker's `resizeTTY` for `attach`: one row and column too many, then the real size, so a
/// shell that is waiting at its prompt redraws it for the newcomer.
pub fn monitor_size_nudged(client: &Client, target: ResizeTarget) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        let _ = resize_by(&client, &target, 1).await;
        let _ = monitor_size(&client, target).await;
    })
}

/// Docker's `CheckTty`: a tty with stdin attached needs a terminal on stdin.
pub fn check_tty(attach_stdin: bool, tty: bool) -> Result<(), super::Failure> {
    if tty && attach_stdin && !std::io::stdin().is_terminal() {
        return Err(super::Failure::new("the input device is not a TTY"));
    }
    Ok(())
}
