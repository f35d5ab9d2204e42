//! The embedded DNS server, Docker's `127.0.0.11`: containers on a user-defined network find
//! each other by container name, network alias and short id (A, and AAAA for those with an
//! IPv6 address, and PTR for their addresses of both families); every other question goes to the
//! host's name servers.
//!
//! Its sockets are bound inside the container's network namespace (so `127.0.0.11:53` is the
//! container's own loopback), but served by berthd's tasks, and the questions it forwards leave
//! from berthd's namespace — so even a host resolver on 127.0.0.53 answers.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

/// Where containers send their questions (Docker's address).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// How long answers about containers may be cached (Docker's embedded server says 600 s).
const TTL: u32 = 600;
/// How long to wait for one upstream server.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// At most this many questions in flight per server (each one forwarded holds a socket for up
/// to [`UPSTREAM_TIMEOUT`] per upstream): past it, a UDP question is dropped (the client asks
/// again, as it would after a lost packet) and a TCP connection refused.
const MAX_IN_FLIGHT: usize = 64;
/// How long a TCP client may take to send a question.
const TCP_QUESTION_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server knows about the containers one container may see.
pub trait Names: Send + Sync {
    /// The addresses of a container name, alias or short id (lower case, no trailing dot).
    fn addresses(&self, name: &str) -> Vec<Ipv4Addr>;
    /// The IPv6 addresses of the same (those on networks with IPv6).
    fn addresses6(&self, name: &str) -> Vec<Ipv6Addr>;
    /// The name to answer a reverse lookup of `ip` (of either family) with.
    fn name_of(&self, ip: IpAddr) -> Option<String>;
}

/// The server's sockets, bound inside a container's namespace.
#[derive(Debug)]
pub struct Sockets {
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
}

/// Bind `127.0.0.11:53` (UDP and TCP) inside `netns`, whose loopback must be up.
pub fn bind_in(netns: &File) -> io::Result<Sockets> {
    let address = SocketAddr::V4(SocketAddrV4::new(ADDRESS, 53));
    super::netns::run_in(netns, || {
        let udp = std::net::UdpSocket::bind(address)?;
        let tcp = std::net::TcpListener::bind(address)?;
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        Ok(Sockets { udp, tcp })
    })
}

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct DnsServer {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `sockets` on `runtime`.
pub fn spawn(
    sockets: Sockets,
    names: Arc<dyn Names>,
    upstreams: Vec<SocketAddr>,
    runtime: &tokio::runtime::Handle,
) -> io::Result<DnsServer> {
    let _entered = runtime.enter();
    let udp = Arc::new(tokio::net::UdpSocket::from_std(sockets.udp)?);
    let tcp = tokio::net::TcpListener::from_std(sockets.tcp)?;
    let upstreams = Arc::new(upstreams);
    let task = runtime.spawn(async move {
        let mut work = JoinSet::new();
        let mut buf = vec![0u8; 4096];
        loop {
            tokio::select! {
                received = udp.recv_from(&mut buf) => {
                    let Ok((n, client)) = received else { continue };
                    if work.len() >= MAX_IN_FLIGHT {
                        continue;
                    }
                    let (query, udp, names, upstreams) = (buf[..n].to_vec(), udp.clone(), names.clone(), upstreams.clone());
                    work.spawn(async move {
                        if let Some(reply) = respond(&query, names.as_ref(), &upstreams).await {
                            let _ = udp.send_to(&reply, client).await;
                        }
                    });
                }
                accepted = tcp.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    if work.len() >= MAX_IN_FLIGHT {
                        continue;
                    }
                    work.spawn(serve_tcp(stream, names.clone(), upstreams.clone()));
                }
                Some(_) = work.join_next(), if !work.is_empty() => {}
            }
        }
    });
    Ok(DnsServer { task })
}

