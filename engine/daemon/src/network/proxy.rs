//! The userland proxy (Docker's docker-proxy, as tokio tasks in berthd): it listens on a
//! published port's host address and copies each connection (or UDP flow) to the container.
//! DNAT serves traffic from other hosts and to the host's other addresses; the proxy is what
//! answers on 127.0.0.1, where the kernel won't route DNAT'd packets out, and for containers
//! reaching a published port through the host.
//!
//! Binding the listener is also how a port clash shows: the kernel refuses the address.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::task::JoinSet;

use super::firewall::Proto;

/// How long a UDP flow lives without traffic (Docker's proxy: 90 s).
const UDP_FLOW_IDLE: Duration = Duration::from_secs(90);

/// A listening socket for a published port, bound but not yet serving.
#[derive(Debug)]
pub enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// Bind `host` for `proto`, as the proxy will serve it. An IPv6 listener takes IPv6 only, so
/// `0.0.0.0` and `::` can both be bound (Docker binds both).
pub fn bind(proto: Proto, host: SocketAddr) -> io::Result<Bound> {
    let domain = Domain::for_address(host);
    let (kind, protocol) = match proto {
        Proto::Tcp => (Type::STREAM, Protocol::TCP),
        Proto::Udp => (Type::DGRAM, Protocol::UDP),
    };
    let socket = Socket::new(domain, kind.cloexec(), Some(protocol))?;
    if host.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if proto == Proto::Tcp {
        // As Go's listeners: a port in TIME_WAIT can be taken again at once.
        socket.set_reuse_address(true)?;
    }
    socket.bind(&host.into())?;
    socket.set_nonblocking(true)?;
    Ok(match proto {
        Proto::Tcp => {
            socket.listen(1024)?;
            Bound::Tcp(socket.into())
        }
        Proto::Udp => Bound::Udp(socket.into()),
    })
}

/// A running proxy; dropping it closes the listener and every connection it carries.
#[derive(Debug)]
pub struct Proxy {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `bound` towards `target` on `runtime`.
pub fn spawn(bound: Bound, target: SocketAddr, runtime: &tokio::runtime::Handle) -> io::Result<Proxy> {
    let _entered = runtime.enter();
    let task = match bound {
        Bound::Tcp(listener) => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            runtime.spawn(serve_tcp(listener, target))
        }
        Bound::Udp(socket) => {
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            runtime.spawn(serve_udp(socket, target))
        }
    };
    Ok(Proxy { task })
}

async fn serve_tcp(listener: tokio::net::TcpListener, target: SocketAddr) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut client, _)) = accepted else { continue };
                connections.spawn(async move {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_udp(socket: tokio::net::UdpSocket, target: SocketAddr) {
    let socket = Arc::new(socket);
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<tokio::net::UdpSocket>>>> = Arc::default();
    let mut replies = JoinSet::new();
    let mut buf = vec![0u8; 65535];
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buf) => received,
            Some(_) = replies.join_next(), if !replies.is_empty() => continue,
        };
        let Ok((n, client)) = received else { continue };
        let existing = flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&client)
            .cloned();
        let upstream = match existing {
            Some(upstream) => upstream,
            None => {
                let local: SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let Ok(upstream) = tokio::net::UdpSocket::bind(local).await else {
                    continue;
                };
                if upstream.connect(target).await.is_err() {
                    continue;
                }
                let upstream = Arc::new(upstream);
                flows
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(client, upstream.clone());
                let (socket, flows, reader) = (socket.clone(), flows.clone(), upstream.clone());
                replies.spawn(async move {
                    let mut buf = vec![0u8; 65535];
                    while let Ok(Ok(n)) = tokio::time::timeout(UDP_FLOW_IDLE, reader.recv(&mut buf)).await {
                        if socket.send_to(&buf[..n], client).await.is_err() {
                            break;
                        }
                    }
                    flows.lock().unwrap_or_else(|p| p.into_inner()).remove(&client);
                });
                upstream
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_bytes_go_both_ways_and_a_taken_port_is_refused() {
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let bound = bind(Proto::Tcp, "127.0.0.1:0".parse().unwrap()).unwrap();
        let Bound::Tcp(listener) = &bound else {
            unreachable!()
        };
        let front = listener.local_addr().unwrap();
        assert!(
            bind(Proto::Tcp, front).is_err(),
            "a second bind of one port fails"
        );
        let _proxy = spawn(bound, target, &tokio::runtime::Handle::current()).unwrap();
        let mut client = tokio::net::TcpStream::connect(front).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
    }

    #[tokio::test]
    async fn udp_replies_come_back_to_the_sender() {
        let echo = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let (n, from) = echo.recv_from(&mut buf).await.unwrap();
            echo.send_to(&buf[..n], from).await.unwrap();
        });
        let bound = bind(Proto::Udp, "127.0.0.1:0".parse().unwrap()).unwrap();
        let Bound::Udp(socket) = &bound else {
            unreachable!()
        };
        let front = socket.local_addr().unwrap();
        let _proxy = spawn(bound, target, &tokio::runtime::Handle::current()).unwrap();
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"ping", front).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
    }
}
