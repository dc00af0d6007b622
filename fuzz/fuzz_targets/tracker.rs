//! Arbitrary bytes through the tracker protocol parsers (`codec::tracker`) and the
//! bencode codec: the first byte picks the parser, the rest is its input.
//! Nothing panics, and whatever parses re-encodes to bytes that parse the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::codec::bencode;
use p2p_shared::codec::tracker::{self as tracker_proto, Announce, Reply, UdpRequest};
use std::net::SocketAddr;

/// A UDP request (what the tracker server reads) survives a round trip.
fn udp_request(bytes: &[u8]) {
    match tracker_proto::parse_udp_request(bytes) {
        Ok(UdpRequest::Connect { tx }) => {
            let again = tracker_proto::parse_udp_request(&tracker_proto::udp_connect(tx));
            assert_eq!(again, Ok(UdpRequest::Connect { tx }));
        }
        Ok(UdpRequest::Announce { conn, tx, announce }) => {
            let packet = tracker_proto::udp_announce(conn, tx, &announce, 0);
            let again = tracker_proto::parse_udp_request(&packet);
            assert_eq!(again, Ok(UdpRequest::Announce { conn, tx, announce }));
        }
        Ok(UdpRequest::Scrape { hashes, .. }) => assert!(hashes.len() <= 74),
        Err(_) => {}
    }
}

/// A UDP reply (what the client reads) to an IPv4 or IPv6 request.
fn udp_reply(bytes: &[u8], v6: bool) {
    let Some(tx) = bytes.get(4..8) else { return };
    let tx = u32::from_be_bytes(tx.try_into().unwrap());
    if let Some(tracker_proto::UdpReply::Announced(reply)) =
        tracker_proto::parse_udp_reply(bytes, tx, v6)
    {
        let packet = tracker_proto::udp_announce_reply(tx, &reply, v6);
        assert_eq!(
            tracker_proto::parse_udp_reply(&packet, tx, v6),
            Some(tracker_proto::UdpReply::Announced(reply))
        );
    }
}

/// An HTTP announce's query string, as the tracker server reads it.
fn http_query(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(pairs) = tracker_proto::parse_query(text) else {
        return;
    };
    if let Ok(announce) = Announce::from_query(&pairs) {
        let again = tracker_proto::parse_query(&announce.to_query()).expect("our query parses");
        assert_eq!(Announce::from_query(&again), Ok(announce));
    }
}

fn sorted(mut peers: Vec<SocketAddr>) -> Vec<SocketAddr> {
    peers.sort();
    peers
}

/// A bencoded HTTP tracker reply, as the client reads it.
fn http_reply(bytes: &[u8]) {
    if let Ok(reply) = Reply::from_bencode(bytes) {
        let again = Reply::from_bencode(&reply.to_bencode()).expect("our reply parses");
        // Encoding puts IPv4 peers in `peers` and IPv6 ones in `peers6`: the
        // order may change, the peers may not.
        assert_eq!(sorted(again.peers.clone()), sorted(reply.peers.clone()));
        assert_eq!(
            (
                again.interval,
                again.complete,
                again.incomplete,
                &again.records
            ),
            (
                reply.interval,
                reply.complete,
                reply.incomplete,
                &reply.records
            )
        );
    }
}

/// Any bencoded value.
fn bencode_value(bytes: &[u8]) {
    if let Ok(value) = bencode::decode(bytes) {
        let encoded = value.encode();
        assert_eq!(bencode::decode(&encoded), Ok(value));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => udp_request(rest),
        1 => udp_reply(rest, false),
        2 => udp_reply(rest, true),
        3 => http_query(rest),
        4 => http_reply(rest),
        _ => bencode_value(rest),
    }
});
