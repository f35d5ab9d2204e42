//! Links, addresses and routes over rtnetlink, in berthd's network namespace or inside a
//! container's: the bridge, the veth pair that plugs a container into it, the container's
//! address and default route. (What `ip link`, `ip addr` and `ip route` would do.)

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use futures_util::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

/// A route-netlink connection to one network namespace.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

fn io_error(error: rtnetlink::Error) -> io::Error {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

fn errno_of(error: &io::Error) -> Option<i32> {
    error.raw_os_error()
}

/// Let link `name` hold IPv6 addresses: a host whose `default/disable_ipv6` is 1 makes new
/// bridges without IPv6, and Docker's bridge driver switches it on for its IPv6 networks too.
fn allow_ipv6(name: &str) -> io::Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    if std::fs::read_to_string(&path)?.trim() != "0" {
        std::fs::write(&path, "0")?;
        crate::explain!("wrote 0 to {path}: bridge {name} may hold IPv6 addresses");
    }
    Ok(())
}

impl Netlink {
    /// A connection in berthd's own namespace. Needs a tokio runtime (its socket task runs there).
    pub fn connect() -> io::Result<Netlink> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// A connection whose socket is opened inside the namespace `netns` (it stays there).
    pub fn connect_in(netns: &File, runtime: &tokio::runtime::Handle) -> io::Result<Netlink> {
        let (connection, handle, _) = super::netns::run_in(netns, || {
            let _entered = runtime.enter();
            rtnetlink::new_connection()
        })?;
        runtime.spawn(connection);
        Ok(Netlink { handle })
    }

    /// The index of link `name`, if there is one.
    pub async fn index(&self, name: &str) -> io::Result<Option<u32>> {
        let found = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute()
            .try_next()
            .await
            .map_err(io_error);
        match found {
            Ok(link) => Ok(link.map(|l| l.header.index)),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether link `name` is a bridge.
    async fn is_bridge(&self, name: &str) -> io::Result<bool> {
        let mut links = self.handle.link().get().match_name(name.to_owned()).execute();
        let Some(link) = links.try_next().await.map_err(io_error)? else {
            return Ok(false);
        };
        Ok(link.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos
                .iter()
                .any(|i| matches!(i, rtnetlink::packet_route::link::LinkInfo::Kind(InfoKind::Bridge))),
            _ => false,
        }))
    }

    /// Make sure bridge `name` exists, holds its gateways (each with its subnet's prefix: the
    /// IPv4 one, and the IPv6 one of a network with IPv6) and is up. An existing bridge is
    /// reused, as dockerd reuses docker0.
    pub async fn ensure_bridge(&self, name: &str, gateways: &[(IpAddr, u8)]) -> io::Result<u32> {
        let index = match self.index(name).await? {
            Some(index) => {
                if !self.is_bridge(name).await? {
                    return Err(io::Error::other(format!("{name} exists and is not a bridge")));
                }
                index
            }
            None => {
                self.handle
                    .link()
                    .add(LinkBridge::new(name).build())
                    .execute()
                    .await
                    .map_err(io_error)?;
                crate::explain!("created bridge {name}");
                self.index(name)
                    .await?
                    .ok_or_else(|| io::Error::other(format!("bridge {name} vanished after creation")))?
            }
        };
        if gateways.iter().any(|(address, _)| address.is_ipv6()) {
            allow_ipv6(name)?;
        }
        for (address, prefix) in gateways {
            self.add_address(index, name, *address, *prefix).await?;
        }
        self.set_up(index, name).await?;
        Ok(index)
    }

