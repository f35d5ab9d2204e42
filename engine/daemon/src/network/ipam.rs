//! Address management (IPAM): a network's subnet and gateway, the addresses handed to its
//! endpoints, and the choice of a free subnet for a network created without `--subnet`.
//!
//! Which addresses are taken is kept in memory only: it is rebuilt from the running containers'
//! records when berthd starts, so it can never drift from what the kernel has.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why an address can't be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// the address asked for is outside the network's subnet
    #[error("Invalid address {0}: It does not belong to any of this network's subnets")]
    OutsideSubnet(Ipv4Addr),
    /// another endpoint (or the gateway) has it
    #[error("Address already in use")]
    InUse(Ipv4Addr),
    /// every address of the subnet is handed out
    #[error("no available IPv4 addresses on this network's address pools")]
    Exhausted,
}

/// The addresses of one network.
#[derive(Debug, Clone)]
pub struct Pool {
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    /// `--ip-range`: where automatic addresses come from (the whole subnet when absent).
    range: Ipv4Net,
    taken: BTreeSet<Ipv4Addr>,
}

impl Pool {
    pub fn new(subnet: Ipv4Net, gateway: Ipv4Addr, range: Option<Ipv4Net>) -> Pool {
        Pool {
            subnet,
            gateway,
            range: range.unwrap_or(subnet),
            taken: BTreeSet::new(),
        }
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The lowest free address of the range (Docker hands out .2, .3… in order on a new network;
    /// an `--ip-range` starts at its own first address).
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let (start, end) = (u32::from(self.range.network()), u32::from(self.range.broadcast()));
        let free = (start..=end)
            .map(Ipv4Addr::from)
            .find(|ip| {
                *ip != self.gateway
                    && *ip != self.subnet.network()
                    && *ip != self.subnet.broadcast()
                    && self.subnet.contains(ip)
                    && !self.taken.contains(ip)
            })
            .ok_or(IpamError::Exhausted)?;
        self.taken.insert(free);
        Ok(free)
    }

    /// Take a given address (`--ip`, or a running container's found again after a restart).
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.subnet.contains(&ip) || ip == self.subnet.network() || ip == self.subnet.broadcast() {
            return Err(IpamError::OutsideSubnet(ip));
        }
        if ip == self.gateway || !self.taken.insert(ip) {
            return Err(IpamError::InUse(ip));
        }
        Ok(())
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.taken.remove(&ip);
    }

    pub fn in_use(&self) -> usize {
        self.taken.len()
    }
}

/// The first host address of a subnet: the gateway Docker picks when none is given.
pub fn default_gateway(subnet: Ipv4Net) -> Ipv4Addr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

/// Whether two subnets share any address.
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Parse `--subnet` for address arithmetic: an address with a prefix, host bits cleared (Docker
/// keeps the text as given for `inspect`).
pub fn parse_subnet(text: &str) -> Option<Ipv4Net> {
    text.parse::<Ipv4Net>().ok().map(|net| net.trunc())
}

/// The first subnet of `size` bits inside `base` that overlaps none of `taken` (other networks,
/// and the host's own routes), as Docker's default address pools are searched.
pub fn choose_subnet(base: Ipv4Net, size: u8, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    base.subnets(size.max(base.prefix_len()))
        .ok()?
        .find(|candidate| !taken.iter().any(|t| overlaps(*candidate, *t)))
}

/// Docker's MAC for an address: `02:42` followed by the four bytes of the IPv4 address.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `02:42:0a:42:00:02` → its bytes (Go's `net.ParseMAC` for the 6-byte form, `:` or `-`).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    Some(mac)
}

/// `02:42:0a:42:00:02`.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_come_in_order_skip_the_gateway_and_are_reused_after_release() {
        let subnet = net("10.66.0.0/29");
        let mut pool = Pool::new(subnet, default_gateway(subnet), None);
        assert_eq!(pool.gateway(), Ipv4Addr::new(10, 66, 0, 1));
        let got: Vec<Ipv4Addr> = (0..5).map(|_| pool.allocate().unwrap()).collect();
        assert_eq!(got.first(), Some(&Ipv4Addr::new(10, 66, 0, 2)));
        assert_eq!(got.last(), Some(&Ipv4Addr::new(10, 66, 0, 6)));
        assert_eq!(pool.allocate(), Err(IpamError::Exhausted));
        pool.release(Ipv4Addr::new(10, 66, 0, 4));
        assert_eq!(pool.allocate(), Ok(Ipv4Addr::new(10, 66, 0, 4)));
    }

    #[test]
    fn reserving_refuses_duplicates_the_gateway_and_foreign_addresses() {
        let subnet = net("10.66.0.0/24");
        let mut pool = Pool::new(subnet, Ipv4Addr::new(10, 66, 0, 1), None);
        assert_eq!(pool.reserve(Ipv4Addr::new(10, 66, 0, 9)), Ok(()));
        assert_eq!(
            pool.reserve(Ipv4Addr::new(10, 66, 0, 9)),
            Err(IpamError::InUse(Ipv4Addr::new(10, 66, 0, 9)))
        );
        assert!(pool.reserve(Ipv4Addr::new(10, 66, 0, 1)).is_err());
        assert!(pool.reserve(Ipv4Addr::new(10, 67, 0, 1)).is_err());
        assert_eq!(pool.in_use(), 1);
    }

    #[test]
    fn an_ip_range_limits_automatic_addresses() {
        let subnet = net("10.66.0.0/24");
        let mut pool = Pool::new(subnet, default_gateway(subnet), Some(net("10.66.0.128/25")));
        assert_eq!(pool.allocate(), Ok(Ipv4Addr::new(10, 66, 0, 128)));
    }

    #[test]
    fn free_subnets_avoid_every_overlap() {
        let base = net("10.67.0.0/16");
        let taken = [
            net("10.67.0.0/24"),
            net("10.67.1.128/25"),
            net("10.0.0.0/8").trunc(),
        ];
        assert_eq!(choose_subnet(base, 24, &taken[..2]), Some(net("10.67.2.0/24")));
        assert_eq!(choose_subnet(base, 24, &taken), None);
        assert_eq!(parse_subnet("10.5.5.5/24"), Some(net("10.5.5.0/24")));
        assert_eq!(parse_subnet("bad"), None);
    }

    #[test]
    fn macs_parse_as_go_parses_them() {
        assert_eq!(parse_mac("02:42:AC:11:00:02"), Some([2, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(parse_mac("02-42-ac-11-00-02"), Some([2, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("02:42:ac:11:00:zz"), None);
        assert_eq!(parse_mac("2:42:ac:11:00:02"), None);
    }

    #[test]
    fn macs_follow_docker() {
        assert_eq!(
            mac_text(mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
    }
}
