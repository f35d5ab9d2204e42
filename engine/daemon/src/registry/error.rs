//! Why talking to a registry failed, worded as Docker words it.

use crate::digest::Digest;
use crate::image::ImageError;
use crate::image::manifest::ManifestError;
use crate::reference::ReferenceError;
use crate::store::StoreError;

/// Why a pull, push or login failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// a name that is not a valid reference
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// a request berth cannot honour as asked (bad platform, bad X-Registry-Auth)
    #[error("{0}")]
    BadRequest(String),
    /// the registry has no manifest under that tag or digest
    #[error("manifest for {reference} not found: {message}")]
    ManifestUnknown { reference: String, message: String },
    /// the registry refused the repository: it does not exist or needs credentials
    #[error(
        "{action} access denied for {repository}, repository does not exist or may require 'docker login': {message}"
    )]
    AccessDenied {
        action: &'static str,
        repository: String,
        message: String,
    },
    /// the registry refused the credentials (login)
    #[error("{0}")]
    Unauthorized(String),
    /// an index has no manifest for the platform asked for
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    /// a manifest berth cannot read
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// content whose digest is not the one it was asked for (tampering or corruption)
    #[error("{what} verification failed for digest {expected}: got {actual}")]
    DigestMismatch {
        what: &'static str,
        expected: Digest,
        actual: Digest,
    },
    /// content longer or shorter than its descriptor says
    #[error("{what} {digest} has {actual} bytes, the manifest says {expected}")]
    SizeMismatch {
        what: &'static str,
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    /// a manifest or config too big to be one
    #[error("{what} from {url} is larger than {limit} bytes")]
    TooLarge {
        what: &'static str,
        url: String,
        limit: u64,
    },
    /// an image config that does not match its manifest, or is not JSON
    #[error("invalid image config: {0}")]
    Config(String),
    /// the registry answered with an error
    #[error("{message}")]
    Registry { status: u16, message: String },
    /// the registry kept answering 429; Docker Hub's rate-limit headers are in the message
    #[error("{message}")]
    TooManyRequests { message: String },
    /// the token service refused or failed
    #[error("get token from {realm}: {message}")]
    Token { realm: String, message: String },
    /// the request could not be made or its answer could not be read
    #[error("{method} \"{url}\": {message}")]
    Http {
        method: String,
        url: String,
        message: String,
    },
    /// the registry could not be reached over any of its endpoints
    #[error("{0}")]
    Unreachable(String),
    /// push of an image that does not exist here
    #[error("An image does not exist locally with the tag: {0}")]
    NotLocal(String),
    /// the image store failed
    #[error(transparent)]
    Store(#[from] StoreError),
    /// the image service failed
    #[error(transparent)]
    Image(#[from] ImageError),
    /// a layer download shared with another pull failed there
    #[error("{0}")]
    Shared(std::sync::Arc<RegistryError>),
}

impl RegistryError {
    /// What happened underneath a shared error.
    pub fn root(&self) -> &RegistryError {
        match self {
            RegistryError::Shared(inner) => inner.root(),
            other => other,
        }
    }

    /// Errors worth another try: the registry or the network may do better in a moment.
    pub fn is_transient(&self) -> bool {
        match self.root() {
            RegistryError::Registry { status, .. } => *status >= 500,
            RegistryError::TooManyRequests { .. } | RegistryError::Http { .. } => true,
            _ => false,
        }
    }
}
