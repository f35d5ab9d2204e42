//! Who berth is to a registry: the credentials a client sends (`X-Registry-Auth`), the
//! challenges a registry answers with (`WWW-Authenticate`), and the bearer-token flow.
//!
//! ```text
//! GET /v2/                  → 401, WWW-Authenticate: Bearer realm="https://auth…/token",service="…"
//! GET realm?service&scope   → {"token": "…"}          (Basic credentials when logged in)
//! GET /v2/<repo>/…          Authorization: Bearer …
//! ```
//! A registry that answers `Basic realm=…` instead gets the credentials on every request.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::RegistryError;

/// Docker's `types.AuthConfig`: what `X-Registry-Auth` carries (base64url JSON) and what
/// `POST /auth` receives. Credentials live only as long as the request that brought them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `base64(username:password)`, as config files keep it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    /// An OAuth refresh token a previous login got, used instead of the password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    /// A bearer token to send as is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl std::fmt::Debug for AuthConfig {
    /// Never prints a secret, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("serveraddress", &self.serveraddress)
            .field("has_password", &!self.password.is_empty())
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Decode an `X-Registry-Auth` header: base64url (padded or not, or plain base64) of JSON.
    /// An empty header, or `{}`, means anonymous.
    pub fn from_header(value: &str) -> Result<AuthConfig, RegistryError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(AuthConfig::default());
        }
        let engines = [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ];
        let json = engines
            .iter()
            .find_map(|engine| engine.decode(value).ok())
            .ok_or_else(|| RegistryError::BadRequest("invalid X-Registry-Auth header: not base64".into()))?;
        serde_json::from_slice(&json)
            .map_err(|e| RegistryError::BadRequest(format!("invalid X-Registry-Auth header: {e}")))
    }

    /// The username and password, from their fields or from `auth`.
    pub fn user_password(&self) -> Option<(String, String)> {
        if !self.username.is_empty() || !self.password.is_empty() {
            return Some((self.username.clone(), self.password.clone()));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.auth)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }

    /// Whether there is anything to authenticate with.
    pub fn is_anonymous(&self) -> bool {
        self.user_password().is_none() && self.identitytoken.is_empty() && self.registrytoken.is_empty()
    }
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: String,
        /// The scope the registry asked for, when it said (`repository:x:pull`).
        scope: Option<String>,
    },
}

/// Parse `WWW-Authenticate` values (RFC 7235: a scheme, then `key="value"` pairs). Unknown
/// schemes are skipped.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut challenges = Vec::new();
    for value in values {
        let value = value.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let params = parse_params(rest);
        let param = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => challenges.push(Challenge::Basic),
            "bearer" => {
                if let Some(realm) = param("realm") {
                    challenges.push(Challenge::Bearer {
                        realm,
                        service: param("service").unwrap_or_default(),
                        scope: param("scope"),
                    });
                }
            }
            _ => {}
        }
    }
    challenges
}

/// `a="x", b=y, c="quoted \" quote"` → pairs.
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        params.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    params
}

/// What a token service answers (`token` or the OAuth name `access_token`).
#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
}

/// Ask a token service for a bearer token good for `scopes`: GET with Basic credentials (or
/// none), or, with an identity token from a login, the OAuth refresh-token POST.
pub async fn fetch_token(
    client: &reqwest::Client,
    realm: &str,
    service: &str,
    scopes: &[String],
    credentials: &AuthConfig,
) -> Result<String, RegistryError> {
    if !credentials.registrytoken.is_empty() {
        return Ok(credentials.registrytoken.clone());
    }
    let token_error = |message: String| RegistryError::Token {
        realm: realm.to_owned(),
        message,
    };
    let what = if scopes.is_empty() {
        "a login token".to_owned()
    } else {
        format!("a token for {}", scopes.join(" "))
    };
    let request = if !credentials.identitytoken.is_empty() {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", &credentials.identitytoken),
            ("service", service),
            ("client_id", "berth"),
        ];
        let joined = scopes.join(" ");
        if !scopes.is_empty() {
            form.push(("scope", &joined));
        }
        crate::explain!("asked the token service at {realm} for {what} with a refresh token");
        client.post(realm).form(&form)
    } else {
        let mut query: Vec<(&str, String)> = Vec::new();
        if !service.is_empty() {
            query.push(("service", service.to_owned()));
        }
        for scope in scopes {
            query.push(("scope", scope.clone()));
        }
        let mut request = client.get(realm);
        match credentials.user_password() {
            Some((user, password)) => {
                query.push(("account", user.clone()));
                crate::explain!("asked the token service at {realm} for {what} as {user}");
                request = request.basic_auth(user, Some(password));
            }
            None => crate::explain!("asked the token service at {realm} for {what}, anonymously"),
        }
        request.query(&query)
    };
    let response = request.send().await.map_err(|e| token_error(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = super::session::error_message(&body, status);
        return Err(match status.as_u16() {
            // Docker Hub answers `{"details":"incorrect username or password"}`; Docker says
            // `unauthorized: incorrect username or password`.
            401 | 403 if message.starts_with("unauthorized") => RegistryError::Unauthorized(message),
            401 | 403 => RegistryError::Unauthorized(format!("unauthorized: {message}")),
            _ => token_error(message),
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| token_error(format!("unreadable answer: {e}")))?;
    let answer: TokenResponse =
        serde_json::from_slice(&body).map_err(|e| token_error(format!("unreadable answer: {e}")))?;
    let token = if answer.token.is_empty() {
        answer.access_token
    } else {
        answer.token
    };
    if token.is_empty() {
        return Err(token_error("the answer holds no token".into()));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_like_docker_hubs() {
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        assert_eq!(
            parse_challenges([hub]),
            vec![Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: "registry.docker.io".into(),
                scope: Some("repository:library/busybox:pull".into()),
            }]
        );
        assert_eq!(
            parse_challenges([r#"Basic realm="Registry Realm""#]),
            vec![Challenge::Basic]
        );
        assert_eq!(
            parse_challenges([r#"bearer realm=http://x/t, service="a \"b\"""#]),
            vec![Challenge::Bearer {
                realm: "http://x/t".into(),
                service: "a \"b\"".into(),
                scope: None,
            }]
        );
        assert!(parse_challenges(["Negotiate"]).is_empty());
        assert!(parse_challenges(["Bearer service=x"]).is_empty());
    }

    #[test]
    fn registry_auth_headers_decode_in_every_base64_flavour() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let json = br#"{"username":"u","password":"p?>","serveraddress":"127.0.0.1:5000"}"#;
        for engine in [URL_SAFE, URL_SAFE_NO_PAD, STANDARD] {
            let auth = AuthConfig::from_header(&engine.encode(json)).unwrap();
            assert_eq!(auth.user_password(), Some(("u".into(), "p?>".into())));
            assert_eq!(auth.serveraddress, "127.0.0.1:5000");
        }
        assert!(AuthConfig::from_header("").unwrap().is_anonymous());
        assert!(
            AuthConfig::from_header(&URL_SAFE.encode("{}"))
                .unwrap()
                .is_anonymous()
        );
        assert!(AuthConfig::from_header("%%%").is_err());
        let from_auth = AuthConfig {
            auth: STANDARD.encode("me:secret:with:colons"),
            ..AuthConfig::default()
        };
        assert_eq!(
            from_auth.user_password(),
            Some(("me".into(), "secret:with:colons".into()))
        );
        assert!(!format!("{from_auth:?}").contains("secret"));
    }
}
