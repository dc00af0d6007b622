//! Naming STUN servers: `HOST`, `HOST:PORT`, `udp://HOST:PORT`, `stun:HOST:PORT`
//! (RFC 7064), `[IPv6]:PORT`; the default port is 3478.

use p2p_shared::{Error, Result};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The default STUN port.
pub const DEFAULT_PORT: u16 = 3478;

/// Public servers used only when the user names none (documented in the man page
/// and docs/punch.md).
pub const DEFAULT_SERVERS: &[&str] = &[
    "stun.l.google.com:19302",
    "stun1.l.google.com:19302",
    "stun.cloudflare.com:3478",
];

/// Resolves one server name to a socket address (IPv4 preferred).
pub fn resolve(text: &str) -> Result<SocketAddr> {
    let trimmed = text.trim();
    let rest = trimmed
        .strip_prefix("udp://")
        .or_else(|| trimmed.strip_prefix("stun://"))
        .or_else(|| trimmed.strip_prefix("stun:"))
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    if rest.is_empty() {
        return Err(Error::usage(format!("'{text}' is not a STUN server")));
    }
    if let Ok(addr) = rest.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = rest.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let with_port = if rest.starts_with('[')
        || rest
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        rest.to_owned()
    } else if rest.contains(':') {
        format!("[{rest}]:{DEFAULT_PORT}")
    } else {
        format!("{rest}:{DEFAULT_PORT}")
    };
    let addrs: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| Error::usage(format!("cannot resolve STUN server '{text}': {e}")))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| Error::usage(format!("STUN server '{text}' has no address")))
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
