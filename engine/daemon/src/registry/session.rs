//! A session with one repository on one registry: the endpoint that answered, the credentials
//! and token in use, and requests sent with them — retried when the registry is briefly unwell.
//!
//! Every request is announced with an explain event saying what it is for. Redirects (blob
//! downloads often go to a CDN) are followed, and a redirect to another host never carries the
//! Authorization header (reqwest drops it on a host change).

use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, header};

use super::auth::{self, AuthConfig, Challenge};
use super::endpoint::Endpoint;
use super::{Clients, RegistryError};

/// How often a request is retried after a 5xx, a 429 or a connection failure.
const RETRIES: u32 = 4;
/// The first pause before a retry; each next one doubles.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause a `Retry-After` header may impose.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How a request is authorised.
#[derive(Debug, Clone)]
enum Authorization {
    None,
    Basic(String, String),
    Bearer(String),
}

/// A request that can be sent again: method, URL, headers, and a body held as bytes.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<bytes::Bytes>,
    /// One plain sentence for the explain event: what this request asks.
    pub purpose: String,
}

impl Call {
    pub fn new(method: Method, url: String, purpose: impl Into<String>) -> Call {
        Call {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            purpose: purpose.into(),
        }
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Call {
        if let Ok(value) = header::HeaderValue::from_str(value) {
            self.headers.append(name, value);
        }
        self
    }

    pub fn body(mut self, body: impl Into<bytes::Bytes>) -> Call {
        self.body = Some(body.into());
        self
    }
}

/// One repository on one registry.
#[derive(Debug)]
pub struct Session {
    client: reqwest::Client,
    /// `https://registry-1.docker.io` or `http://127.0.0.1:5000`.
    pub base: String,
    /// The registry host as references name it (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// The repository path (`library/busybox`).
    pub repository: String,
    credentials: AuthConfig,
    challenge: Option<Challenge>,
    scopes: Mutex<Vec<String>>,
    authorization: Mutex<Authorization>,
}

impl Session {
    /// Find the endpoint of `domain` that answers (`GET /v2/`), learn how it wants to be
    /// authenticated, and get a token for `scopes` when it uses tokens.
    pub async fn open(
        clients: &Clients,
        endpoints: Vec<Endpoint>,
        domain: &str,
        repository: &str,
        scopes: Vec<String>,
        credentials: AuthConfig,
    ) -> Result<Session, RegistryError> {
        let mut last_error = None;
        for endpoint in endpoints {
            let client = clients.for_endpoint(&endpoint).clone();
            let url = format!("{}/v2/", endpoint.base);
            crate::explain!(
                "asked {url} whether it speaks the registry API and how it wants berth to log in"
            );
            let response = match client.get(&url).send().await {
                Ok(response) => response,
                Err(e) => {
                    // An insecure registry's HTTPS try fails like this when it speaks plain HTTP.
                    crate::explain!(
                        "{url} did not answer ({}); trying the next way to reach it",
                        describe(&e)
                    );
                    last_error = Some(http_error(&Method::GET, &url, &e));
                    continue;
                }
            };
            let challenges = challenges_of(response.headers());
            let challenge = if response.status() == StatusCode::UNAUTHORIZED {
                challenges
                    .iter()
                    .find(|c| matches!(c, Challenge::Bearer { .. }))
                    .or(challenges.first())
                    .cloned()
            } else {
                None
            };
            let session = Session {
                client,
                base: endpoint.base,
                domain: domain.to_owned(),
                repository: repository.to_owned(),
                credentials,
                challenge,
                scopes: Mutex::new(scopes),
                authorization: Mutex::new(Authorization::None),
            };
            session.authorize().await?;
            return Ok(session);
        }
        Err(last_error.unwrap_or_else(|| RegistryError::Unreachable(format!("no endpoint for {domain}"))))
    }

    /// `<base>/v2/<repository>/<rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repository)
    }

