//! Naming STUN servers: `HOST`, `HOST:PORT`, `udp://HOST:PORT`, `stun:HOST:PORT`
//! (RFC 7064), `[IPv6]:PORT`; the default port is 3478.

use p2p_shared::cli::address;
use p2p_shared::{Error, Result};
use std::net::SocketAddr;

/// The default STUN port.
pub const DEFAULT_PORT: u16 = 3478;

/// Public servers used only when the user names none (documented in the man page
/// and docs/punch.md).
pub const DEFAULT_SERVERS: &[&str] = &[
    "stun.l.google.com:19302",
    "stun1.l.google.com:19302",
    "stun.cloudflare.com:3478",
];

/// Resolves one server name (any form [`address`] reads; port 3478 by default) to a
/// socket address, IPv4 preferred.
pub fn resolve(text: &str) -> Result<SocketAddr> {
    address::server(text, Some(DEFAULT_PORT)).map_err(Error::usage)
}

/// The servers named, or the default list when none are.
pub fn named_or_default(names: &[String]) -> Vec<String> {
    if names.is_empty() {
        DEFAULT_SERVERS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        names.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_spellings() {
        for (text, want) in [
            ("127.0.0.1", "127.0.0.1:3478"),
            ("127.0.0.1:19302", "127.0.0.1:19302"),
            ("udp://127.0.0.1:5", "127.0.0.1:5"),
            ("stun:127.0.0.1:6", "127.0.0.1:6"),
            ("[::1]:7", "[::1]:7"),
            ("::1", "[::1]:3478"),
        ] {
            assert_eq!(resolve(text).unwrap(), want.parse().unwrap(), "{text}");
        }
        assert_eq!(resolve("").unwrap_err().status(), p2p_shared::Status::Usage);
        assert!(resolve("127.0.0.1:99999").is_err());
    }
}
