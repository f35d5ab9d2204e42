//! A small Engine API client over a UNIX socket: one HTTP/1.1 connection per request, as the
//! Docker CLI does, JSON in and out, streamed bodies, and hijacked (upgraded) connections for attach.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncRead;
use tokio::net::UnixStream;

use crate::types::ErrorResponse;

pub use crate::{API_VERSION, DEFAULT_HOST};

/// A request body: empty, bytes, or a stream (an image tar being loaded).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// the host is not a unix:// address
    #[error("unsupported host {0}: only unix:///path is supported")]
    Host(String),
    /// the daemon's socket does not answer
    #[error("Cannot connect to the Berth daemon at unix://{}. Is the berth daemon running?", .socket.display())]
    Connect { socket: PathBuf, source: std::io::Error },
    /// the daemon answered with an error status
    #[error("{message}")]
    Api { status: StatusCode, message: String },
    /// the HTTP exchange failed
    #[error("error during connect: {0}")]
    Http(#[from] hyper::Error),
    /// the daemon's answer is not the JSON expected
    #[error("unexpected answer from the daemon: {0}")]
    Json(#[from] serde_json::Error),
    /// a query string could not be encoded
    #[error("bad query: {0}")]
    Query(#[from] serde_urlencoded::ser::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The HTTP status when the daemon refused the call (404 for "no such image", 409 for conflicts…).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A connection factory for one daemon.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client for `unix:///path` (or a bare path).
    pub fn from_host(host: &str) -> Result<Client, ClientError> {
        let path = match host.strip_prefix("unix://") {
            Some(path) => path,
            None if host.starts_with('/') => host,
            None => return Err(ClientError::Host(host.to_owned())),
        };
        Ok(Client {
            socket: PathBuf::from(path),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// An empty body.
    pub fn empty() -> Body {
        Full::new(Bytes::new()).map_err(|never| match never {}).boxed()
    }

    /// A body of bytes.
    pub fn bytes(data: impl Into<Bytes>) -> Body {
        Full::new(data.into()).map_err(|never| match never {}).boxed()
    }

    /// A body streamed from a reader (a tar file or stdin), never held whole in memory.
    pub fn stream(reader: impl AsyncRead + Send + Sync + 'static) -> Body {
        use futures_util::TryStreamExt;
        let frames = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024).map_ok(Frame::data);
        BodyExt::boxed(StreamBody::new(frames))
    }

    async fn connect(&self) -> Result<UnixStream, ClientError> {
        UnixStream::connect(&self.socket)
            .await
            .map_err(|source| ClientError::Connect {
                socket: self.socket.clone(),
                source,
            })
    }

    fn build(method: Method, path: &str, content_type: Option<&str>, body: Body) -> Request<Body> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("/v{API_VERSION}{path}"))
            .header(header::HOST, "berth")
            .header(
                header::USER_AGENT,
                concat!("berth-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        // Method, URI and headers above are always valid, so building cannot fail.
        builder.body(body).expect("valid request")
    }

    /// Send a request; a non-2xx answer becomes [`ClientError::Api`] with the daemon's message.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Response<Incoming>, ClientError> {
        self.request_with_headers(method, path, content_type, header::HeaderMap::new(), body)
            .await
    }

    /// [`Client::request`] with extra headers (`X-Registry-Auth` for pull and push).
    pub async fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        headers: header::HeaderMap,
        body: Body,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = Self::build(method, path, content_type, body);
        request.headers_mut().extend(headers);
        let response = sender.send_request(request).await?;
        check_status(response).await
    }

    /// GET a JSON document.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self.request(Method::GET, path, None, Self::empty()).await?;
        read_json(response).await
    }

    /// Send JSON, read JSON.
    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = Self::bytes(serde_json::to_vec(body)?);
        let response = self.request(method, path, Some("application/json"), body).await?;
        read_json(response).await
    }

    /// A call whose answer body doesn't matter (204 No Content and the like).
    pub async fn call(&self, method: Method, path: &str) -> Result<(), ClientError> {
        let response = self.request(method, path, None, Self::empty()).await?;
        response.into_body().collect().await?;
        Ok(())
    }

    /// A hijacked connection: the daemon answers `101 Switching Protocols` (or, like older
    /// daemons, 200) and the socket then carries raw streams both ways (attach, exec start).
    pub async fn upgrade(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>, ClientError> {
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection.with_upgrades());
        let mut request = Self::build(method, path, content_type, body);
        let headers = request.headers_mut();
        headers.insert(header::CONNECTION, header::HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, header::HeaderValue::from_static("tcp"));
        let response = check_status(sender.send_request(request).await?).await?;
        Ok(TokioIo::new(hyper::upgrade::on(response).await?))
    }
}

/// Encode a query string (`?a=1&b=x`), or nothing when every value is absent.
pub fn query<Q: Serialize>(params: &Q) -> Result<String, ClientError> {
    let encoded = serde_urlencoded::to_string(params)?;
    Ok(if encoded.is_empty() {
        encoded
    } else {
        format!("?{encoded}")
    })
}

async fn check_status(response: Response<Incoming>) -> Result<Response<Incoming>, ClientError> {
    let status = response.status();
    if status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS || status.is_redirection() {
        return Ok(response);
    }
    let body = response.into_body().collect().await?.to_bytes();
    let message = match serde_json::from_slice::<ErrorResponse>(&body) {
        Ok(error) => error.message,
        Err(_) => String::from_utf8_lossy(&body).trim().to_owned(),
    };
    Err(ClientError::Api { status, message })
}

/// Read a whole JSON answer.
pub async fn read_json<T: DeserializeOwned>(response: Response<Incoming>) -> Result<T, ClientError> {
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}
