//! Arbitrary bytes as a DNS request to `p2p-dns-rr serve`'s responder, over UDP and
//! TCP: it never panics, and every reply is a response with the request's id that
//! decodes, within 1232 bytes over UDP. The UDP fast path, on an identical zone asked
//! the same requests, answers whatever it takes byte for byte as the responder does.

#![no_main]

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use p2p_shared::discovery::dns_server::fast::FastPath;
use p2p_shared::discovery::dns_server::respond::{self, MAX_UDP, Transport};
use p2p_shared::discovery::dns_server::zone::{Config, Zone};
use p2p_shared::identity::Identity;
use p2p_shared::ndjson::peer::PeerRecord;
use std::sync::{Arc, LazyLock, Mutex};

/// A zone with every kind of name: topics, signed peers with ids (TXT, SRV targets),
/// IPv6, tcp and relay addresses, peers without ids, and a record long enough to be
/// split over several TXT strings.
fn zone() -> Zone {
    let mut records = Vec::new();
    for i in 0..12u8 {
        let addrs = [
            format!("udp://10.0.0.{i}:4000"),
            format!("tcp://[2001:db8::{i}]:4001"),
            format!("relay://relay.test:3478/x{i}"),
        ];
        let addrs = addrs
            .iter()
            .map(|a| a.parse().expect("an address"))
            .collect();
        let topic = Some(if i % 2 == 0 { "chat" } else { "files" }.to_owned());
        let record = if i % 3 == 0 {
            let mut record = PeerRecord::new(None, addrs);
            record.topic = topic;
            record
        } else {
            let me = Identity::from_seed([i; 32]);
            let mut record = PeerRecord::new(Some(me.id()), addrs);
            record.topic = topic;
            record.seq = Some(u64::from(i));
            record.sign(&me).expect("signing");
            record
        };
        let json = serde_json::to_string(&record).expect("a record encodes");
        records.push((record, json));
    }
    let config = Config {
        origin: Name::from_ascii("peers.test.").expect("a name"),
        ttl: 5,
        answers: 4,
        ns: Name::from_ascii("ns.peers.test.").expect("a name"),
    };
    Zone::build(config, records.iter().map(|(r, j)| (r, j.as_str())), 1)
}

/// The zone the responder answers from.
static ZONE: LazyLock<Zone> = LazyLock::new(zone);
/// The fast path, on a zone of its own whose rotation moves in step with [`ZONE`]'s.
static FAST: LazyLock<Mutex<FastPath>> =
    LazyLock::new(|| Mutex::new(FastPath::new(Arc::new(zone()))));

fuzz_target!(|packet: &[u8]| {
    let mut fast = FAST.lock().expect("not poisoned");
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let reply = respond::answer(&ZONE, packet, transport);
        let taken = transport == Transport::Udp && fast.answer(packet, &mut out).is_some();
        if taken {
            let reply = reply
                .as_ref()
                .expect("the responder answers what the fast path does");
            assert_eq!(out, reply.bytes, "the fast path answers as the responder");
        } else {
            // Declined (or TCP): the fast path's zone answers too, to stay in step.
            let own = respond::answer(fast.zone(), packet, transport);
            assert_eq!(
                own.map(|r| r.bytes),
                reply.as_ref().map(|r| r.bytes.clone())
            );
        }
        let Some(reply) = reply else {
            continue;
        };
        assert_eq!(reply.bytes[..2], packet[..2], "the reply keeps the id");
        let message = Message::from_vec(&reply.bytes).expect("a reply decodes");
        assert_eq!(message.metadata.message_type, MessageType::Response);
        if transport == Transport::Udp {
            assert!(reply.bytes.len() <= usize::from(MAX_UDP));
        }
    }
});
