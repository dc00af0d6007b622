//! End-to-end checks of the transport on loopback: real handshakes between two
//! endpoints, with the right key, the wrong key, and keys off the allow list.

use super::endpoint::{Listen, alpn, describe, peer_id};
use super::{ALPN_GOSSIP, ALPN_PIPE, Allow, Endpoint, Tuning};
use crate::identity::Identity;
use std::net::SocketAddr;
use std::time::Duration;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn tuning() -> Tuning {
    Tuning {
        idle_timeout: Duration::from_secs(5),
        ..Tuning::default()
    }
}

fn listener(identity: &Identity, allow: Allow) -> Endpoint {
    let listen = Listen {
        allow,
        alpns: vec![ALPN_PIPE.to_vec()],
    };
    Endpoint::bind(identity, loopback(), Some(listen), tuning()).unwrap()
}

fn dialer(identity: &Identity) -> Endpoint {
    Endpoint::bind(identity, loopback(), None, tuning()).unwrap()
}

/// Runs `f` with a deadline, so a hang fails the test.
fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(smol::future::or(f, async {
        smol::Timer::after(Duration::from_secs(20)).await;
        panic!("test timed out")
    }))
}

#[test]
fn dial_proves_both_keys_and_carries_data() {
    let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let server = listener(&a, Allow::Anyone);
    let client = dialer(&b);
    let addr = server.local_addr().unwrap();
    bounded(async {
        let accept = smol::spawn(async move {
            let incoming = server.accept().await.unwrap();
            let (peer, conn) = incoming.accept().await.unwrap();
            let (mut send, mut recv) = conn.accept_bi().await.unwrap();
            let got = recv.read_to_end(1 << 20).await.unwrap();
            send.write_all(&got).await.unwrap();
            send.finish().unwrap();
            let _ = send.stopped().await;
            (peer, conn)
        });
        // The wrong-family and unreachable addresses are tried at the same time.
        let addrs = [addr, "[::1]:9".parse().unwrap()];
        let conn = client.dial(a.id(), &addrs, ALPN_PIPE).await.unwrap();
        assert_eq!(peer_id(&conn), Some(a.id()));
        assert_eq!(alpn(&conn).as_deref(), Some(ALPN_PIPE));
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(b"hello over raw public keys").await.unwrap();
        send.finish().unwrap();
        let echoed = recv.read_to_end(1 << 20).await.unwrap();
        assert_eq!(echoed, b"hello over raw public keys");
        let (peer, _conn) = accept.await;
        assert_eq!(peer, b.id());
    });
}

#[test]
fn dialer_refuses_a_peer_with_another_key() {
    let (a, b, c) = (
        Identity::from_seed([1; 32]),
        Identity::from_seed([2; 32]),
        Identity::from_seed([3; 32]),
    );
    let server = listener(&a, Allow::Anyone);
    let client = dialer(&b);
    let addr = server.local_addr().unwrap();
    bounded(async {
        let _serve = smol::spawn(async move {
            while let Some(incoming) = server.accept().await {
                let _ = incoming.accept().await;
            }
        });
        let err = client.dial(c.id(), &[addr], ALPN_PIPE).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&a.id().to_string()), "{message}");
        assert!(message.contains("not the"), "{message}");
    });
}

