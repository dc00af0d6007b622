//! URL-like peer addresses: `udp://1.2.3.4:9090`, `tcp://[2001:db8::1]:443`,
//! `quic://host:4433`, `utp://1.2.3.4:6881` (uTP, BEP 29, over UDP),
//! `relay://relay.example:3478/<peer-id>`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The transport an address is reached over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Plain UDP.
    Udp,
    /// Plain TCP.
    Tcp,
    /// QUIC over UDP.
    Quic,
    /// uTP (BEP 29, the Micro Transport Protocol BitTorrent and libp2p use) over UDP.
    Utp,
    /// Through a relay; the path names the peer behind it.
    Relay,
}

impl Scheme {
    /// The scheme's name as written before `://`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Udp => "udp",
            Scheme::Tcp => "tcp",
            Scheme::Quic => "quic",
            Scheme::Utp => "utp",
            Scheme::Relay => "relay",
        }
    }
}

/// The host part: an IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A literal IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name, resolved by whoever dials it.
    Name(String),
}

/// A peer address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    /// The transport.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
    /// What follows the port without its leading `/` (a relay's peer id), if anything.
    pub path: Option<String>,
}

impl Addr {
    /// An address for a socket address.
    pub fn from_socket(scheme: Scheme, socket: SocketAddr) -> Self {
        Addr {
            scheme,
            host: Host::Ip(socket.ip()),
            port: socket.port(),
            path: None,
        }
    }

    /// `udp://IP:PORT` for a socket address: how every tool prints a UDP socket.
    pub fn udp(socket: impl Into<SocketAddr>) -> Self {
        Self::from_socket(Scheme::Udp, socket.into())
    }

    /// `tcp://IP:PORT` for a socket address.
    pub fn tcp(socket: impl Into<SocketAddr>) -> Self {
        Self::from_socket(Scheme::Tcp, socket.into())
    }

    /// The socket address, when the host is a literal IP.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Name(_) => None,
        }
    }

    /// Parses `text`, taking `default` as the scheme when it has none (`1.2.3.4:80`).
    pub fn parse_with_default(text: &str, default: Scheme) -> Result<Self, String> {
        if text.contains("://") {
            text.parse()
        } else {
            // Errors name the text as given, not with the scheme added.
            let with_scheme = format!("{}://{text}", default.as_str());
            with_scheme
                .parse()
                .map_err(|e: String| e.replace(&format!("'{with_scheme}'"), &format!("'{text}'")))
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            Host::Name(name) => f.write_str(name)?,
        }
        write!(f, ":{}", self.port)?;
        if let Some(path) = &self.path {
            write!(f, "/{path}")?;
        }
        Ok(())
    }
}

impl FromStr for Addr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("'{text}' is not an address ({why}); e.g. udp://192.0.2.1:9090");
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("no scheme://"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "udp" => Scheme::Udp,
            "tcp" => Scheme::Tcp,
            "quic" => Scheme::Quic,
            "utp" => Scheme::Utp,
            "relay" => Scheme::Relay,
            _ => return Err(bad("scheme must be udp, tcp, quic, utp or relay")),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) if !p.is_empty() => (a, Some(p.to_owned())),
            Some((a, _)) => (a, None),
            None => (rest, None),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (ip, port) = v6
                .split_once("]:")
                .ok_or_else(|| bad("IPv6 needs [addr]:port"))?;
            let ip: IpAddr = ip.parse().map_err(|_| bad("bad IPv6 address"))?;
            (Host::Ip(ip), port)
        } else {
            let (host, port) = authority.rsplit_once(':').ok_or_else(|| bad("no port"))?;
            if host.contains(':') {
                return Err(bad("IPv6 addresses go in brackets"));
            }
            let host = match host.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) if valid_name(host) => Host::Name(host.to_ascii_lowercase()),
                Err(_) => return Err(bad("bad host")),
            };
            (host, port)
        };
        let port = port.parse().map_err(|_| bad("bad port"))?;
        Ok(Addr {
            scheme,
            host,
            port,
            path,
        })
    }
}

fn valid_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_form() {
        for text in [
            "udp://1.2.3.4:9090",
            "tcp://[2001:db8::1]:443",
            "quic://peers.example.org:4433",
            "utp://99.4.78.181:97",
            "relay://relay.example:3478/ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u",
        ] {
            let addr: Addr = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
        }
    }

    #[test]
    fn socket_addresses_come_out_of_ip_hosts_only() {
        let v6: Addr = "tcp://[::1]:80".parse().unwrap();
        assert_eq!(v6.socket_addr(), Some("[::1]:80".parse().unwrap()));
        let name: Addr = "udp://example.org:53".parse().unwrap();
        assert_eq!(name.socket_addr(), None);
    }

    #[test]
    fn defaults_the_scheme_when_missing() {
        let addr = Addr::parse_with_default("192.0.2.1:7", Scheme::Udp).unwrap();
        assert_eq!(addr.to_string(), "udp://192.0.2.1:7");
        let err = Addr::parse_with_default("garbage line", Scheme::Udp).unwrap_err();
        assert!(err.starts_with("'garbage line' is not an address"), "{err}");
    }

    #[test]
    fn refuses_bad_addresses_with_the_reason() {
        for (text, why) in [
            ("1.2.3.4:9", "no scheme"),
            ("ftp://1.2.3.4:9", "scheme must be"),
            ("udp://1.2.3.4", "no port"),
            ("udp://1.2.3.4:99999", "bad port"),
            ("udp://2001:db8::1:80", "brackets"),
            ("udp://bad host:80", "bad host"),
        ] {
            let err = text.parse::<Addr>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
