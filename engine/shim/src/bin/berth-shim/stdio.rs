//! The container's stdio: pipes, or a pty master received from the runtime.

use std::fs;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

/// A pipe `(read end, write end)`, both close-on-exec so no runtime or container inherits them
/// unless handed over as its stdio.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

/// Make reads and writes on `fd` return `WouldBlock` instead of waiting: the shim's poll loop
/// must never stall on one container's stream.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Read from a nonblocking fd. `Ok(0)` is the end of the stream; a pty master whose slave is
/// closed by everyone reports `EIO`, which is its end of stream too.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    match nix::unistd::read(fd.as_raw_fd(), buf) {
        Ok(n) => Ok(n),
        Err(nix::errno::Errno::EIO) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Write to a nonblocking fd.
pub fn write(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    Ok(nix::unistd::write(fd, data)?)
}

/// Set a pty's window size (TIOCSWINSZ on the master); the kernel sends SIGWINCH to the
/// foreground process group of the terminal.
pub fn set_window_size(master: BorrowedFd<'_>, width: u16, height: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` through the pointer, which points to a live local
    // of exactly that type; the fd is borrowed, so it stays open for the call.
    let result = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The socket a runtime sends a pty master to (`--console-socket`), as runc does: it connects,
/// sends the terminal's name with the master fd attached (SCM_RIGHTS) and closes.
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Bind at `path` (a stale socket there from a crashed shim is replaced).
    pub fn bind(path: &Path) -> io::Result<Self> {
        let _ = fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            path: path.to_owned(),
        })
    }

    /// Where it is bound.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the master the runtime sent, after the runtime command has exited: its connection
    /// and message wait in the socket's queue until accepted. Returns the master and the name of
    /// the terminal (`/dev/pts/3`).
    pub fn take_master(&self) -> io::Result<(OwnedFd, String)> {
        let (connection, _) = self.listener.accept().map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "the runtime did not send a pty master to the console socket",
                )
            } else {
                e
            }
        })?;
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let message = recvmsg::<()>(
            connection.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut received = Vec::new();
        for control in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = control {
                // SAFETY: SCM_RIGHTS just installed these fds in this process for us; nothing
                // else knows them, so each gets exactly one owner here.
                received.extend(fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        let length = message.bytes;
        let name = String::from_utf8_lossy(&name[..length])
            .trim_end_matches('\0')
            .to_owned();
        let master = received.into_iter().next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the console socket message carried no fd",
            )
        })?;
        set_nonblocking(master.as_fd())?;
        Ok((master, name))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn pipes_are_close_on_exec() {
        let (read, write) = pipe().unwrap();
        for fd in [&read, &write] {
            let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFD).unwrap();
            assert_ne!(flags & libc::FD_CLOEXEC, 0);
        }
    }

    #[test]
    fn nonblocking_read_of_an_empty_pipe_would_block() {
        let (read_end, write_end) = pipe().unwrap();
        set_nonblocking(read_end.as_fd()).unwrap();
        let mut buf = [0u8; 8];
        let err = read(read_end.as_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        write(write_end.as_fd(), b"hi").unwrap();
        assert_eq!(read(read_end.as_fd(), &mut buf).unwrap(), 2);
        drop(write_end);
        assert_eq!(read(read_end.as_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn console_socket_receives_an_fd_sent_before_accept() {
        let dir = tempfile::tempdir().unwrap();
        let console = ConsoleSocket::bind(&dir.path().join("console.sock")).unwrap();
        let (read_end, write_end) = pipe().unwrap();
        {
            // What runc does: connect, send the name with the fd, close; all before we accept.
            let sender = UnixStream::connect(console.path()).unwrap();
            let fds = [write_end.as_raw_fd()];
            let control = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
            let iov = [std::io::IoSlice::new(b"/dev/pts/9")];
            nix::sys::socket::sendmsg::<()>(sender.as_raw_fd(), &iov, &control, MsgFlags::empty(), None)
                .unwrap();
        }
        drop(write_end);
        let (received, name) = console.take_master().unwrap();
        assert_eq!(name, "/dev/pts/9");
        write(received.as_fd(), b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(nix::unistd::read(read_end.as_raw_fd(), &mut buf).unwrap(), 1);
        let path = console.path().to_owned();
        drop(console);
        assert!(!path.exists());
    }

    #[test]
    fn console_socket_without_a_sender_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let console = ConsoleSocket::bind(&dir.path().join("console.sock")).unwrap();
        assert_eq!(console.take_master().unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
