//! Address management (IPAM): a network's subnet and gateway, the addresses handed to its
//! endpoints, and the choice of a free subnet for a network created without `--subnet`.
//! [`Pool`] hands out IPv4 addresses, [`Pool6`] those of a network's IPv6 subnet.
//!
//! Which addresses are taken is kept in memory only: it is rebuilt from the running containers'
//! records when berthd starts, so it can never drift from what the kernel has.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address can't be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// the address asked for is outside the network's subnet
    #[error("Invalid address {0}: It does not belong to any of this network's subnets")]
    OutsideSubnet(IpAddr),
    /// another endpoint (or the gateway) has it
    #[error("Address already in use")]
    InUse(IpAddr),
    /// every address of the subnet is handed out
    #[error("no available IPv4 addresses on this network's address pools")]
    Exhausted,
    /// every address of the IPv6 subnet is handed out
    #[error("no available IPv6 addresses on this network's address pools")]
    Exhausted6,
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
        // Only the part of the range inside the subnet (a range may lie outside it).
        let start = u32::from(self.range.network()).max(u32::from(self.subnet.network()));
        let end = u32::from(self.range.broadcast()).min(u32::from(self.subnet.broadcast()));
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
            return Err(IpamError::OutsideSubnet(ip.into()));
        }
        if ip == self.gateway || !self.taken.insert(ip) {
            return Err(IpamError::InUse(ip.into()));
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

/// The addresses of a network's IPv6 subnet. As Docker's IPAM: handed out in order from the
/// range's first address (`::2`, `::3`… after the gateway `::1`), never the subnet's first
/// (its router anycast address); IPv6 has no broadcast, so the last one is an address like any.
#[derive(Debug, Clone)]
pub struct Pool6 {
    subnet: Ipv6Net,
    gateway: Ipv6Addr,
    range: Ipv6Net,
    taken: BTreeSet<Ipv6Addr>,
}

impl Pool6 {
    pub fn new(subnet: Ipv6Net, gateway: Ipv6Addr, range: Option<Ipv6Net>) -> Pool6 {
        Pool6 {
            subnet,
            gateway,
            range: range.unwrap_or(subnet),
            taken: BTreeSet::new(),
        }
    }

    pub fn subnet(&self) -> Ipv6Net {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv6Addr {
        self.gateway
    }

    /// The lowest free address of the range. Only a few are ever taken, so the search ends
    /// after as many steps as there are endpoints, however big the subnet.
    pub fn allocate(&mut self) -> Result<Ipv6Addr, IpamError> {
        // Only the part of the range inside the subnet: a range outside it (Docker takes one)
        // gives nothing, and is not walked address by address.
        let start = u128::from(self.range.network()).max(u128::from(self.subnet.network()));
        let end = u128::from(self.range.broadcast()).min(u128::from(self.subnet.broadcast()));
        if start > end {
            return Err(IpamError::Exhausted6);
        }
        let mut candidate = start;
        loop {
            let ip = Ipv6Addr::from(candidate);
            let usable = ip != self.gateway && ip != self.subnet.network() && self.subnet.contains(&ip);
            if usable && !self.taken.contains(&ip) {
                self.taken.insert(ip);
                return Ok(ip);
            }
            if candidate == end {
                return Err(IpamError::Exhausted6);
            }
            candidate += 1;
        }
    }

    /// Take a given address (`--ip6`, or a running container's after a restart).
    pub fn reserve(&mut self, ip: Ipv6Addr) -> Result<(), IpamError> {
        if !self.subnet.contains(&ip) {
            return Err(IpamError::OutsideSubnet(ip.into()));
        }
        if ip == self.gateway || ip == self.subnet.network() || !self.taken.insert(ip) {
            return Err(IpamError::InUse(ip.into()));
        }
        Ok(())
    }

    pub fn release(&mut self, ip: Ipv6Addr) {
        self.taken.remove(&ip);
    }
}

/// Whether a subnet has an address to give besides the reserved ones (Docker reserves an IPv4
/// subnet's first and last, an IPv6 subnet's first).
pub fn has_hosts(subnet: IpNet) -> bool {
    match subnet {
        IpNet::V4(net) => net.prefix_len() <= 30,
        IpNet::V6(net) => net.prefix_len() <= 127,
    }
}

/// The address Docker's IPAM never hands out: the subnet's first, and an IPv4 subnet's last.
pub fn is_reserved(subnet: IpNet, ip: IpAddr) -> bool {
    match subnet {
        IpNet::V4(net) => ip == IpAddr::V4(net.network()) || ip == IpAddr::V4(net.broadcast()),
        IpNet::V6(net) => ip == IpAddr::V6(net.network()),
    }
}

/// The gateway Docker picks when none is given: the subnet's first host address.
pub fn first_address(subnet: IpNet) -> IpAddr {
    match subnet {
        IpNet::V4(net) => IpAddr::V4(default_gateway(net)),
        IpNet::V6(net) => IpAddr::V6(Ipv6Addr::from(u128::from(net.network()).saturating_add(1))),
    }
}

/// Parse an IPv6 `--subnet` for address arithmetic (host bits cleared).
pub fn parse_subnet6(text: &str) -> Option<Ipv6Net> {
    text.parse::<Ipv6Net>().ok().map(|net| net.trunc())
}

/// The first host address of a subnet: the gateway Docker picks when none is given.
pub fn default_gateway(subnet: Ipv4Net) -> Ipv4Addr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

/// Whether two subnets share any address (never two of different families).
pub fn overlaps(a: impl Into<IpNet>, b: impl Into<IpNet>) -> bool {
    let (a, b) = (a.into(), b.into());
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

/// The address dockerd's default bridge gives with a `--fixed-cidr-v6` of 48 host bits or more:
/// the subnet's prefix with the MAC in the last six bytes (`2001:db8::242:a42:2`).
pub fn address_from_mac(subnet: Ipv6Net, mac: [u8; 6]) -> Ipv6Addr {
    let mut octets = subnet.network().octets();
    octets[10..].copy_from_slice(&mac);
    Ipv6Addr::from(octets)
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
            Err(IpamError::InUse(Ipv4Addr::new(10, 66, 0, 9).into()))
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
    fn ipv6_addresses_come_in_order_after_the_gateway_and_the_last_one_counts() {
        let subnet: Ipv6Net = "fd42:1::/126".parse().unwrap();
        let gateway = "fd42:1::1".parse().unwrap();
        let mut pool = Pool6::new(subnet, gateway, None);
        assert_eq!(pool.allocate(), Ok("fd42:1::2".parse().unwrap()));
        assert_eq!(pool.allocate(), Ok("fd42:1::3".parse().unwrap()));
        assert_eq!(pool.allocate(), Err(IpamError::Exhausted6));
        pool.release("fd42:1::2".parse().unwrap());
        assert_eq!(pool.reserve("fd42:1::2".parse().unwrap()), Ok(()));
        assert!(matches!(
            pool.reserve("fd42:1::".parse().unwrap()),
            Err(IpamError::InUse(_))
        ));
        assert!(matches!(pool.reserve(gateway), Err(IpamError::InUse(_))));
        assert!(matches!(
            pool.reserve("fd42:2::9".parse().unwrap()),
            Err(IpamError::OutsideSubnet(_))
        ));
    }

    #[test]
    fn a_range_outside_the_subnet_gives_nothing_at_once() {
        let subnet: Ipv6Net = "fd42:1::/64".parse().unwrap();
        let mut pool = Pool6::new(
            subnet,
            "fd42:1::1".parse().unwrap(),
            Some("fd42:9::/32".parse().unwrap()),
        );
        assert_eq!(pool.allocate(), Err(IpamError::Exhausted6));
        let wide = Pool6::new(
            subnet,
            "fd42:1::1".parse().unwrap(),
            Some("fd00::/8".parse().unwrap()),
        )
        .allocate();
        assert_eq!(wide, Ok("fd42:1::2".parse().unwrap()));
        let v4 = net("10.66.0.0/24");
        let mut pool4 = Pool::new(v4, default_gateway(v4), Some(net("0.0.0.0/0")));
        assert_eq!(pool4.allocate(), Ok(Ipv4Addr::new(10, 66, 0, 2)));
        let mut outside = Pool::new(v4, default_gateway(v4), Some(net("10.128.0.0/9")));
        assert_eq!(outside.allocate(), Err(IpamError::Exhausted));
    }

    #[test]
    fn an_ipv6_range_starts_at_its_own_first_address() {
        let subnet: Ipv6Net = "fd42:1::/64".parse().unwrap();
        let mut pool = Pool6::new(
            subnet,
            "fd42:1::1".parse().unwrap(),
            Some("fd42:1::100/120".parse().unwrap()),
        );
        assert_eq!(pool.allocate(), Ok("fd42:1::100".parse().unwrap()));
        assert!(!has_hosts("fd42::/128".parse().unwrap()));
        assert!(has_hosts("fd42::/127".parse().unwrap()));
        assert_eq!(
            first_address("fd42::/64".parse().unwrap()),
            "fd42::1".parse::<IpAddr>().unwrap()
        );
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
    fn the_default_bridge_builds_ipv6_addresses_from_macs() {
        let subnet: Ipv6Net = "2001:db8:1::/64".parse().unwrap();
        assert_eq!(
            address_from_mac(subnet, mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "2001:db8:1::242:ac11:2".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn macs_follow_docker() {
        assert_eq!(
            mac_text(mac_for(Ipv4Addr::new(172, 17, 0, 2))),
            "02:42:ac:11:00:02"
        );
    }
}
