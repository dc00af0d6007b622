//! `p2p-pipe connect --dumbpipe TICKET`: a stream to a dumbpipe listener (dumbpipe
//! 0.40, iroh 1.x) over one of its ticket's direct addresses; `listen --dumbpipe`: a
//! listener that `dumbpipe connect` reaches with the ticket it prints.
//!
//! An iroh endpoint id is an ed25519 public key that the TLS 1.3 handshake proves as an
//! RFC 7250 raw public key, as a peer id is here, and iroh hands the QUIC packets of a
//! direct path to its QUIC stack unchanged. So the toolbox's endpoint can dial one:
//! ALPN `DUMBPIPEV0`, a bidirectional stream on which the dialer first writes
//! dumbpipe's 5-byte hello, then the data. dumbpipe knows no bye: the session ends when
//! both directions are finished and this side's data is acknowledged.
//!
//! The ticket is `endpoint` and the lowercase RFC 4648 base32 (no padding) of a
//! postcard encoding: variant 0, the 32-byte key, then a set of transport addresses,
//! each a varint tag (0 relay URL, 1 IP socket address, 2 custom) and its value.
//! Relay URLs are skipped (iroh's relays speak their own protocol), as is a custom
//! address (sorted last).

use crate::report::Counters;
use crate::session;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::{Error, Result};
use quinn::{Connection, ConnectionError};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// dumbpipe's protocol name.
pub const ALPN: &[u8] = b"DUMBPIPEV0";
/// What the dialer writes first on the stream.
pub const HELLO: &[u8] = b"hello";
/// The ticket's prefix.
pub const PREFIX: &str = "endpoint";

/// What a dumbpipe ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The listener's key: the same key a peer id names.
    pub id: PeerId,
    /// Its direct addresses.
    pub addrs: Vec<SocketAddr>,
    /// Its relay URLs (not used: iroh relays speak their own protocol).
    pub relays: Vec<String>,
}

/// Decodes a dumbpipe ticket (`endpoint…`), or says what is wrong with it.
pub fn parse(text: &str) -> std::result::Result<Ticket, String> {
    let body = text
        .strip_prefix(PREFIX)
        .ok_or_else(|| format!("a dumbpipe ticket starts with '{PREFIX}'"))?;
    let bytes = base32(body)?;
    let mut r = Reader {
        bytes: &bytes,
        at: 0,
    };
    if r.varint()? != 0 {
        return Err("unknown dumbpipe ticket version".to_owned());
    }
    let key: [u8; 32] = r.take(32)?.try_into().map_err(|_| "short key")?;
    let id = PeerId::from_bytes(&key)?;
    let (mut addrs, mut relays) = (Vec::new(), Vec::new());
    for _ in 0..r.varint()? {
        match r.varint()? {
            0 => {
                let len = usize::try_from(r.varint()?).map_err(|_| "bad relay URL length")?;
                let url = std::str::from_utf8(r.take(len)?).map_err(|_| "bad relay URL")?;
                relays.push(url.to_owned());
            }
            1 => {
                let ip = match r.varint()? {
                    0 => IpAddr::from(<[u8; 4]>::try_from(r.take(4)?).map_err(|_| "bad IPv4")?),
                    1 => IpAddr::from(<[u8; 16]>::try_from(r.take(16)?).map_err(|_| "bad IPv6")?),
                    other => return Err(format!("unknown address family {other}")),
                };
                let port = u16::try_from(r.varint()?).map_err(|_| "bad port")?;
                addrs.push(SocketAddr::new(ip, port));
            }
            _ => break,
        }
    }
    Ok(Ticket { id, addrs, relays })
}

/// RFC 4648 base32 without padding, either case.
fn base32(text: &str) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(format!("'{}' is not base32", char::from(c))),
        };
        acc = (acc << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // `acc` holds fewer than 13 bits: the top 8 of them are the next byte.
            out.push(u8::try_from(acc >> bits).unwrap_or(u8::MAX));
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Reads postcard's pieces: varints and raw bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or("the dumbpipe ticket is cut short")?;
        let piece = &self.bytes[self.at..end];
        self.at = end;
        Ok(piece)
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint in the dumbpipe ticket is too long".to_owned())
    }
}

/// Encodes a dumbpipe ticket for `id` at `addrs` (what `listen --dumbpipe` prints).
pub fn encode(id: &PeerId, addrs: &[SocketAddr]) -> String {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_bytes());
    varint(&mut bytes, addrs.len() as u64);
    for addr in addrs {
        varint(&mut bytes, 1);
        match addr.ip() {
            IpAddr::V4(ip) => {
                bytes.push(0);
                bytes.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                bytes.push(1);
                bytes.extend_from_slice(&ip.octets());
            }
        }
        varint(&mut bytes, u64::from(addr.port()));
    }
    let mut text = PREFIX.to_owned();
    let (mut acc, mut bits) = (0u32, 0u32);
    let digit = |v: u32| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[(v & 31) as usize]);
    for byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(digit(acc >> bits));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        text.push(digit(acc << (5 - bits)));
    }
    text
}

