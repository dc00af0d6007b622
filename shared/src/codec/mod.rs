//! Wire formats, encoded and decoded without sockets so that the fuzz targets reach
//! the very code the tools run: bencode ([`bencode`]), the DHT's KRPC messages
//! ([`krpc`]), STUN ([`stun`]) and TURN on top of it ([`turn`]), and the BitTorrent
//! tracker protocols over HTTP and UDP ([`tracker`]).

pub mod bencode;
pub mod krpc;
pub mod stun;
pub mod tracker;
pub mod turn;
