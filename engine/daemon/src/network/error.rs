//! Why a network operation failed; the server maps each kind to Docker's status code.

use super::firewall::FirewallError;
use super::ipam::IpamError;
use super::ports::PortError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// no network by that name or id (404)
    #[error("network {0} not found")]
    NotFound(String),
    /// an id prefix several networks share (400)
    #[error("network {0} is ambiguous ({1} matches found based on ID prefix)")]
    Ambiguous(String, usize),
    /// several networks share the name (created without `CheckDuplicate`) (400)
    #[error("network {0} is ambiguous ({1} matches found based on name)")]
    AmbiguousName(String, usize),
    /// the name is taken (409)
    #[error("network with name {0} already exists")]
    NameTaken(String),
    /// running containers are attached (403)
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    ActiveEndpoints { name: String, id: String },
    /// bridge, host and none stay (403)
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    /// a driver berth doesn't have (404)
    #[error("plugin \"{0}\" not found")]
    Driver(String),
    /// a request Docker would refuse as invalid (400)
    #[error("{0}")]
    Invalid(String),
    /// a request Docker forbids in this state: overlapping pools, double connects (403)
    #[error("{0}")]
    Forbidden(String),
    /// a request Docker refuses from deep inside its drivers, with a 500: a subnet, gateway,
    /// ip-range or option that doesn't parse, a gateway outside its subnet
    #[error("{0}")]
    Unusable(String),
    /// `EnableIPv6` without an IPv6 subnet: berth, as Docker 20.10, has no IPv6 default pool (404)
    #[error(
        "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
    )]
    NoDefaultPool6,
    /// a port spec that doesn't parse (400)
    #[error(transparent)]
    Port(#[from] PortError),
    /// the subnet has no address for its gateway: a /31 or /32, or the gateway asked for is its
    /// network or broadcast address (500, as Docker)
    #[error("failed to allocate gateway ({gateway}): {reason}")]
    Gateway { gateway: String, reason: String },
    /// no address to give (403, as Docker)
    #[error(transparent)]
    Address(#[from] IpamError),
    /// a published port could not be bound: in use or not allowed (500, as Docker)
    #[error(
        "driver failed programming external connectivity on endpoint {endpoint} ({endpoint_id}): {reason}"
    )]
    PortBind {
        endpoint: String,
        endpoint_id: String,
        reason: String,
    },
    /// a kernel step failed (500)
    #[error("{context}: {source}")]
    Kernel { context: String, source: std::io::Error },
    /// the packet filter refused berth's rules (500)
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    /// network records on disk (500)
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A kernel error with what was being done.
pub fn kernel(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let context = context.into();
    move |source| NetworkError::Kernel { context, source }
}
