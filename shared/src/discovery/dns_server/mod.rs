//! The authoritative side of `p2p-dns-rr serve`, without sockets: the zone built from
//! live peers ([`zone`]) and the responder that answers one request packet from it
//! ([`respond`]), with a cache of encoded answers in front of it for plain UDP
//! queries ([`fast`]), and the limits of what one UDP source may get ([`limit`]).
//! Kept here, apart from the server loop, so that unit tests and the
//! fuzz targets reach the very code the server runs.

pub mod fast;
pub mod limit;
pub mod respond;
pub mod zone;

/// A small deterministic random generator (xorshift) for the tests' mutated packets.
#[cfg(test)]
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
