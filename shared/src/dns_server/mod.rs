//! The authoritative side of `p2p-dns-rr serve`, without sockets: the zone built from
//! live peers ([`zone`]) and the responder that answers one request packet from it
//! ([`respond`]). Kept here, apart from the server loop, so that unit tests and the
//! fuzz targets reach the very code the server runs.

pub mod respond;
pub mod zone;
