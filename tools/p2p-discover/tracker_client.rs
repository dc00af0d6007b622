//! Announcing to and asking BitTorrent trackers: HTTP and HTTPS
//! (`http(s)://host:port/announce`, sent as HTTP/1.0 so replies are never chunked;
//! TLS in [`crate::tls`]) and UDP (`udp://host:port`, BEP 15 with retries inside the
//! time budget).

use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use p2p_shared::codec::tracker::{self, Announce, Reply, UdpReply};
use rustls::ClientConfig;
use smol::net::{TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest HTTP response accepted.
const MAX_RESPONSE: u64 = 1 << 20;

/// A tracker's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracker {
    /// `http://host:port/path`, or `https://…` when `tls`.
    Http {
        /// Host name or IP.
        host: String,
        /// TCP port.
        port: u16,
        /// The announce path, with its own query if any.
        path: String,
        /// HTTPS: the request goes over TLS.
        tls: bool,
    },
    /// `udp://host:port`.
    Udp {
        /// Host name or IP.
        host: String,
        /// UDP port.
        port: u16,
    },
}

impl std::str::FromStr for Tracker {
    type Err = String;

    fn from_str(url: &str) -> Result<Tracker, String> {
        let bad = |why: &str| {
            format!(
                "'{url}' is not a tracker URL ({why}); e.g. http://127.0.0.1:6969/announce or udp://127.0.0.1:6969"
            )
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, port) = v6
                .split_once("]:")
                .ok_or_else(|| bad("IPv6 needs [addr]:port"))?;
            (host.to_owned(), Some(port))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = |default: u16| -> Result<u16, String> {
            port.map_or(Ok(default), |p| p.parse().map_err(|_| bad("bad port")))
        };
        let path = if path.is_empty() {
            "/announce".to_owned()
        } else {
            path.to_owned()
        };
        match scheme {
            "http" => Ok(Tracker::Http {
                host,
                port: port(80)?,
                path,
                tls: false,
            }),
            "https" => Ok(Tracker::Http {
                host,
                port: port(443)?,
                path,
                tls: true,
            }),
            "udp" => Ok(Tracker::Udp {
                host,
                port: port(6969)?,
            }),
            _ => Err(bad("scheme must be http, https or udp")),
        }
    }
}

impl Tracker {
    /// True for an HTTPS tracker.
    pub fn is_tls(&self) -> bool {
        matches!(self, Tracker::Http { tls: true, .. })
    }
}

impl std::fmt::Display for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bracket = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_owned()
            }
        };
        match self {
            Tracker::Http {
                host,
                port,
                path,
                tls,
            } => {
                let scheme = if *tls { "https" } else { "http" };
                write!(f, "{scheme}://{}:{port}{path}", bracket(host))
            }
            Tracker::Udp { host, port } => write!(f, "udp://{}:{port}", bracket(host)),
        }
    }
}