#[test]
fn listener_admits_only_its_allow_list() {
    let (a, b, c) = (
        Identity::from_seed([1; 32]),
        Identity::from_seed([2; 32]),
        Identity::from_seed([3; 32]),
    );
    let server = listener(&a, Allow::from_ids([b.id()]));
    let addr = server.local_addr().unwrap();
    bounded(async {
        let outcomes = smol::spawn(async move {
            // The accepted connections are kept (and returned) so that dropping them
            // cannot close the allowed peer's connection before the test looks at it.
            let (mut outcomes, mut kept) = (Vec::new(), Vec::new());
            for _ in 0..2 {
                let incoming = server.accept().await.unwrap();
                match incoming.accept().await {
                    Ok((peer, conn)) => {
                        outcomes.push(Some(peer));
                        kept.push(conn);
                    }
                    Err(_) => outcomes.push(None),
                }
            }
            (outcomes, kept, server)
        });
        // In TLS 1.3 the client finishes its handshake before the server has checked
        // the client's key, so the refusal arrives as the connection's close.
        let stranger = dialer(&c);
        if let Ok(conn) = stranger.dial(a.id(), &[addr], ALPN_PIPE).await {
            let reason = describe(&conn.closed().await);
            assert!(reason.contains("refused"), "{reason}");
        }
        let friend = dialer(&b);
        let conn = friend.dial(a.id(), &[addr], ALPN_PIPE).await.unwrap();
        let (outcomes, _kept, _server) = outcomes.await;
        assert_eq!(outcomes, vec![None, Some(b.id())]);
        assert!(
            conn.close_reason().is_none(),
            "the allowed peer was dropped"
        );
    });
}

#[test]
fn protocols_must_match() {
    let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let server = listener(&a, Allow::Anyone);
    let addr = server.local_addr().unwrap();
    bounded(async {
        let _serve = smol::spawn(async move {
            while let Some(incoming) = server.accept().await {
                let _ = incoming.accept().await;
            }
        });
        let wrong = dialer(&b).dial(a.id(), &[addr], ALPN_GOSSIP).await;
        assert!(wrong.is_err());
    });
}

#[test]
fn a_new_allow_list_applies_to_new_handshakes() {
    let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let mut server = listener(&a, Allow::from_ids([a.id()]));
    server.set_allow(Allow::from_ids([b.id()])).unwrap();
    let addr = server.local_addr().unwrap();
    bounded(async {
        let accepted = smol::spawn(async move {
            let incoming = server.accept().await.unwrap();
            assert_eq!(incoming.remote().ip(), addr.ip());
            incoming.accept().await.map(|(peer, _)| peer).ok()
        });
        let client = dialer(&b);
        let _conn = client.dial(a.id(), &[addr], ALPN_PIPE).await.unwrap();
        assert_eq!(accepted.await, Some(b.id()));
    });
    let mut plain = dialer(&b);
    assert!(
        plain.set_allow(Allow::Anyone).is_err(),
        "a dialer has no allow list"
    );
}

/// MTU probes are padded to their size with PADDING frames; the patched quinn-proto
/// (patches/quinn-proto) takes each run as one frame, so probing a loopback path up
/// to several kilobytes costs one pass of the frame loop per probe, not one per byte.
#[test]
fn an_mtu_probe_s_padding_is_parsed_as_one_frame() {
    let (a, b) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let server = listener(&a, Allow::Anyone);
    let client = dialer(&b);
    let addr = server.local_addr().unwrap();
    bounded(async {
        let accepted = smol::spawn(async move {
            let incoming = server.accept().await.unwrap();
            let (_, conn) = incoming.accept().await.unwrap();
            (conn, server)
        });
        let conn = client.dial(a.id(), &[addr], ALPN_PIPE).await.unwrap();
        let (accepted, _server) = accepted.await;
        // The server probes once the handshake is confirmed; wait for it to grow.
        while accepted.stats().path.current_mtu < 4000 {
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        let stats = conn.stats();
        let padding = stats.frame_rx.padding;
        assert!(padding > 0, "the probes' padding was not seen: {stats:?}");
        assert!(
            padding <= stats.udp_rx.datagrams,
            "{padding} PADDING frames in {} datagrams: padding parsed byte by byte",
            stats.udp_rx.datagrams
        );
    });
}

/// Both sides put AES-128-GCM with SHA-256 first (a cheaper handshake hash and a
/// faster bulk cipher than ring's default of AES-256 with SHA-384), and still offer
/// the other two TLS 1.3 suites to peers that want them.
#[test]
fn aes_128_with_sha_256_is_the_preferred_suite() {
    use rustls::CipherSuite;
    let suites: Vec<CipherSuite> = super::config::provider()
        .cipher_suites
        .iter()
        .map(rustls::SupportedCipherSuite::suite)
        .collect();
    assert_eq!(
        suites,
        [
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ]
    );
}
