//! Peers whose port is gone: ICMP "port unreachable" read from a UDP socket's
//! error queue.
//!
//! When a peer's process ends without closing its connections (killed, crashed),
//! its host still answers what we send to the port with ICMP port unreachable.
//! An unconnected UDP socket drops those answers unless `IP_RECVERR` (or
//! `IPV6_RECVERR`) is set; with it, each lands on the socket's error queue with
//! the destination of the datagram that caused it, and the next read fails
//! (`ECONNREFUSED`) until the queue is read with `MSG_ERRQUEUE`. QUIC alone
//! notices such a peer only at its idle timeout (seconds); this tells within a
//! round trip of the next datagram sent to it.
//!
//! The report is a hint, not proof: ICMP is not authenticated, so someone who
//! knows both addresses and can send packets with a forged source could make a
//! link look dead. Only gossip asks for it, where a link wrongly dropped is
//! repaired like any lost neighbour.

use nix::libc;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

/// Asks the kernel to queue ICMP errors on `socket` (bound to an address of the
/// family `v6` says; a dual-stack IPv6 socket gets both options).
pub fn enable(socket: &impl AsFd, v6: bool) -> io::Result<()> {
    if v6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)?;
        // IPv4-mapped peers of a dual-stack socket report through the IPv4 option.
        let _ = setsockopt(socket, sockopt::Ipv4RecvErr, &true);
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true)?;
    }
    Ok(())
}

/// Reads `socket`'s error queue to its end, passing each destination that
/// answered "port unreachable" to `found`. Other errors (host unreachable, packet
/// too big) are read and dropped.
pub fn drain(socket: &impl AsRawFd, mut found: impl FnMut(SocketAddr)) {
    let fd = socket.as_raw_fd();
    // The queued error carries the start of the datagram that caused it: not needed.
    let mut quoted = [0u8; 64];
    // quinn's sockets also ask for each datagram's destination and TOS, and those
    // come first: room for all three, or the error itself is cut off.
    let mut cmsg = nix::cmsg_space!(
        libc::in6_pktinfo,
        u32,
        libc::sock_extended_err,
        libc::sockaddr_in6
    );
    loop {
        let mut iov = [IoSliceMut::new(&mut quoted)];
        let Ok(msg) = recvmsg::<SockaddrStorage>(
            fd,
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        ) else {
            return;
        };
        // A dual-stack socket gets an IPv4 peer's ICMP as an IPv6 control message
        // (origin ICMP, the address IPv4-mapped).
        let refused = msg.cmsgs().is_ok_and(|mut cmsgs| {
            cmsgs.any(|c| match c {
                ControlMessageOwned::Ipv4RecvErr(e, _) | ControlMessageOwned::Ipv6RecvErr(e, _) => {
                    is_refused(&e)
                }
                _ => false,
            })
        });
        if refused && let Some(addr) = msg.address.as_ref().and_then(socket_addr) {
            found(addr);
        }
    }
}

/// ICMP (or ICMPv6) port unreachable.
fn is_refused(e: &libc::sock_extended_err) -> bool {
    matches!(
        e.ee_origin,
        libc::SO_EE_ORIGIN_ICMP | libc::SO_EE_ORIGIN_ICMP6
    ) && e.ee_errno == libc::ECONNREFUSED as u32
}

fn socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    let v6 = addr.as_sockaddr_in6()?;
    Some(SocketAddr::from((v6.ip(), v6.port())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    /// A loopback port nobody listens on (bound, then closed).
    fn closed_port(ip: &str) -> SocketAddr {
        UdpSocket::bind(format!("{ip}:0"))
            .and_then(|s| s.local_addr())
            .unwrap()
    }

    fn reported(ip: &str, v6: bool, opt_in: bool) -> (SocketAddr, Vec<SocketAddr>) {
        reported_from(&format!("{ip}:0"), ip, v6, opt_in)
    }

    /// Sends from a socket bound to `bind` to a closed port on `to`; returns that
    /// port's address and what was reported.
    fn reported_from(
        bind: &str,
        to: &str,
        v6: bool,
        opt_in: bool,
    ) -> (SocketAddr, Vec<SocketAddr>) {
        let socket = UdpSocket::bind(bind).unwrap();
        // As quinn's sockets are: each datagram's destination and TOS asked for
        // too, whose control messages come before the error's.
        quinn::udp::UdpSocketState::new((&socket).into()).unwrap();
        socket.set_nonblocking(true).unwrap();
        if opt_in {
            enable(&socket, v6).unwrap();
        }
        let gone = closed_port(to);
        socket.send_to(b"anyone there?", gone).unwrap();
        let mut found = Vec::new();
        let until = Instant::now() + Duration::from_millis(500);
        while found.is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
            drain(&socket, |addr| found.push(addr));
        }
        (gone, found)
    }

    #[test]
    fn a_datagram_to_a_closed_port_reports_its_destination() {
        let (gone, found) = reported("127.0.0.1", false, true);
        assert_eq!(found, vec![gone]);
        let (gone, found) = reported("[::1]", true, true);
        assert_eq!(found, vec![gone]);
    }

    #[test]
    fn a_dual_stack_socket_reports_an_ipv4_peer_mapped() {
        let (gone, found) = reported_from("[::]:0", "127.0.0.1", true, true);
        let mapped = SocketAddr::from((gone.ip().to_canonical(), gone.port()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ip().to_canonical(), mapped.ip());
        assert_eq!(found[0].port(), gone.port());
    }

    #[test]
    fn nothing_is_reported_unless_asked_for() {
        let (_, found) = reported("127.0.0.1", false, false);
        assert!(found.is_empty(), "{found:?}");
    }
}