    /// `<base>/v2/<repository>/…` as `docker.io/library/busybox` reads in sentences.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.repository)
    }

    /// Resolve a `Location` header against the endpoint (registries may answer with a path).
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// Add a scope (a cross-repository mount needs pull access to the source) and get a token
    /// that covers it.
    pub async fn add_scope(&self, scope: String) -> Result<(), RegistryError> {
        {
            let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
            if scopes.contains(&scope) {
                return Ok(());
            }
            scopes.push(scope);
        }
        self.authorize().await
    }

    /// Get the Authorization this registry wants for the current scopes.
    async fn authorize(&self) -> Result<(), RegistryError> {
        let authorization = match &self.challenge {
            None => Authorization::None,
            Some(Challenge::Basic) => match self.credentials.user_password() {
                Some((user, password)) => Authorization::Basic(user, password),
                None => Authorization::None,
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let token = auth::fetch_token(&self.client, realm, service, &scopes, &self.credentials)
                    .await
                    .map_err(|e| match e {
                        // As Docker words it: the request that needed the token, then why.
                        RegistryError::Unauthorized(why) => {
                            RegistryError::Unauthorized(format!("Get \"{}/v2/\": {why}", self.base))
                        }
                        other => other,
                    })?;
                Authorization::Bearer(token)
            }
        };
        *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = authorization;
        Ok(())
    }

    /// A request builder with this session's Authorization.
    pub fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, url);
        match &*self.authorization.lock().unwrap_or_else(|p| p.into_inner()) {
            Authorization::None => builder,
            Authorization::Basic(user, password) => builder.basic_auth(user, Some(password)),
            Authorization::Bearer(token) => builder.bearer_auth(token),
        }
    }

    /// Send a request, retrying 5xx, 429 and connection failures with backoff, and getting a
    /// fresh token once when the registry asks for more scope. Any other status is returned
    /// for the caller to judge (a 404 means different things to different calls).
    pub async fn send(&self, call: &Call) -> Result<reqwest::Response, RegistryError> {
        if matches!(self.challenge, Some(Challenge::Basic)) && self.credentials.user_password().is_none() {
            return Err(RegistryError::Http {
                method: title_case(&call.method),
                url: call.url.clone(),
                message: "no basic auth credentials".into(),
            });
        }
        crate::explain!("{}", call.purpose);
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let mut builder = self
                .request(call.method.clone(), &call.url)
                .headers(call.headers.clone());
            if let Some(body) = &call.body {
                builder = builder.body(body.clone());
            }
            let result = builder.send().await;
            let pause = match &result {
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                    refreshed = true;
                    if self.refresh_for(response.headers()).await? {
                        continue;
                    }
                    return Ok(result.expect("matched Ok"));
                }
                Ok(response) if is_retryable(response.status()) => retry_after(response.headers()),
                Ok(_) => return Ok(result.expect("matched Ok")),
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => None,
                Err(_) => {
                    return Err(http_error(
                        &call.method,
                        &call.url,
                        &result.expect_err("matched Err"),
                    ));
                }
            };
            if attempt >= RETRIES {
                return match result {
                    Ok(response) => Ok(response),
                    Err(e) => Err(http_error(&call.method, &call.url, &e)),
                };
            }
            let backoff = pause
                .unwrap_or(FIRST_BACKOFF * 2u32.pow(attempt))
                .min(MAX_BACKOFF);
            let why = match &result {
                Ok(response) => response.status().to_string(),
                Err(e) => describe(e),
            };
            crate::explain!(
                "asked {} again after {} ms because it answered {why}",
                self.domain,
                backoff.as_millis()
            );
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    /// A 401 may carry a Bearer challenge for a scope not asked yet (or the token expired):
    /// get a new token. Returns whether there is one to try.
    async fn refresh_for(&self, headers: &HeaderMap) -> Result<bool, RegistryError> {
        let Some(Challenge::Bearer { scope, .. }) = challenges_of(headers)
            .into_iter()
            .find(|c| matches!(c, Challenge::Bearer { .. }))
        else {
            return Ok(false);
        };
        if !matches!(self.challenge, Some(Challenge::Bearer { .. })) {
            return Ok(false);
        }
        if let Some(scope) = scope {
            let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        self.authorize().await?;
        Ok(true)
    }

    /// Turn an unsuccessful answer into an error, as Docker words registry errors.
    pub async fn error(&self, response: reqwest::Response) -> RegistryError {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let message = error_message(&body, status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let limits: Vec<String> = [
                "ratelimit-limit",
                "ratelimit-remaining",
                "docker-ratelimit-source",
            ]
            .iter()
            .filter_map(|name| {
                headers
                    .get(*name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!("{name}: {v}"))
            })
            .collect();
            let message = if limits.is_empty() {
                message
            } else {
                format!("{message} ({})", limits.join(", "))
            };
            return RegistryError::TooManyRequests { message };
        }
        RegistryError::Registry {
            status: status.as_u16(),
            message,
        }
    }
}

