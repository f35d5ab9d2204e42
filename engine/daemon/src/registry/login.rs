//! `docker login`: check credentials against a registry (`POST /auth`). berthd keeps nothing:
//! the CLI stores the credentials and sends them with each pull and push.

use http::Method;

use super::session::{Call, Session};
use super::{AuthConfig, Registry, RegistryError, endpoint};
use crate::reference::DEFAULT_DOMAIN;

/// What a successful login answers (Docker's `AuthenticateOKBody`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub status: String,
    /// A token to store instead of the password, when the registry hands one out.
    pub identity_token: String,
}

impl Registry {
    /// Log in to the registry `auth.serveraddress` names (Docker Hub when empty): get a token
    /// with the credentials when the registry uses tokens, then ask `/v2/` with them.
    pub async fn login(&self, auth: &AuthConfig) -> Result<LoginOutcome, RegistryError> {
        let domain = login_domain(&auth.serveraddress);
        let endpoints = endpoint::endpoints(&domain, &self.inner.insecure).await;
        let session = Session::open(
            &self.inner.clients,
            endpoints,
            &domain,
            "",
            Vec::new(),
            auth.clone(),
        )
        .await?;
        let url = format!("{}/v2/", session.base);
        let call = Call::new(
            Method::GET,
            url.clone(),
            format!(
                "asked {domain} whether it accepts the credentials of {}",
                auth.username
            ),
        );
        let response = session.send(&call).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(RegistryError::Unauthorized(format!(
                "login attempt to {url} failed with status: {status}"
            )));
        }
        Ok(LoginOutcome {
            status: "Login Succeeded".into(),
            identity_token: String::new(),
        })
    }
}

/// The registry host a login's server address names: `https://index.docker.io/v1/` and the
/// empty address are Docker Hub; a scheme and a path are dropped.
pub fn login_domain(server: &str) -> String {
    let server = server.trim();
    let without_scheme = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    match host.as_str() {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DEFAULT_DOMAIN.to_owned(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_name_registry_hosts() {
        assert_eq!(login_domain(""), "docker.io");
        assert_eq!(login_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            login_domain("http://Registry.Example:5000/v2/"),
            "registry.example:5000"
        );
    }
}
