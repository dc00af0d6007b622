//! The one way every address flag reads its value (`--bind`, `--server`, `--stun`,
//! `--rendezvous`, `--dns-server`, `--bootstrap-dht`, `--alt`, …): what one tool
//! prints, the next accepts.
//!
//! Accepted forms, for every flag:
//! - the URL-like form the tools print: `udp://192.0.2.1:53`, `tcp://[::1]:6969`
//!   (also `quic://`, `stun:`/`stun://` for STUN servers, RFC 7064, and
//!   `turn:`/`turn://` for TURN relays, RFC 7065, with `?transport=udp` allowed);
//! - bare `host:port` and `[IPv6]:port`;
//! - a bare IP (or host name) where the flag has a default port.
//!
//! Flags that bind take IP literals only; flags that name a server also take a host
//! name, resolved once when the argument is parsed (IPv4 preferred).

use crate::addr::Scheme;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, ToSocketAddrs};

/// An address as written, split into its parts; nothing is resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<'a> {
    /// The scheme given, if any.
    pub scheme: Option<Scheme>,
    /// The host: an IP literal (without brackets) or a name.
    pub host: &'a str,
    /// The port given, if any.
    pub port: Option<u16>,
}

const EXAMPLE: &str = "e.g. udp://192.0.2.1:5300, 192.0.2.1:5300 or [2001:db8::1]:5300";

fn bad(text: &str, why: &str) -> String {
    format!("'{text}' is not an address ({why}); {EXAMPLE}")
}