    /// Delete link `name` (a veth takes its peer with it). Returns whether it existed.
    pub async fn delete_link(&self, name: &str) -> io::Result<bool> {
        let Some(index) = self.index(name).await? else {
            return Ok(false);
        };
        match self.handle.link().del(index).execute().await.map_err(io_error) {
            Ok(()) => {
                crate::explain!("deleted link {name}");
                Ok(true)
            }
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A veth pair: `host` stays here, plugged into `bridge` and up; its peer appears inside
    /// `netns` as `peer` with MAC address `mac`. Both ends get `mtu` when one is given.
    pub async fn add_veth(
        &self,
        host: &str,
        bridge: (u32, &str),
        peer: &str,
        mac: [u8; 6],
        mtu: Option<u32>,
        netns: &File,
    ) -> io::Result<()> {
        let mut peer_message = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_owned())
            .address(mac.to_vec())
            .setns_by_fd(netns.as_raw_fd());
        let mut message =
            LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth).name(host.to_owned());
        if let Some(mtu) = mtu {
            peer_message = peer_message.mtu(mtu);
            message = message.mtu(mtu);
        }
        let message = message
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message.build())))
            .controller(bridge.0)
            .up()
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(io_error)?;
        crate::explain!(
            "created veth pair {host} (on bridge {}) and {peer} (in the container's network namespace)",
            bridge.1
        );
        Ok(())
    }

    /// Plug link `name` into `bridge` (after a restart that had to make the bridge anew).
    pub async fn attach(&self, name: &str, bridge: (u32, &str)) -> io::Result<bool> {
        let Some(index) = self.index(name).await? else {
            return Ok(false);
        };
        self.handle
            .link()
            .set(
                LinkUnspec::new_with_index(index)
                    .controller(bridge.0)
                    .up()
                    .build(),
            )
            .execute()
            .await
            .map_err(io_error)?;
        crate::explain!("attached {name} to bridge {}", bridge.1);
        Ok(true)
    }

    /// Bring link `index` up.
    pub async fn set_up(&self, index: u32, name: &str) -> io::Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(io_error)?;
        crate::explain!("brought {name} up");
        Ok(())
    }

    /// Give link `index` an address (already having it is fine). An IPv6 address skips
    /// duplicate address detection (`nodad`, as Docker sets it): usable at once, not seconds
    /// later, and the subnet is berth's own.
    pub async fn add_address(&self, index: u32, name: &str, address: IpAddr, prefix: u8) -> io::Result<()> {
        let mut request = self.handle.address().add(index, address, prefix);
        if address.is_ipv6() {
            let message = request.message_mut();
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await.map_err(io_error) {
            Ok(()) => {
                crate::explain!("gave {name} the address {address}/{prefix}");
                Ok(())
            }
            Err(e) if errno_of(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Take `address/prefix` off link `name` (already gone, or the link gone, is fine).
    pub async fn delete_address(&self, name: &str, address: IpAddr, prefix: u8) -> io::Result<()> {
        let Some(index) = self.index(name).await? else {
            return Ok(());
        };
        let found: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(address)
            .set_prefix_length_filter(prefix)
            .execute()
            .try_collect()
            .await
            .map_err(io_error)?;
        for message in found {
            match self
                .handle
                .address()
                .del(message)
                .execute()
                .await
                .map_err(io_error)
            {
                Ok(()) => crate::explain!("took the address {address}/{prefix} off {name}"),
                Err(e) if errno_of(&e) == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The default route, through `gateway`.
    pub async fn add_default_route(&self, gateway: Ipv4Addr) -> io::Result<()> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).build();
        self.handle.route().add(route).execute().await.map_err(io_error)?;
        crate::explain!("added the default route via {gateway}");
        Ok(())
    }

    /// The IPv6 default route, through `gateway`.
    pub async fn add_default_route6(&self, gateway: Ipv6Addr) -> io::Result<()> {
        let route = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gateway).build();
        self.handle.route().add(route).execute().await.map_err(io_error)?;
        crate::explain!("added the IPv6 default route via {gateway}");
        Ok(())
    }

    /// The destinations routed in the main table that `request` (one address family) asks
    /// for, the default route excepted: subnets a new network must not overlap.
    async fn routed(&self, request: RouteMessage) -> io::Result<Vec<(IpAddr, u8)>> {
        let routes: Vec<_> = self
            .handle
            .route()
            .get(request)
            .execute()
            .try_collect()
            .await
            .map_err(io_error)?;
        Ok(routes
            .iter()
            .filter(|r| r.header.destination_prefix_length > 0 && r.header.table == libc::RT_TABLE_MAIN)
            .filter_map(|r| {
                let length = r.header.destination_prefix_length;
                r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some((IpAddr::V4(*ip), length)),
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some((IpAddr::V6(*ip), length)),
                    _ => None,
                })
            })
            .collect())
    }

    /// The IPv6 destinations routed in the main table, except the default route, link-local
    /// and multicast ones: subnets a new network must not overlap (the host's own LAN, say).
    pub async fn routed_subnets6(&self) -> io::Result<Vec<Ipv6Net>> {
        let routed = self
            .routed(RouteMessageBuilder::<Ipv6Addr>::new().build())
            .await?;
        Ok(routed
            .into_iter()
            .filter_map(|(ip, length)| match ip {
                IpAddr::V6(ip) => Ipv6Net::new(ip, length).ok(),
                IpAddr::V4(_) => None,
            })
            .filter(|net| {
                let first = net.network().segments()[0];
                // fe80::/10 and ff00::/8: every link has them.
                first & 0xffc0 != 0xfe80 && first & 0xff00 != 0xff00
            })
            .collect())
    }

    /// The IPv4 destinations routed in the main table (except the default route): subnets a
    /// new network must not overlap.
    pub async fn routed_subnets(&self) -> io::Result<Vec<Ipv4Net>> {
        let routed = self
            .routed(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .await?;
        Ok(routed
            .into_iter()
            .filter_map(|(ip, length)| match ip {
                IpAddr::V4(ip) => Ipv4Net::new(ip, length).ok(),
                IpAddr::V6(_) => None,
            })
            .collect())
    }
}