/// Sends `announce` to `tracker` and returns its reply, within `timeout`. `tls` is
/// the client configuration HTTPS trackers need.
pub async fn announce(
    tracker: &Tracker,
    announce: &Announce,
    timeout: Duration,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Reply, String> {
    let work = async {
        match tracker {
            Tracker::Http {
                host,
                port,
                path,
                tls: use_tls,
            } => {
                let request = http_request(host, *port, path, announce);
                let response = if *use_tls {
                    let config = tls.ok_or("no TLS configuration")?.clone();
                    let host = host.clone();
                    let port = *port;
                    smol::unblock(move || {
                        crate::tls::exchange(config, &host, port, &request, MAX_RESPONSE, timeout)
                    })
                    .await?
                } else {
                    http_exchange(host, *port, &request).await?
                };
                http_reply(&response)
            }
            Tracker::Udp { host, port } => udp(host, *port, announce, timeout).await,
        }
    };
    work.or(async {
        smol::Timer::after(timeout).await;
        Err(format!("no answer within {timeout:?}"))
    })
    .await
}

/// The HTTP/1.0 announce request.
fn http_request(host: &str, port: u16, path: &str, announce: &Announce) -> Vec<u8> {
    let joiner = if path.contains('?') { '&' } else { '?' };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!(
        "GET {path}{joiner}{} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: p2p-discover/{}\r\n\r\n",
        announce.to_query(),
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Sends `request` over plain TCP and reads the whole response.
async fn http_exchange(host: &str, port: u16, request: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    Ok(response)
}

/// The tracker's reply in an HTTP response.
fn http_reply(response: &[u8]) -> Result<Reply, String> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("response has no header end")?;
    let status_line =
        String::from_utf8_lossy(response.split(|&b| b == b'\r').next().unwrap_or_default())
            .into_owned();
    let body = &response[split + 4..];
    if status_line
        .split(' ')
        .nth(1)
        .is_none_or(|code| code != "200")
    {
        let reason = Reply::from_bencode(body).err().unwrap_or_default();
        return Err(format!("{status_line} {reason}").trim().to_owned());
    }
    Reply::from_bencode(body)
}

async fn udp(
    host: &str,
    port: u16,
    announce: &Announce,
    budget: Duration,
) -> Result<Reply, String> {
    let target = smol::net::resolve((host, port))
        .await
        .map_err(|e| format!("resolving {host}: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let local = if target.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    socket.connect(target).await.map_err(|e| e.to_string())?;
    let v6 = target.is_ipv6();
    let end = Instant::now() + budget;
    let tx = random_u32();
    let conn = match exchange(&socket, &tracker::udp_connect(tx), tx, v6, end).await? {
        UdpReply::Connected(conn) => conn,
        UdpReply::Error(e) => return Err(format!("tracker refused: {e}")),
        UdpReply::Announced(_) => return Err("answered a connect with an announce".to_owned()),
    };
    let tx = random_u32();
    let packet = tracker::udp_announce(conn, tx, announce, random_u32());
    match exchange(&socket, &packet, tx, v6, end).await? {
        UdpReply::Announced(reply) => Ok(reply),
        UdpReply::Error(e) => Err(format!("tracker refused: {e}")),
        UdpReply::Connected(_) => Err("answered an announce with a connect".to_owned()),
    }
}

/// Sends `packet` and waits for the reply to `tx`, resending after 0.5 s, 1 s, 2 s, …
/// until `end`.
async fn exchange(
    socket: &UdpSocket,
    packet: &[u8],
    tx: u32,
    v6: bool,
    end: Instant,
) -> Result<UdpReply, String> {
    let mut wait = Duration::from_millis(500);
    let mut buf = [0u8; 4096];
    loop {
        socket
            .send(packet)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let deadline = (Instant::now() + wait).min(end);
        loop {
            let received = async { Some(socket.recv(&mut buf).await) }
                .or(async {
                    smol::Timer::at(deadline).await;
                    None
                })
                .await;
            match received {
                None => break,
                Some(Err(e)) => return Err(format!("receiving: {e}")),
                Some(Ok(n)) => {
                    if let Some(reply) = tracker::parse_udp_reply(&buf[..n], tx, v6) {
                        return Ok(reply);
                    }
                }
            }
        }
        if Instant::now() >= end {
            return Err("no answer".to_owned());
        }
        wait *= 2;
    }
}

fn random_u32() -> u32 {
    p2p_shared::random::bytes::<4>().map_or(0x5eed, u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracker_urls() {
        let http: Tracker = "http://127.0.0.1:6969/announce".parse().unwrap();
        assert_eq!(http.to_string(), "http://127.0.0.1:6969/announce");
        let udp: Tracker = "udp://[::1]:7000".parse().unwrap();
        assert_eq!(
            udp,
            Tracker::Udp {
                host: "::1".into(),
                port: 7000
            }
        );
        assert_eq!(udp.to_string(), "udp://[::1]:7000");
        let https: Tracker = "https://127.0.0.1/announce".parse().unwrap();
        assert!(https.is_tls());
        assert_eq!(https.to_string(), "https://127.0.0.1:443/announce");
        assert!("ftp://x".parse::<Tracker>().is_err());
    }
}