/// Splits `text` into scheme, host and port, refusing what cannot be an address.
pub fn split(text: &str) -> Result<Written<'_>, String> {
    let trimmed = text.trim();
    let (scheme, rest) = match trimmed.split_once("://") {
        Some((scheme, rest)) => (Some(scheme_named(text, scheme)?), rest),
        None => match trimmed
            .strip_prefix("stun:")
            .or_else(|| trimmed.strip_prefix("turn:"))
        {
            Some(rest) => (Some(Scheme::Udp), rest),
            None => (None, trimmed),
        },
    };
    let rest = rest.strip_suffix("?transport=udp").unwrap_or(rest);
    if rest.contains('?') {
        return Err(bad(text, "only UDP: ?transport=udp or nothing"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(bad(text, "a path has no place here"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((ip, "")) => (ip, None),
            Some((ip, port)) => match port.strip_prefix(':') {
                Some(port) => (ip, Some(port)),
                None => return Err(bad(text, "IPv6 needs [addr]:port")),
            },
            None => return Err(bad(text, "unclosed '['")),
        }
    } else if rest.parse::<IpAddr>().is_ok() {
        // A bare IPv6 address has colons but no port.
        (rest, None)
    } else {
        match rest.rsplit_once(':') {
            Some((_, _)) if rest.matches(':').count() > 1 => {
                return Err(bad(text, "IPv6 addresses with a port go in brackets"));
            }
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad(text, "no host"));
    }
    if host.parse::<IpAddr>().is_err() && !valid_name(host) {
        return Err(bad(text, "bad host"));
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().map_err(|_| {
            format!("'{text}' has a bad port '{port}' (a port is a number from 0 to 65535)")
        })?),
        None => None,
    };
    Ok(Written { scheme, host, port })
}

fn scheme_named(text: &str, scheme: &str) -> Result<Scheme, String> {
    match scheme.to_ascii_lowercase().as_str() {
        "udp" | "stun" | "turn" => Ok(Scheme::Udp),
        "tcp" => Ok(Scheme::Tcp),
        "quic" => Ok(Scheme::Quic),
        _ => Err(bad(
            text,
            "the scheme must be udp://, tcp://, quic://, stun:// or turn://",
        )),
    }
}

fn valid_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Reads an IP literal with a port, in any accepted form. For `--bind`.
pub fn socket(text: &str) -> Result<SocketAddr, String> {
    socket_with(text, None)
}

/// Reads an IP literal with an optional port (`default_port` when missing).
pub fn socket_with(text: &str, default_port: Option<u16>) -> Result<SocketAddr, String> {
    let written = split(text)?;
    let ip: IpAddr = written
        .host
        .parse()
        .map_err(|_| bad(text, "this flag takes an IP address, not a name"))?;
    let port = written
        .port
        .or(default_port)
        .ok_or_else(|| bad(text, "no port"))?;
    Ok(SocketAddr::new(ip, port))
}

/// Reads a server: an IP or a host name, with an optional port (`default_port`
/// when missing), resolved now; IPv4 is preferred.
pub fn server(text: &str, default_port: Option<u16>) -> Result<SocketAddr, String> {
    let written = split(text)?;
    let port = written
        .port
        .or(default_port)
        .ok_or_else(|| bad(text, "no port"))?;
    if let Ok(ip) = written.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let found: Vec<SocketAddr> = (written.host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{text}': {e}"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
        .ok_or_else(|| format!("'{text}' has no address"))
}

/// Reads a server that must be reached over IPv4 (a mainline DHT node).
pub fn server_v4(text: &str, default_port: Option<u16>) -> Result<SocketAddrV4, String> {
    match server(text, default_port)? {
        SocketAddr::V4(v4) => Ok(v4),
        SocketAddr::V6(_) => Err(format!(
            "'{text}' has no IPv4 address (the mainline DHT is IPv4)"
        )),
    }
}

/// A clap value parser that checks the form and keeps the text, for servers named
/// by host name and resolved when used.
pub fn checked(text: &str) -> Result<String, String> {
    split(text)?;
    Ok(text.trim().to_owned())
}

/// A clap value parser for a server (IP or host name) whose port may be left out.
pub fn server_or_port(
    default_port: u16,
) -> impl Fn(&str) -> Result<SocketAddr, String> + Clone + Send + Sync + 'static {
    move |text| server(text, Some(default_port))
}

/// A clap value parser for an IP literal whose port may be left out.
pub fn socket_or_port(
    default_port: u16,
) -> impl Fn(&str) -> Result<SocketAddr, String> + Clone + Send + Sync + 'static {
    move |text| socket_with(text, Some(default_port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_every_printed_and_bare_form() {
        for text in [
            "udp://127.0.0.1:5300",
            "tcp://127.0.0.1:5300",
            "quic://127.0.0.1:5300",
            "127.0.0.1:5300",
            "udp://127.0.0.1:5300/",
        ] {
            assert_eq!(
                socket(text),
                Ok("127.0.0.1:5300".parse().unwrap()),
                "{text}"
            );
        }
        assert_eq!(socket("udp://[::1]:7"), Ok("[::1]:7".parse().unwrap()));
        assert_eq!(socket("[::1]:7"), Ok("[::1]:7".parse().unwrap()));
    }

    #[test]
    fn relays_take_the_turn_forms_too() {
        let relay = server_or_port(3478);
        let want: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        for text in [
            "turn://192.0.2.1:3478",
            "turn:192.0.2.1",
            "turn:192.0.2.1:3478?transport=udp",
            "udp://192.0.2.1:3478",
            "192.0.2.1",
        ] {
            assert_eq!(relay(text), Ok(want), "{text}");
        }
        assert!(relay("turn:192.0.2.1?transport=tcp").is_err());
        assert!(relay("turns://192.0.2.1").is_err());
    }

    #[test]
    fn bare_ips_take_the_default_port() {
        let parse = socket_or_port(53);
        assert_eq!(parse("192.0.2.1"), Ok("192.0.2.1:53".parse().unwrap()));
        assert_eq!(parse("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(parse("[::1]"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(
            parse("udp://192.0.2.1"),
            Ok("192.0.2.1:53".parse().unwrap())
        );
        assert!(socket("192.0.2.1").unwrap_err().contains("no port"));
    }

    #[test]
    fn stun_uris_are_udp() {
        assert_eq!(
            server("stun:192.0.2.1", Some(3478)),
            Ok("192.0.2.1:3478".parse().unwrap())
        );
    }

    #[test]
    fn says_what_was_wrong() {
        for (text, why) in [
            ("udp://127.0.0.1:99999", "bad port '99999'"),
            ("127.0.0.1:http", "bad port 'http'"),
            ("ftp://1.2.3.4:9", "scheme must be"),
            (
                "udp://garbage line",
                "'udp://garbage line' is not an address",
            ),
            ("2001:db8::1:80:x", "brackets"),
            ("relay://1.2.3.4:9/abc", "scheme must be"),
            ("udp://1.2.3.4:9/abc", "path"),
            ("[::1", "unclosed"),
        ] {
            let err = socket(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!(socket("localhost:80").unwrap_err().contains("IP address"));
    }
}
