//! A hijacked connection (attach, exec start) as the Docker CLI's `hijackedIOStreamer` drives it:
//! output copied raw with a tty, else split from Docker's 8-byte frames onto stdout and stderr;
//! stdin sent until EOF, then half-closed; with a tty, stdin in raw mode and the detach keys
//! (Ctrl-P Ctrl-Q) watched for.

use std::io::{Read, Write};
use std::sync::Arc;

use berth_api::detach_keys::{DEFAULT_DETACH_KEYS, EscapeProxy, detach_key_bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::terminal::RawMode;
use crate::commands::Failure;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container's output ended (its process exited, or the daemon closed the stream).
    Output,
    /// The user typed the detach keys; the container keeps running.
    Detached,
}

/// What to connect to the hijacked stream.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// The container (or exec) has a tty: output is raw, not framed.
    pub tty: bool,
    /// Send our stdin.
    pub stdin: bool,
    /// Print its stdout (and, with a tty, everything).
    pub stdout: bool,
    /// Print its stderr.
    pub stderr: bool,
    /// `--detach-keys` as typed (Docker's `ctrl-p,ctrl-q` syntax); the default when absent.
    pub detach_keys: Option<String>,
}

/// Read our stdin on a thread of its own (a blocking read cannot be cancelled, and a thread
/// does not hold the process open when the session ends); chunks arrive on the channel, which
/// closes at EOF.
fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    if sender.blocking_send(buffer[..n].to_vec()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    });
    receiver
}

/// Docker's `stdcopy.StdCopy`: split framed output onto stdout and stderr. A frame of stream 3
/// carries an error from the daemon.
pub async fn demultiplex(
    mut reader: impl AsyncRead + Unpin,
    stdout: bool,
    stderr: bool,
) -> Result<(), Failure> {
    let mut header = [0u8; 8];
    let mut payload = Vec::new();
    loop {
        match reader.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(Failure::new(e.to_string())),
        }
        let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        payload.resize(size, 0);
        reader
            .read_exact(&mut payload)
            .await
            .map_err(|e| Failure::new(e.to_string()))?;
        match header[0] {
            0 | 1 if stdout => write_all(&mut std::io::stdout().lock(), "/dev/stdout", &payload)?,
            2 if stderr => write_all(&mut std::io::stderr().lock(), "/dev/stderr", &payload)?,
            3 => {
                return Err(Failure::new(
                    String::from_utf8_lossy(&payload).trim_end().to_owned(),
                ));
            }
            0..=2 => {}
            other => return Err(Failure::new(format!("Unrecognized input header: {other}"))),
        }
    }
}

/// Write and flush, failing in Go's words (`write /dev/stdout: broken pipe`) as Docker's CLI.
fn write_all(out: &mut impl Write, name: &str, bytes: &[u8]) -> Result<(), Failure> {
    out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::BrokenPipe => "broken pipe".to_owned(),
            _ => e.to_string(),
        };
        Failure::new(format!("write {name}: {reason}"))
    })
}

/// Copy raw output (a tty's) to stdout.
pub async fn copy_raw(mut reader: impl AsyncRead + Unpin, stdout: bool) -> Result<(), Failure> {
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .map_err(|e| Failure::new(e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        if stdout {
            write_all(&mut std::io::stdout().lock(), "/dev/stdout", &buffer[..n])?;
        }
    }
}

/// Drive a hijacked connection until its output ends or the user detaches.
pub async fn stream<C>(connection: C, options: &StreamOptions) -> Result<Ended, Failure>
where
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, mut writer) = tokio::io::split(connection);
    // With a tty and our stdin, the terminal goes raw (Docker's `setupInput`).
    let raw: Option<Arc<RawMode>> = if options.stdin && options.tty {
        RawMode::enable()
    } else {
        None
    };
    let detach_keys = if options.tty && options.stdin {
        match options.detach_keys.as_deref().map(detach_key_bytes) {
            Some(Ok(keys)) => keys,
            Some(Err(_)) | None => DEFAULT_DETACH_KEYS.to_vec(),
        }
    } else {
        Vec::new()
    };

    let (tty, want_stdout, want_stderr) = (options.tty, options.stdout, options.stderr);
    let raw_for_output = raw.clone();
    let mut output = tokio::spawn(async move {
        let result = if tty {
            copy_raw(reader, want_stdout).await
        } else {
            demultiplex(reader, want_stdout, want_stderr).await
        };
        // Restore the terminal as soon as the output ends, so what follows prints normally.
        if let Some(raw) = raw_for_output {
            raw.restore();
        }
        result
    });

    let send_stdin = options.stdin;
    let mut input = tokio::spawn(async move {
        let mut detached = false;
        if send_stdin {
            let mut chunks = stdin_chunks();
            let mut proxy = EscapeProxy::new(detach_keys);
            while let Some(chunk) = chunks.recv().await {
                let (bytes, escape) = proxy.filter(&chunk);
                if !bytes.is_empty() && writer.write_all(&bytes).await.is_err() {
                    break;
                }
                if escape {
                    detached = true;
                    break;
                }
            }
        }
        if !detached {
            // EOF on our stdin (or none attached): half-close, the output keeps coming.
            let _ = writer.shutdown().await;
        }
        (detached, writer)
    });

    let ended = tokio::select! {
        result = &mut output => {
            input.abort();
            result.map_err(|e| Failure::new(e.to_string()))??;
            Ended::Output
        }
        sent = &mut input => {
            let (detached, _writer) = sent.map_err(|e| Failure::new(e.to_string()))?;
            if detached {
                output.abort();
                Ended::Detached
            } else {
                output.await.map_err(|e| Failure::new(e.to_string()))??;
                Ended::Output
            }
        }
    };
    if let Some(raw) = raw {
        raw.restore();
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_split_by_stream() {
        // A stdout frame, then a daemon error frame: the error ends the copy.
        let mut data = vec![1, 0, 0, 0, 0, 0, 0, 0];
        data.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 4]);
        data.extend_from_slice(b"boom");
        let error = demultiplex(&data[..], false, false).await.unwrap_err();
        assert_eq!(error.message, "boom");
        assert!(demultiplex(&[][..], true, true).await.is_ok());
    }
}
