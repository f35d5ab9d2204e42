//! The channel between the runtime and a container process it is setting up.
//!
//! A `SOCK_SEQPACKET` socketpair keeps message boundaries, so each message is one small JSON
//! datagram. The parent says `Go` once the child's id maps are in place and `InCgroup` once it
//! has moved the child into its cgroup; the child answers `Ready` just before it waits for
//! `start` (or execs, for `exec`), or `Failed` with the reason. A child that dies without a word
//! shows up as end-of-file.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use serde::{Deserialize, Serialize};

/// Errors on the setup channel.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// cannot talk to the container process
    #[error("cannot talk to the container process: {0}")]
    Io(nix::Error),
    /// the container process exited during setup
    #[error("the container process exited during setup")]
    Closed,
    /// unexpected message from the container process
    #[error("unexpected message on the setup channel: {0}")]
    Unexpected(String),
}

/// What the parent tells the child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentMessage {
    /// Id maps written (and, after `RunHooks`, the hooks ran): carry on.
    Go,
    /// Moved into the container's cgroup: the cgroup namespace may be made, the program run.
    InCgroup,
}

/// What the child tells the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildMessage {
    /// Namespaces and mounts made, root not yet entered: run the prestart and createRuntime
    /// hooks, then say `Go` again.
    RunHooks,
    /// Set up; waiting for start (or about to exec).
    Ready,
    /// Setup failed, with the reason.
    Failed(String),
}

/// One end of the setup channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Make both ends: `(parent, child)`. Both are close-on-exec, so neither leaks into the container.
pub fn channel() -> Result<(Channel, Channel), SyncError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(SyncError::Io)?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    fn send_json<T: Serialize>(&self, message: &T) -> Result<(), SyncError> {
        let bytes = serde_json::to_vec(message).map_err(|e| SyncError::Unexpected(e.to_string()))?;
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL).map_err(SyncError::Io)?;
        Ok(())
    }

    fn recv_json<T: for<'de> Deserialize<'de>>(&self) -> Result<T, SyncError> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::Error::EINTR) => continue,
                other => break other.map_err(SyncError::Io)?,
            }
        };
        if n == 0 {
            return Err(SyncError::Closed);
        }
        serde_json::from_slice(&buf[..n])
            .map_err(|_| SyncError::Unexpected(String::from_utf8_lossy(&buf[..n]).into_owned()))
    }

    /// Parent → child.
    pub fn send_parent(&self, message: &ParentMessage) -> Result<(), SyncError> {
        self.send_json(message)
    }

    /// Child ← parent.
    pub fn recv_parent(&self) -> Result<ParentMessage, SyncError> {
        self.recv_json()
    }

    /// Receive the parent's next message, which must be `want`.
    pub fn expect_parent(&self, want: ParentMessage) -> Result<(), SyncError> {
        match self.recv_parent()? {
            got if got == want => Ok(()),
            got => Err(SyncError::Unexpected(format!("{got:?} where {want:?} was due"))),
        }
    }

    /// Child → parent.
    pub fn send_child(&self, message: &ChildMessage) -> Result<(), SyncError> {
        self.send_json(message)
    }

    /// Parent ← child.
    pub fn recv_child(&self) -> Result<ChildMessage, SyncError> {
        self.recv_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_a_closed_end_reads_as_closed() {
        let (parent, child) = channel().expect("socketpair");
        parent.send_parent(&ParentMessage::Go).expect("send");
        assert_eq!(child.recv_parent().expect("recv"), ParentMessage::Go);
        child
            .send_child(&ChildMessage::Failed("no such file: /bin/x".into()))
            .expect("send");
        assert_eq!(
            parent.recv_child().expect("recv"),
            ChildMessage::Failed("no such file: /bin/x".into())
        );
        drop(child);
        assert!(matches!(parent.recv_child(), Err(SyncError::Closed)));
    }
}
