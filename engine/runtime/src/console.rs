//! The container's terminal: a pty made inside the container, its master sent to the caller.
//!
//! As runc does, the master is opened from the container's own `/dev/ptmx` (its devpts
//! instance), sent over the `--console-socket` UNIX socket with SCM_RIGHTS, and closed here; the
//! slave becomes the process's controlling terminal and its stdin, stdout and stderr.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::sys::stat::Mode;

/// Errors while setting up the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// cannot connect to the console socket
    #[error("cannot connect to console socket {path}: {source}")]
    Connect {
        /// The socket path.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// cannot set up the pseudo-terminal
    #[error("cannot set up the pseudo-terminal: {0}")]
    Pty(nix::Error),
}

/// Connect to the caller's console socket (in the parent, before any namespace changes).
pub fn connect(path: &Path) -> Result<UnixStream, ConsoleError> {
    UnixStream::connect(path).map_err(|source| ConsoleError::Connect {
        path: path.display().to_string(),
        source,
    })
}

/// Make the pty, send its master over `socket`, and make the slave our terminal and stdio.
/// `console_size` is `(height, width)`; `mount_console` bind-mounts the slave on /dev/console.
pub fn setup(
    socket: &UnixStream,
    console_size: Option<(u16, u16)>,
    mount_console: bool,
) -> Result<(), ConsoleError> {
    let master =
        posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(ConsoleError::Pty)?;
    grantpt(&master).map_err(ConsoleError::Pty)?;
    unlockpt(&master).map_err(ConsoleError::Pty)?;
    let slave_name = ptsname_r(&master).map_err(ConsoleError::Pty)?;

    let fds = [master.as_raw_fd()];
    // runc sends the master's name as the message body; callers only use the fd.
    let body = [IoSlice::new(b"/dev/ptmx")];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &body,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(ConsoleError::Pty)?;
    drop(master);

    let slave = nix::fcntl::open(
        slave_name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(ConsoleError::Pty)?;
    // SAFETY: `slave` was just opened and is owned by nobody else.
    let slave = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(slave) };
    if let Some((rows, cols)) = console_size {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the valid pointer.
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    }
    if mount_console {
        let console = Path::new("/dev/console");
        if !console.exists() {
            let _ = std::fs::File::create(console);
        }
        nix::mount::mount(
            Some(slave_name.as_str()),
            console,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(ConsoleError::Pty)?;
        crate::explain!("bind-mounted {slave_name} at /dev/console");
    }
    // SAFETY: TIOCSCTTY on a terminal fd we own; we are a session leader without a terminal.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(ConsoleError::Pty(nix::Error::last()));
    }
    for target in 0..=2 {
        nix::unistd::dup2(slave.as_raw_fd(), target).map_err(ConsoleError::Pty)?;
    }
    crate::explain!("made {slave_name} the controlling terminal and sent its master to the caller");
    Ok(())
}