/// DNS over TCP: two length bytes before each message.
async fn serve_tcp(
    mut stream: tokio::net::TcpStream,
    names: Arc<dyn Names>,
    upstreams: Arc<Vec<SocketAddr>>,
) {
    loop {
        let mut query = Vec::new();
        let read = async {
            let len = stream.read_u16().await?;
            query.resize(usize::from(len), 0);
            stream.read_exact(&mut query).await
        };
        if !matches!(tokio::time::timeout(TCP_QUESTION_TIMEOUT, read).await, Ok(Ok(_))) {
            return;
        }
        let Some(reply) = respond(&query, names.as_ref(), &upstreams).await else {
            return;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// The reply to one query: from what berthd knows, else from upstream, else SERVFAIL.
async fn respond(query: &[u8], names: &dyn Names, upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if let Some(reply) = answer(&request, names) {
        return reply.to_vec().ok();
    }
    if let Some(reply) = forward(query, upstreams).await {
        return Some(reply);
    }
    let mut failure = reply_to(&request);
    failure.metadata.response_code = ResponseCode::ServFail;
    failure.to_vec().ok()
}

/// An empty reply to `request` (same id, question and recursion bit).
fn reply_to(request: &Message) -> Message {
    let mut reply = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.queries = request.queries.clone();
    reply
}

/// The address in a reverse name (`2.0.66.10.in-addr.arpa.`).
fn reverse_address(name: &str) -> Option<IpAddr> {
    if let Some(digits) = name.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = digits.split('.').map(|d| d.parse().ok()).collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(
            octets[0], octets[1], octets[2], octets[3],
        )));
    }
    // `b.a.9.8.….ip6.arpa`: 32 hex nibbles, the last first.
    let nibbles = name.strip_suffix(".ip6.arpa")?;
    let mut value: u128 = 0;
    let mut count = 0;
    for nibble in nibbles.split('.').rev() {
        if nibble.len() != 1 {
            return None;
        }
        value = value << 4 | u128::from(u8::from_str_radix(nibble, 16).ok()?);
        count += 1;
    }
    (count == 32).then(|| IpAddr::V6(Ipv6Addr::from(value)))
}

/// Answer from the containers' names, or `None` to ask upstream.
pub fn answer(request: &Message, names: &dyn Names) -> Option<Message> {
    if request.metadata.op_code != OpCode::Query || request.queries.len() != 1 {
        return None;
    }
    let query = &request.queries[0];
    let asked = query.name().to_lowercase().to_ascii();
    let asked = asked.trim_end_matches('.');
    let mut reply = reply_to(request);
    match query.query_type() {
        RecordType::A => {
            let addresses = names.addresses(asked);
            if addresses.is_empty() {
                return None;
            }
            for ip in addresses {
                reply
                    .answers
                    .push(Record::from_rdata(query.name().clone(), TTL, RData::A(A(ip))));
            }
        }
        // A container known here without an IPv6 address gets an empty answer, not a forward.
        RecordType::AAAA => {
            if names.addresses(asked).is_empty() {
                return None;
            }
            for ip in names.addresses6(asked) {
                reply.answers.push(Record::from_rdata(
                    query.name().clone(),
                    TTL,
                    RData::AAAA(AAAA(ip)),
                ));
            }
        }
        RecordType::PTR => {
            let ip = reverse_address(asked)?;
            let name = names.name_of(ip)?;
            let target = Name::from_ascii(format!("{name}.")).ok()?;
            reply.answers.push(Record::from_rdata(
                query.name().clone(),
                TTL,
                RData::PTR(PTR(target)),
            ));
        }
        _ => return None,
    }
    Some(reply)
}

