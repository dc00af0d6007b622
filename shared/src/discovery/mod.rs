//! Finding peers: bootstrap lists in every format people write them ([`bootstrap`]),
//! the mainline DHT set-up shared by the DHT-using tools ([`dht`]),
//! DNS answers read as peers ([`dns`]) and the authoritative responder of
//! `p2p-dns-rr serve` ([`dns_server`]).

pub mod bootstrap;
pub mod dht;
pub mod dns;
pub mod dns_server;