/// Appends postcard's varint: 7 bits a byte, low bits first, the top bit saying more
/// follow.
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(0x80 | value.to_le_bytes()[0]);
        value >>= 7;
    }
    out.push(value.to_le_bytes()[0]);
}

/// The dialer's side: opens dumbpipe's stream, says hello, and pipes stdin/stdout
/// until both directions are finished and this side's data is acknowledged.
pub async fn pipe(
    conn: &Connection,
    stdin: session::Stdin,
    stdout: session::Stdout,
    counters: Arc<Counters>,
) -> Result<()> {
    let (mut send, recv) = conn.open_bi().await.map_err(|e| session::lost(&e))?;
    send.write_all(HELLO)
        .await
        .map_err(|e| Error::failure(format!("sending dumbpipe's hello: {e}")))?;
    exchange(conn, send, recv, stdin, stdout, counters).await
}

/// The listener's side (`listen --dumbpipe`): takes the dialer's stream, checks its
/// hello, and pipes as [`pipe`] does.
pub async fn serve(
    conn: &Connection,
    stdin: session::Stdin,
    stdout: session::Stdout,
    counters: Arc<Counters>,
) -> Result<()> {
    let (send, mut recv) = conn.accept_bi().await.map_err(|e| session::lost(&e))?;
    let mut hello = [0u8; HELLO.len()];
    recv.read_exact(&mut hello)
        .await
        .map_err(|e| Error::failure(format!("reading dumbpipe's hello: {e}")))?;
    if hello != HELLO {
        return Err(Error::failure(
            "the peer's stream does not start with dumbpipe's hello",
        ));
    }
    exchange(conn, send, recv, stdin, stdout, counters).await
}

/// Both directions, then (for at most a second) the peer's close: dumbpipe closes the
/// connection, with code 0, once it has read everything and its own data is
/// acknowledged, so leaving it the last word means it never sees its stream cut.
async fn exchange(
    conn: &Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    stdin: session::Stdin,
    stdout: session::Stdout,
    counters: Arc<Counters>,
) -> Result<()> {
    let up = async {
        let send = session::stdin_to(send, stdin, counters.clone()).await?;
        match send.stopped().await {
            Ok(_) => Ok(()),
            Err(quinn::StoppedError::ConnectionLost(ConnectionError::ApplicationClosed(c)))
                if c.error_code == quinn::VarInt::from_u32(0) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::failure(format!("sending: {e}"))),
        }
    };
    let down = session::to_stdout(recv, &counters, stdout);
    let (up, down) = smol::future::zip(up, down).await;
    up?;
    down?;
    smol::future::or(
        async {
            conn.closed().await;
        },
        async {
            smol::Timer::after(Duration::from_secs(1)).await;
        },
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ticket printed by `dumbpipe listen --ipv4-addr 127.0.0.1:0` (0.40.1) in a
    /// namespace with only `lo`, and the secret key it printed with it.
    const SECRET: &str = "c41e98cc7e003a99db945c3837bf7aec69f1871c76c8ef1fe30967e5edc1ae2c";
    const REAL: &str = "endpointacav335lifzgfad46zkhpto22gmu5fvn4yiooppdxta25plmkfmksaqbab7qaaabvssqeaibaaaaaaaaaaaaaaaaaaaaaaaaahhpiaq";

    #[test]
    fn decodes_a_real_ticket() {
        let ticket = parse(REAL).unwrap();
        let seed: [u8; 32] = hex::decode(SECRET).unwrap().try_into().unwrap();
        let identity = p2p_shared::identity::Identity::from_seed(seed);
        assert_eq!(ticket.id, identity.id(), "the ticket names another key");
        assert_eq!(
            ticket
                .addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["127.0.0.1:37548", "[::1]:47694"]
        );
        assert!(ticket.relays.is_empty(), "{ticket:?}");
    }

    #[test]
    fn encodes_what_it_decodes() {
        let theirs = parse(REAL).unwrap();
        assert_eq!(encode(&theirs.id, &theirs.addrs), REAL);
    }

    #[test]
    fn refuses_what_is_not_a_ticket() {
        assert!(parse("p2pt…").unwrap_err().contains("starts with"));
        assert!(parse("endpoint!!").unwrap_err().contains("base32"));
        assert!(parse(&REAL[..40]).unwrap_err().contains("cut short"));
        assert!(parse(&format!("{PREFIX}aa")).is_err());
    }
}
