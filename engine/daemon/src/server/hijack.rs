//! Hijacked connections (attach, exec start): answer `101 Switching Protocols`, then the HTTP
//! connection carries raw streams both ways, spliced to the shim's socket.

use std::os::unix::net::UnixStream;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use berth_api::detach_keys::EscapeProxy;
use http::{StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

/// Docker's content type for hijacked and log streams.
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// `bytes` as one stdout frame of Docker's multiplexed stream.
pub fn stdout_frame(bytes: &[u8]) -> Vec<u8> {
    let mut frame = vec![1, 0, 0, 0];
    frame.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    frame.extend_from_slice(bytes);
    frame
}

/// Upgrade `request`, send `bytes` and close: a hijacked answer that carries only a message.
pub fn reply_and_close(mut request: Request, bytes: Vec<u8>) -> Response {
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut client = TokioIo::new(upgraded);
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
    });
    switching_protocols()
}

/// Copy typed input to the container until the detach keys; whether they came (else the input
/// ended). Bytes that might begin the keys wait until it is clear they don't.
async fn copy_until_detach(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    keys: Vec<u8>,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut proxy = EscapeProxy::new(keys);
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(read) => read,
        };
        let (forward, detached) = proxy.filter(&buffer[..read]);
        if to.write_all(&forward).await.is_err() {
            return false;
        }
        if detached {
            return true;
        }
    }
}

fn switching_protocols() -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, RAW_STREAM)
        .body(Body::empty())
        .expect("a valid response")
}

/// Watch a terminal's input for the detach keys: on them the attach ends (the container runs
/// on) and `on_detach` tells the event stream, as dockerd's `copyEscapable`.
pub struct Detach {
    pub keys: Vec<u8>,
    pub on_detach: Box<dyn FnOnce() + Send>,
}

/// Upgrade `request` and splice it to the stream `stream` resolves to, once the client is
/// answered (an attach made before start, an exec started then); if it fails, the connection
/// closes. `after` runs once the output side has ended and before the client's connection is
/// closed (exec waits for its exit code there).
pub fn splice_when_ready<S, E, F>(
    mut request: Request,
    stream: S,
    detach: Option<Detach>,
    after: F,
) -> Response
where
    S: std::future::Future<Output = Result<UnixStream, E>> + Send + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let Ok(stream) = stream.await else { return };
        let Ok(shim) = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(stream))
        else {
            return;
        };
        let (mut client_read, mut client_write) = tokio::io::split(TokioIo::new(upgraded));
        let (mut shim_read, mut shim_write) = shim.into_split();
        let (detached_tx, detached) = tokio::sync::oneshot::channel();
        let (keys, on_detach) = match detach {
            Some(Detach { keys, on_detach }) => (Some(keys), Some(on_detach)),
            None => (None, None),
        };
        let input = tokio::spawn(async move {
            // Client → container stdin; the client's half-close detaches stdin.
            match keys {
                None => {
                    let _ = tokio::io::copy(&mut client_read, &mut shim_write).await;
                }
                Some(keys) => {
                    if copy_until_detach(&mut client_read, &mut shim_write, keys).await {
                        let _ = detached_tx.send(());
                        return;
                    }
                }
            }
            let _ = shim_write.shutdown().await;
        });
        // Container output → client, until the process has exited and its output is flushed,
        // or until the client typed the detach keys (then its process runs on, unwatched).
        tokio::select! {
            _ = tokio::io::copy(&mut shim_read, &mut client_write) => after.await,
            Ok(()) = detached => {
                if let Some(on_detach) = on_detach {
                    on_detach();
                }
            }
        }
        let _ = client_write.shutdown().await;
        input.abort();
    });
    switching_protocols()
}
