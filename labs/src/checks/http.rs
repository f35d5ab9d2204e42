//! HTTP checks: a GET from the host, as a trainee's browser or `curl` would.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use super::command::match_output;
use super::{Context, Evidence, Mismatch};
use crate::scenario::check::HttpCheck;

/// How long one attempt may take (the check retries until its deadline).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

pub fn evaluate(check: &HttpCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    let (status, body) = cx
        .api
        .block_on(get(&check.http, ATTEMPT_TIMEOUT))
        .map_err(|e| Mismatch::new(format!("an answer from {}", check.http), e))?;
    if status != check.status {
        return Err(Mismatch::new(
            format!("status {}", check.status),
            format!("status {status}"),
        ));
    }
    match_output(
        &body,
        &check.contains,
        &check.lacks,
        check.matches.as_deref(),
        "the body",
    )?;
    Ok(None)
}

/// `GET url` (plain `http://host:port/path`): the status and the body as text (lossy).
pub async fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("a bad URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "a URL lab cannot fetch ({url}): only http:// is supported"
        ));
    }
    let host = uri.host().ok_or_else(|| format!("no host in {url}"))?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let exchange = async move {
        let address = format!("{}:{port}", host.trim_start_matches('[').trim_end_matches(']'));
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("no connection ({e})"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("no HTTP ({e})"))?;
        tokio::spawn(connection);
        let request = http::Request::get(path)
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::USER_AGENT, "berth-lab")
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| format!("a bad request ({e})"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer ({e})"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("a broken body ({e})"))?
            .to_bytes();
        let limit = body.len().min(crate::api::OUTPUT_LIMIT);
        Ok((status, String::from_utf8_lossy(&body[..limit]).into_owned()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_page_is_fetched() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let n = stream.read(&mut request).unwrap();
            let request = String::from_utf8_lossy(&request[..n]).into_owned();
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope\n")
                .unwrap();
            request
        });
        let (status, body) = runtime()
            .block_on(get(&format!("http://127.0.0.1:{port}/a?b=1"), ATTEMPT_TIMEOUT))
            .unwrap();
        assert_eq!((status, body.as_str()), (404, "nope\n"));
        assert!(server.join().unwrap().starts_with("GET /a?b=1 HTTP/1.1\r\n"));
    }

    #[test]
    fn a_closed_port_says_so() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = runtime()
            .block_on(get(&format!("http://127.0.0.1:{port}/"), ATTEMPT_TIMEOUT))
            .unwrap_err();
        assert!(error.starts_with("no connection"), "{error}");
    }

    #[test]
    fn only_http_urls_are_fetched() {
        let error = runtime()
            .block_on(get("https://example.com/", ATTEMPT_TIMEOUT))
            .unwrap_err();
        assert!(error.contains("only http:// is supported"), "{error}");
    }
}