/// Ask the host's servers in turn; the first answer wins.
async fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let local: SocketAddr = if upstream.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let Ok(socket) = tokio::net::UdpSocket::bind(local).await else {
            continue;
        };
        if socket.connect(upstream).await.is_err() || socket.send(query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// The name servers of the host's resolv.conf, where unknown names are forwarded.
pub fn host_upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .filter_map(|server| server.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    struct Table;

    impl Names for Table {
        fn addresses(&self, name: &str) -> Vec<Ipv4Addr> {
            match name {
                "web" | "www" | "0123456789ab" => vec![Ipv4Addr::new(10, 67, 0, 2)],
                "v6" => vec![Ipv4Addr::new(10, 67, 0, 3)],
                _ => Vec::new(),
            }
        }

        fn addresses6(&self, name: &str) -> Vec<Ipv6Addr> {
            match name {
                "v6" => vec!["fd42:67::3".parse().unwrap()],
                _ => Vec::new(),
            }
        }

        fn name_of(&self, ip: IpAddr) -> Option<String> {
            let known = [
                IpAddr::V4(Ipv4Addr::new(10, 67, 0, 2)),
                "fd42:67::3".parse().unwrap(),
            ];
            known.contains(&ip).then(|| "web.front".to_owned())
        }
    }

    fn question(name: &str, kind: RecordType) -> Message {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.queries
            .push(Query::query(Name::from_ascii(name).unwrap(), kind));
        m
    }

    #[test]
    fn names_and_aliases_resolve_case_blind() {
        let reply = answer(&question("WWW.", RecordType::A), &Table).unwrap();
        assert_eq!(reply.metadata.id, 7);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(reply.answers[0].data, RData::A(A(Ipv4Addr::new(10, 67, 0, 2))));
        // The bytes round-trip as a resolver reads them.
        let bytes = reply.to_vec().unwrap();
        assert_eq!(Message::from_vec(&bytes).unwrap().answers.len(), 1);
    }

    #[test]
    fn unknown_names_go_upstream_and_known_ones_without_ipv6_have_no_aaaa() {
        assert!(answer(&question("example.org.", RecordType::A), &Table).is_none());
        assert!(answer(&question("example.org.", RecordType::AAAA), &Table).is_none());
        let aaaa = answer(&question("web.", RecordType::AAAA), &Table).unwrap();
        assert!(aaaa.answers.is_empty());
        assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    }

    #[test]
    fn containers_with_ipv6_addresses_get_aaaa_answers() {
        let aaaa = answer(&question("V6.", RecordType::AAAA), &Table).unwrap();
        assert_eq!(
            aaaa.answers.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
            vec![RData::AAAA(AAAA("fd42:67::3".parse().unwrap()))]
        );
    }

    #[test]
    fn reverse_lookups_name_the_container() {
        let reply = answer(&question("2.0.67.10.in-addr.arpa.", RecordType::PTR), &Table).unwrap();
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(
            reverse_address("2.0.67.10.in-addr.arpa"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 67, 0, 2)))
        );
        let v6 = "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.6.0.0.2.4.d.f.ip6.arpa";
        assert_eq!(reverse_address(v6), Some("fd42:67::3".parse().unwrap()));
        let reply = answer(&question(&format!("{v6}."), RecordType::PTR), &Table).unwrap();
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(reverse_address("3.0.ip6.arpa"), None);
        assert_eq!(
            reverse_address("zz.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.6.0.0.2.4.d.f.ip6.arpa"),
            None
        );
    }

    #[tokio::test]
    async fn with_no_upstream_an_unknown_name_fails_with_servfail() {
        let query = question("nowhere.invalid.", RecordType::A).to_vec().unwrap();
        let reply = respond(&query, &Table, &[]).await.unwrap();
        assert_eq!(
            Message::from_vec(&reply).unwrap().metadata.response_code,
            ResponseCode::ServFail
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_questions_holds_a_bounded_number_of_sockets() {
        // An upstream that never answers: every forwarded question waits its full timeout.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sockets = Sockets {
            udp: std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
            tcp: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        };
        sockets.udp.set_nonblocking(true).unwrap();
        sockets.tcp.set_nonblocking(true).unwrap();
        let server_address = sockets.udp.local_addr().unwrap();
        let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let before = open_fds();
        let server = spawn(
            sockets,
            Arc::new(Table),
            vec![silent.local_addr().unwrap()],
            &tokio::runtime::Handle::current(),
        )
        .unwrap();
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let query = question("nowhere.invalid.", RecordType::A).to_vec().unwrap();
        for _ in 0..2_000 {
            client.send_to(&query, server_address).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let during = open_fds();
        assert!(
            during <= before + MAX_IN_FLIGHT + 8,
            "{during} descriptors open during the flood, {before} before"
        );
        drop(server);
    }

    #[test]
    fn upstreams_come_from_resolv_conf() {
        let got = host_upstreams("search lan\nnameserver 127.0.0.53\nnameserver ::1\n");
        assert_eq!(
            got,
            vec!["127.0.0.53:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
    }
}
