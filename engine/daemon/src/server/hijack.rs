//! Hijacked connections (attach, exec start): answer `101 Switching Protocols`, then the HTTP
//! connection carries raw streams both ways, spliced to the shim's socket.

use std::os::unix::net::UnixStream;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
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

fn switching_protocols() -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, RAW_STREAM)
        .body(Body::empty())
        .expect("a valid response")
}

/// Upgrade `request` and splice it to `stream`; `after` runs once the output side has ended
/// and before the client's connection is closed (exec waits for its exit code there).
pub fn splice<F>(request: Request, stream: UnixStream, after: F) -> Response
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    splice_when_ready(request, std::future::ready(Ok::<_, ()>(stream)), after)
}

/// Like [`splice`], for a stream that comes later (an attach made before start): the client is
/// answered at once and the bytes flow once `stream` resolves; if it fails, the connection closes.
pub fn splice_when_ready<S, E, F>(mut request: Request, stream: S, after: F) -> Response
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
        let input = tokio::spawn(async move {
            // Client → container stdin; the client's half-close detaches stdin.
            let _ = tokio::io::copy(&mut client_read, &mut shim_write).await;
            let _ = shim_write.shutdown().await;
        });
        // Container output → client, until the process has exited and its output is flushed.
        let _ = tokio::io::copy(&mut shim_read, &mut client_write).await;
        after.await;
        let _ = client_write.shutdown().await;
        input.abort();
    });
    switching_protocols()
}
