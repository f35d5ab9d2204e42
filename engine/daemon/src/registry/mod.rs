//! The registry: pull and push images over the distribution API (Docker's Registry HTTP API V2,
//! the OCI distribution spec), and check credentials for `login`.
//!
//! A pull, in requests:
//!
//! ```text
//! GET  /v2/                              ping: which auth (none, Basic, Bearer token service)
//! GET  /v2/<repo>/manifests/<tag>        a manifest, or an index to pick the platform from
//! GET  /v2/<repo>/manifests/<digest>     the platform's manifest (after an index)
//! GET  /v2/<repo>/blobs/<config digest>  the image config: its digest is the image id
//! GET  /v2/<repo>/blobs/<layer digest>   each missing layer, concurrently, unpacked as it streams
//! ```
//!
//! and a push: `HEAD /v2/<repo>/blobs/<digest>` (already there?), `POST …/blobs/uploads/?mount=…`
//! (borrow it from another repository), `POST …/blobs/uploads/` then `PUT` (or `PATCH` then
//! `PUT`) to upload, and `PUT /v2/<repo>/manifests/<tag>`.
//!
//! The code map:
//! - `endpoint`: which URL a registry host has; insecure registries (plain HTTP after HTTPS).
//! - `auth`: credentials from the client, `WWW-Authenticate` challenges, the token service.
//! - `session`: one repository on one registry: authorised requests, retries, Docker's errors.
//! - `verify`: content is trusted only by its digest, checked as it streams.
//! - `layers`: layer downloads, concurrent and shared between pulls.
//! - `pull`, `push`, `login`: the three operations.
//! - `metadata`: which blob digests a layer is known by on which registry (for push).
//! - `progress`: Docker's JSON progress messages.
//!
//! What it deliberately does not do: keep credentials (the CLI does, per user), or write the
//! store's files itself (the store does, atomically, verifying as it writes).

mod auth;
mod endpoint;
mod error;
mod layers;
mod login;
mod metadata;
mod progress;
mod pull;
mod push;
mod session;
mod verify;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

pub use auth::AuthConfig;
pub use endpoint::{DOCKER_HUB_AUTH_KEY, InsecureRegistries, auth_key};
pub use error::RegistryError;
pub use progress::{Progress, ProgressEvent, error_message};
pub use pull::PullRequest;
pub use push::PushRequest;

use crate::image::Images;
use crate::reference::Reference;
use crate::store::StoreError;
use endpoint::Endpoint;
use layers::Downloads;
use metadata::DistributionMetadata;
use session::Session;

/// Layers uploaded at once (dockerd's default).
const CONCURRENT_UPLOADS: usize = 5;
/// What berthd says it is to registries.
const USER_AGENT: &str = concat!("berth/", env!("CARGO_PKG_VERSION"));

/// The HTTP clients: one that verifies TLS, one for insecure registries' HTTPS. Each keeps its
/// connections open between requests.
#[derive(Debug, Clone)]
pub struct Clients {
    verified: reqwest::Client,
    unverified: reqwest::Client,
}

impl Clients {
    fn new() -> Result<Clients, RegistryError> {
        let build = |skip_verify: bool| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(30))
                .read_timeout(Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 10 {
                        return attempt.error("stopped after 10 redirects");
                    }
                    // reqwest drops the Authorization header when the host changes.
                    crate::explain!(
                        "followed the registry's redirect to {}",
                        attempt.url().host_str().unwrap_or("another host")
                    );
                    attempt.follow()
                }))
                .danger_accept_invalid_certs(skip_verify)
                .build()
                .map_err(|e| RegistryError::Unreachable(format!("set up the HTTP client: {e}")))
        };
        Ok(Clients {
            verified: build(false)?,
            unverified: build(true)?,
        })
    }

    fn for_endpoint(&self, endpoint: &Endpoint) -> &reqwest::Client {
        if endpoint.skip_verify {
            &self.unverified
        } else {
            &self.verified
        }
    }
}

/// The registry service: pulls, pushes, logins.
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    images: Images,
    clients: Clients,
    insecure: InsecureRegistries,
    downloads: Arc<Downloads>,
    /// Layers uploaded at once, daemon-wide (dockerd's `max-concurrent-uploads`).
    uploads: Arc<Semaphore>,
    metadata: DistributionMetadata,
}

/// Why the registry service could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryOpenError {
    /// a `--insecure-registry` value that is neither a host nor a CIDR
    #[error("{0}")]
    Insecure(String),
    /// the registry's metadata directory could not be made
    #[error(transparent)]
    Store(#[from] StoreError),
    /// the HTTP client could not be set up
    #[error(transparent)]
    Client(#[from] RegistryError),
}

impl Registry {
    /// The service over `images`, keeping its metadata in `dir`, treating `insecure` (the
    /// `--insecure-registry` values) as dockerd does.
    pub fn open(images: Images, dir: &Path, insecure: &[String]) -> Result<Registry, RegistryOpenError> {
        Ok(Registry {
            inner: Arc::new(Inner {
                images,
                clients: Clients::new()?,
                insecure: InsecureRegistries::new(insecure).map_err(RegistryOpenError::Insecure)?,
                downloads: Arc::default(),
                uploads: Arc::new(Semaphore::new(CONCURRENT_UPLOADS)),
                metadata: DistributionMetadata::open(dir)?,
            }),
        })
    }

    /// A session with the repository `reference` names, allowed `actions` (`pull`, `push`).
    async fn session(
        &self,
        reference: &Reference,
        actions: &str,
        credentials: AuthConfig,
    ) -> Result<Session, RegistryError> {
        let endpoints = endpoint::endpoints(reference.domain(), &self.inner.insecure).await;
        Session::open(
            &self.inner.clients,
            endpoints,
            reference.domain(),
            reference.path(),
            vec![format!("repository:{}:{actions}", reference.path())],
            credentials,
        )
        .await
    }
}