/// Read a whole answer that must be small (a manifest, a config), refusing more than `limit` bytes.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, RegistryError> {
    let url = response.url().to_string();
    if response.content_length().is_some_and(|length| length > limit) {
        return Err(RegistryError::TooLarge { what, url, limit });
    }
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > limit {
                    return Err(RegistryError::TooLarge { what, url, limit });
                }
            }
            Ok(None) => return Ok(bytes),
            Err(e) => return Err(http_error(&Method::GET, &url, &e)),
        }
    }
}

fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// `Retry-After: <seconds>`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn challenges_of(headers: &HeaderMap) -> Vec<Challenge> {
    auth::parse_challenges(
        headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// A registry's error body (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
/// as Docker prints it: `manifest unknown: manifest unknown`.
pub fn error_message(body: &str, status: StatusCode) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorEntry>,
        #[serde(default)]
        details: String,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(parsed) = serde_json::from_str::<Errors>(body) {
        let messages: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_lowercase().replace('_', " ");
                match (code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{code}: {}", e.message),
                    (false, true) => code,
                    _ => e.message.clone(),
                }
            })
            .collect();
        if !messages.is_empty() {
            return messages.join(", ");
        }
        if !parsed.details.is_empty() {
            return parsed.details;
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        return "unauthorized: authentication required".into();
    }
    if status.is_server_error() {
        return format!("received unexpected HTTP status: {status}");
    }
    let excerpt: String = body.trim().chars().take(200).collect();
    if excerpt.is_empty() {
        format!("unexpected HTTP status: {status}")
    } else {
        format!("unexpected HTTP status {status}: {excerpt}")
    }
}

/// A reqwest error's causes, innermost last (`tcp connect error: Connection refused (os error 111)`).
pub fn describe(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

/// `GET` as Go's url.Error writes it: `Get`.
fn title_case(method: &Method) -> String {
    let method = method.as_str();
    format!("{}{}", &method[..1], method[1..].to_lowercase())
}

/// `Get "https://…/v2/": tcp connect error: …`, as Go's url.Error reads.
pub fn http_error(method: &Method, url: &str, error: &reqwest::Error) -> RegistryError {
    RegistryError::Http {
        method: title_case(method),
        url: url.to_owned(),
        message: describe(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_read_like_dockers() {
        let body =
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            error_message(body, StatusCode::NOT_FOUND),
            "manifest unknown: manifest unknown"
        );
        let body =
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#;
        assert_eq!(
            error_message(body, StatusCode::TOO_MANY_REQUESTS),
            "toomanyrequests: You have reached your pull rate limit."
        );
        assert_eq!(
            error_message("", StatusCode::UNAUTHORIZED),
            "unauthorized: authentication required"
        );
        assert_eq!(
            error_message("oops", StatusCode::BAD_GATEWAY),
            "received unexpected HTTP status: 502 Bad Gateway"
        );
        assert_eq!(
            error_message("nope\n", StatusCode::NOT_FOUND),
            "unexpected HTTP status 404 Not Found: nope"
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }
}
