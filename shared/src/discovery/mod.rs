//! Finding peers: bootstrap lists in every format people write them ([`bootstrap`]),
//! the mainline DHT set-up shared by the DHT-using tools ([`dht`]) and the narration
//! of its work under `-v` ([`dht_wire`], [`dht_requests`]),
//! DNS answers read as peers ([`dns`]) and the authoritative responder of
//! `p2p-dns-rr serve` ([`dns_server`]).

pub mod bootstrap;
pub mod dht;
pub mod dht_requests;
pub mod dht_wire;
pub mod dns;
pub mod dns_server;
