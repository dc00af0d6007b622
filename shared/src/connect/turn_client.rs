//! A TURN client (RFC 8656 over UDP) on a blocking socket: allocate with long-term
//! credentials (the 401 challenge and 438 stale-nonce dance), coturn's shared-secret
//! credentials or this toolbox's peer key; refresh, permissions, channels, and
//! sending and receiving through the relayed address.
//!
//! Requests are retransmitted as RFC 8489 section 6.2.1 says for UDP (starting at
//! 250 ms, doubling) until the transaction's deadline. Relayed data that arrives
//! while a request waits for its answer is queued (a bounded number of packets) and
//! handed out by [`Client::recv_from`].

use crate::cli::figures;
use crate::codec::stun::{self, Attribute, Class, Message};
use crate::codec::turn::{self, Integrity, Turn, attr, code, method};
use crate::connect::punch::binding::{timed_out, transient};
use crate::identity::Identity;
use crate::{Error, Result, narrate, random};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The first retransmission timeout.
const RTO: Duration = Duration::from_millis(250);
/// Relayed packets kept while a request waits for its answer.
const QUEUE_MAX: usize = 64;
/// How long shared-secret credentials made here stay valid.
const SECRET_VALIDITY: Duration = Duration::from_hours(24);
/// The SOFTWARE this client sends.
const SOFTWARE: &str = concat!("p2p-relay ", env!("CARGO_PKG_VERSION"));

/// How the client proves it may use the relay.
#[derive(Clone)]
pub enum Credentials {
    /// No credentials (an open relay; ours refuses).
    None,
    /// Long-term credentials: username and password.
    User {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
    /// coturn's shared secret: the username is `expiry:name`, the password derived.
    Secret {
        /// The secret the relay was configured with.
        secret: String,
        /// The name after `expiry:`.
        name: String,
    },
    /// This toolbox's peer key (PEER-AUTH), for `p2p-relay serve`.
    PeerKey(Box<Identity>),
}

impl Credentials {
    /// Long-term username and password; shared-secret ones computed for now.
    fn user_password(&self) -> Option<(String, String)> {
        match self {
            Credentials::User { username, password } => Some((username.clone(), password.clone())),
            Credentials::Secret { secret, name } => {
                let expiry = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    + SECRET_VALIDITY.as_secs();
                let username = format!("{expiry}:{name}");
                let password = turn::rest_password(secret, &username);
                Some((username, password))
            }
            Credentials::None | Credentials::PeerKey(_) => None,
        }
    }
}

/// The authentication state after the server's challenge.
#[derive(Clone, Default)]
struct Session {
    realm: String,
    nonce: String,
    /// USERNAME and the long-term key, for credential-based clients.
    user_key: Option<(String, [u8; 16])>,
}

/// An allocation on a TURN server.
pub struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    credentials: Credentials,
    session: Session,
    timeout: Duration,
    relayed: SocketAddr,
    mapped: Option<SocketAddr>,
    lifetime: Duration,
    refreshed: Instant,
    software: Option<String>,
    rtt: Duration,
    channels: HashMap<SocketAddr, (u16, Instant)>,
    permissions: HashMap<std::net::IpAddr, Instant>,
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    /// Where responses come from once another reader owns the socket
    /// ([`Client::hand_over_receiving`]).
    inbox: Option<mpsc::Receiver<Vec<u8>>>,
}

impl Client {
    /// Allocates a UDP relay on `server` from `socket`, waiting at most `timeout`
    /// for each transaction. `lifetime` asks for an allocation lifetime (the server
    /// decides). A refusal comes back as an error naming the code.
    pub fn allocate(
        socket: UdpSocket,
        server: SocketAddr,
        credentials: Credentials,
        lifetime: Option<Duration>,
        timeout: Duration,
    ) -> Result<Client> {
        let mut client = Client {
            socket,
            server,
            credentials,
            session: Session::default(),
            timeout,
            relayed: server,
            mapped: None,
            lifetime: Duration::ZERO,
            refreshed: Instant::now(),
            software: None,
            rtt: Duration::ZERO,
            channels: HashMap::new(),
            permissions: HashMap::new(),
            queue: VecDeque::new(),
            inbox: None,
        };
        let mut attributes = vec![turn::requested_transport_udp()];
        if let Some(l) = lifetime {
            attributes.push(turn::lifetime(secs(l)));
        }
        let response = client.request(method::ALLOCATE, &attributes)?;
        client.relayed = response
            .relayed_address()
            .ok_or_else(|| Error::failure("the relay's answer has no XOR-RELAYED-ADDRESS"))?;
        client.mapped = response.mapped_address();
        client.software = response.software().map(str::to_owned);
        client.lifetime = Duration::from_secs(u64::from(
            response.lifetime().unwrap_or(turn::DEFAULT_LIFETIME),
        ));
        client.refreshed = Instant::now();
        Ok(client)
    }

    /// The relayed transport address peers send to.
    pub fn relayed(&self) -> SocketAddr {
        self.relayed
    }

    /// This side's address as the relay sees it (XOR-MAPPED-ADDRESS), if given.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// The relay's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The lifetime the relay granted at the last allocate or refresh.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The relay's SOFTWARE, if it said.
    pub fn software(&self) -> Option<&str> {
        self.software.as_deref()
    }

    /// The round trip of the last successful transaction.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    /// The realm the relay named in its challenge (empty if it sent none).
    pub fn realm(&self) -> &str {
        &self.session.realm
    }

    /// The socket, e.g. to set a read timeout for [`Client::recv_from`].
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// The channel bound to `peer`, if any.
    pub fn channel_for(&self, peer: SocketAddr) -> Option<u16> {
        self.channels.get(&peer).map(|(c, _)| *c)
    }

    /// Lets another reader own the socket (QUIC, through
    /// [`super::turn_socket::TurnSocket`]): returns a clone of the socket and the
    /// sender the reader passes every STUN response from the relay into; from then
    /// on this client's transactions wait on those instead of reading the socket.
    pub fn hand_over_receiving(&mut self) -> Result<(UdpSocket, mpsc::Sender<Vec<u8>>)> {
        let (tx, rx) = mpsc::channel();
        self.inbox = Some(rx);
        Ok((self.socket.try_clone()?, tx))
    }

    /// Refreshes the allocation for `lifetime` (zero releases it); returns the
    /// lifetime granted.
    pub fn refresh(&mut self, lifetime: Duration) -> Result<Duration> {
        let response = self.request(method::REFRESH, &[turn::lifetime(secs(lifetime))])?;
        self.lifetime = Duration::from_secs(u64::from(response.lifetime().unwrap_or(0)));
        self.refreshed = Instant::now();
        Ok(self.lifetime)
    }

    /// Releases the allocation (a Refresh with lifetime zero).
    pub fn release(&mut self) -> Result<()> {
        self.refresh(Duration::ZERO).map(|_| ())
    }

    /// Installs (or refreshes) permissions for the IP addresses of `peers`.
    pub fn create_permission(&mut self, peers: &[SocketAddr]) -> Result<()> {
        let tid = random::bytes()?;
        let attributes: Vec<Attribute> = peers
            .iter()
            .map(|p| turn::xor_peer_address(*p, &tid))
            .collect();
        self.request_with_id(method::CREATE_PERMISSION, &attributes, tid)?;
        for peer in peers {
            self.permissions.insert(peer.ip(), Instant::now());
        }
        Ok(())
    }

    /// Binds a channel to `peer` (which also installs its permission); returns the
    /// channel number. Binding again refreshes the binding.
    pub fn bind_channel(&mut self, peer: SocketAddr) -> Result<u16> {
        let channel = match self.channels.get(&peer) {
            Some((c, _)) => *c,
            None => {
                turn::CHANNEL_MIN
                    + u16::try_from(self.channels.len())
                        .map_err(|_| Error::failure("no channel numbers left"))?
            }
        };
        if channel > turn::CHANNEL_MAX {
            return Err(Error::failure("no channel numbers left"));
        }
        let tid = random::bytes()?;
        let attributes = [
            turn::channel_number(channel),
            turn::xor_peer_address(peer, &tid),
        ];
        self.request_with_id(method::CHANNEL_BIND, &attributes, tid)?;
        self.channels.insert(peer, (channel, Instant::now()));
        self.permissions.insert(peer.ip(), Instant::now());
        Ok(channel)
    }

    /// Refreshes whatever is due: the allocation at half its lifetime, permissions
    /// after 4 of their 5 minutes, channels after 8 of their 10.
    pub fn maintain(&mut self) -> Result<()> {
        if self.refreshed.elapsed() >= self.lifetime / 2 {
            self.refresh(self.lifetime.max(Duration::from_mins(1)))?;
        }
        let stale =
            |at: &Instant, life: u32| at.elapsed() >= Duration::from_secs(u64::from(life) * 4 / 5);
        let channels: Vec<SocketAddr> = self
            .channels
            .iter()
            .filter(|(_, (_, at))| stale(at, turn::CHANNEL_LIFETIME))
            .map(|(p, _)| *p)
            .collect();
        for peer in channels {
            self.bind_channel(peer)?;
        }
        let permissions: Vec<SocketAddr> = self
            .permissions
            .iter()
            .filter(|(_, at)| stale(at, turn::PERMISSION_LIFETIME))
            .map(|(ip, _)| SocketAddr::new(*ip, 0))
            .collect();
        if !permissions.is_empty() {
            self.create_permission(&permissions)?;
        }
        Ok(())
    }

    /// Sends `data` to `peer` through the relay: as ChannelData when a channel is
    /// bound to it, otherwise as a Send indication (which needs a permission).
    pub fn send_to(&self, data: &[u8], peer: SocketAddr) -> Result<()> {
        let bytes = match self.channels.get(&peer) {
            Some((channel, _)) => {
                let mut buf = Vec::with_capacity(data.len() + 4);
                turn::encode_channel_data(*channel, data, &mut buf);
                buf
            }
            None => {
                let tid = random::bytes()?;
                Message {
                    class: Class::Indication,
                    method: method::SEND,
                    transaction_id: tid,
                    attributes: vec![turn::xor_peer_address(peer, &tid), turn::data(data)],
                }
                .encode()
            }
        };
        self.socket.send_to(&bytes, self.server)?;
        Ok(())
    }

    /// Receives one relayed packet: its length in `buf` and the peer it came from.
    /// Other traffic (stray responses, packets not from the relay) is skipped. Waits
    /// as the socket's read timeout says.
    pub fn recv_from(&mut self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        if let Some((data, peer)) = self.queue.pop_front() {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            return Ok((n, peer));
        }
        let mut packet = vec![0u8; 65536];
        loop {
            let (len, from) = self.socket.recv_from(&mut packet)?;
            if from != self.server {
                continue;
            }
            if let Some((data, peer)) = self.relayed_data(&packet[..len]) {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                return Ok((n, peer));
            }
        }
    }

    /// The payload and peer of a ChannelData message or Data indication.
    fn relayed_data<'a>(&self, packet: &'a [u8]) -> Option<(&'a [u8], SocketAddr)> {
        if let Some((channel, data)) = turn::decode_channel_data(packet) {
            let peer = self
                .channels
                .iter()
                .find(|(_, (c, _))| *c == channel)
                .map(|(p, _)| *p)?;
            return Some((data, peer));
        }
        let message = stun::decode(packet).ok()?;
        if message.class != Class::Indication || message.method != method::DATA {
            return None;
        }
        let peer = *message.peer_addresses()?.first()?;
        let start = data_offset(packet)?;
        let len = message.data()?.len();
        Some((&packet[start..start + len], peer))
    }

    fn request(&mut self, method: u16, attributes: &[Attribute]) -> Result<Message> {
        self.request_with_id(method, attributes, random::bytes()?)
    }

    /// One request with authentication, answering a 401 challenge or a 438 stale
    /// nonce once each (a new transaction id per attempt).
    fn request_with_id(
        &mut self,
        method: u16,
        attributes: &[Attribute],
        first_id: [u8; 12],
    ) -> Result<Message> {
        let mut tid = first_id;
        let mut attributes = attributes.to_vec();
        let mut challenged = false;
        let mut stale = false;
        loop {
            let bytes = self.sign(method, &attributes, tid);
            narrate!(
                "{} request to turn://{} ({})",
                method_name(method),
                self.server,
                if self.session.nonce.is_empty() {
                    "unauthenticated"
                } else {
                    "authenticated"
                }
            );
            let response = self.transact(&bytes, tid)?;
            if response.class == Class::Success {
                narrate!(
                    "turn://{} granted {} in {}{}",
                    self.server,
                    method_name(method),
                    figures::millis(self.rtt),
                    granted(&response)
                );
                return Ok(response);
            }
            let (code, reason) = response
                .error_code()
                .map_or((0, String::new()), |(c, r)| (c, r.to_owned()));
            narrate!(
                "turn://{} answered {} with {code} {reason} in {}",
                self.server,
                method_name(method),
                figures::millis(self.rtt)
            );
            let retry = match code {
                code::UNAUTHENTICATED if !challenged => {
                    challenged = true;
                    self.challenge(&response)
                }
                code::STALE_NONCE if !stale => {
                    stale = true;
                    self.challenge(&response)
                }
                _ => false,
            };
            if retry {
                narrate!(
                    "{} realm {:?}, fresh nonce: asking again with credentials",
                    if code == code::STALE_NONCE {
                        "stale nonce:"
                    } else {
                        "challenged:"
                    },
                    self.session.realm
                );
            } else {
                return Err(Error::failure(format!(
                    "the relay refused {}: {code} {reason}",
                    method_name(method)
                )));
            }
            let previous = tid;
            tid = random::bytes()?;
            attributes = reencode_peers(&attributes, &previous, &tid);
        }
    }

    /// Takes REALM and NONCE from a challenge; false when there is nothing to
    /// answer it with.
    fn challenge(&mut self, response: &Message) -> bool {
        let (Some(realm), Some(nonce)) = (response.text(attr::REALM), response.text(attr::NONCE))
        else {
            return false;
        };
        realm.clone_into(&mut self.session.realm);
        nonce.clone_into(&mut self.session.nonce);
        self.session.user_key = self.credentials.user_password().map(|(user, password)| {
            let key = turn::long_term_key(&user, realm, &password);
            (user, key)
        });
        !matches!(self.credentials, Credentials::None)
    }

    /// The request as bytes, authenticated as the session allows.
    fn sign(&self, method: u16, attributes: &[Attribute], tid: [u8; 12]) -> Vec<u8> {
        let mut message = Message {
            class: Class::Request,
            method,
            transaction_id: tid,
            attributes: attributes.to_vec(),
        };
        message
            .attributes
            .push(Attribute::Software(SOFTWARE.to_owned()));
        if self.session.nonce.is_empty() {
            message.attributes.push(Attribute::Fingerprint);
            return message.encode();
        }
        if let Some((user, _)) = &self.session.user_key {
            message.attributes.push(turn::username(user));
        }
        message.attributes.push(turn::realm(&self.session.realm));
        message.attributes.push(turn::nonce(&self.session.nonce));
        match (&self.session.user_key, &self.credentials) {
            (Some((_, key)), _) => turn::encode_with_integrity(&message, key, true),
            (None, Credentials::PeerKey(identity)) => {
                turn::encode_with_peer_auth(&message, identity, true)
            }
            (None, _) => {
                message.attributes.push(Attribute::Fingerprint);
                message.encode()
            }
        }
    }

    /// Sends `bytes` and waits for the response with `tid`, retransmitting.
    fn transact(&mut self, bytes: &[u8], tid: [u8; 12]) -> Result<Message> {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut rto = RTO;
        let mut packet = vec![0u8; 65536];
        let mut sent = false;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::timeout(format!(
                    "no answer from the relay {} within {:?}",
                    self.server, self.timeout
                )));
            }
            if std::mem::replace(&mut sent, true) {
                narrate!(
                    "no answer from turn://{} within {}: sending again",
                    self.server,
                    figures::millis(now - start)
                );
            }
            match self.socket.send_to(bytes, self.server) {
                // A non-blocking socket that is full: the retransmission tries again.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                other => {
                    other?;
                }
            }
            let resend = (now + rto).min(deadline);
            rto *= 2;
            while let Some(wait) = resend.checked_duration_since(Instant::now()) {
                if wait.is_zero() {
                    break;
                }
                let len = if let Some(inbox) = &self.inbox {
                    match inbox.recv_timeout(wait) {
                        Ok(bytes) => {
                            let len = bytes.len().min(packet.len());
                            packet[..len].copy_from_slice(&bytes[..len]);
                            len
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Err(Error::failure("the relayed socket is closed"));
                        }
                    }
                } else {
                    self.socket.set_read_timeout(Some(wait))?;
                    let (len, from) = match self.socket.recv_from(&mut packet) {
                        Ok(got) => got,
                        Err(e) if timed_out(&e) || transient(&e) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    if from != self.server {
                        continue;
                    }
                    len
                };
                let got = &packet[..len];
                if let Some((data, peer)) = self.relayed_data(got) {
                    if self.queue.len() < QUEUE_MAX {
                        self.queue.push_back((data.to_vec(), peer));
                    }
                    continue;
                }
                let Ok(response) = stun::decode(got) else {
                    continue;
                };
                if response.transaction_id != tid || response.class == Class::Request {
                    continue;
                }
                if let Some((_, key)) = &self.session.user_key
                    && turn::check_integrity(got, key) == Integrity::Invalid
                {
                    continue; // forged or damaged: RFC 8489 says to discard it
                }
                self.rtt = start.elapsed();
                if self.inbox.is_none() {
                    self.socket.set_read_timeout(None)?;
                }
                return Ok(response);
            }
        }
    }
}

/// What a success answer granted, for narration: `: relayed …, lifetime 600 s`.
fn granted(response: &Message) -> String {
    let mut text = String::new();
    if let Some(relayed) = response.relayed_address() {
        let _ = write!(text, ", relayed address {relayed}");
    }
    if let Some(mapped) = response.mapped_address() {
        let _ = write!(text, ", you are {mapped}");
    }
    if let Some(lifetime) = response.lifetime() {
        let _ = write!(text, ", lifetime {lifetime} s");
    }
    text
}

/// Where the DATA attribute's value starts in an encoded message.
pub(crate) fn data_offset(bytes: &[u8]) -> Option<usize> {
    let mut at = stun::HEADER_LEN;
    while bytes.len().saturating_sub(at) >= 4 {
        let kind = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        if kind == attr::DATA {
            return Some(at + 4);
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// XOR-PEER-ADDRESS attributes XORed for `old` re-encoded for `new`.
fn reencode_peers(attributes: &[Attribute], old: &[u8; 12], new: &[u8; 12]) -> Vec<Attribute> {
    attributes
        .iter()
        .map(|a| match a {
            Attribute::Other { kind, value } if *kind == attr::XOR_PEER_ADDRESS => {
                match stun::decode_address(*kind, value, Some(old)) {
                    Ok(addr) => turn::xor_peer_address(addr, new),
                    Err(_) => a.clone(),
                }
            }
            _ => a.clone(),
        })
        .collect()
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// A method's name for messages.
pub fn method_name(method: u16) -> &'static str {
    match method {
        method::ALLOCATE => "Allocate",
        method::REFRESH => "Refresh",
        method::CREATE_PERMISSION => "CreatePermission",
        method::CHANNEL_BIND => "ChannelBind",
        method::SEND => "Send",
        method::DATA => "Data",
        _ => "the request",
    }
}

/// The default TURN port.
pub const DEFAULT_PORT: u16 = 3478;

/// Parses a relay address: `turn://HOST:PORT`, RFC 7065's `turn:HOST[:PORT]` (a
/// `?transport=udp` query is allowed), `udp://HOST:PORT` or bare `HOST[:PORT]`; port
/// 3478 by default. Names are resolved (IPv4 preferred).
///
/// The toolbox's one address parser reads it ([`crate::cli::address`]), so a relay
/// flag takes every form any other address flag takes.
pub fn parse_relay(text: &str) -> std::result::Result<SocketAddr, String> {
    crate::cli::address::server(text, Some(DEFAULT_PORT))
}

/// Parses `NAME:PASSWORD` (the password may contain colons).
pub fn parse_user(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, password)) if !name.is_empty() => Ok((name.to_owned(), password.to_owned())),
        _ => Err(format!("'{text}' is not NAME:PASSWORD")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_in_every_spelling() {
        let want: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        for text in [
            "turn://192.0.2.1:3478",
            "turn:192.0.2.1",
            "turn:192.0.2.1:3478?transport=udp",
            "udp://192.0.2.1:3478",
            "192.0.2.1:3478",
            "192.0.2.1",
        ] {
            assert_eq!(parse_relay(text), Ok(want), "{text}");
        }
        assert_eq!(
            parse_relay("turn://[2001:db8::1]:5349"),
            Ok("[2001:db8::1]:5349".parse().unwrap())
        );
        assert!(parse_relay("turn:192.0.2.1?transport=tcp").is_err());
        assert!(parse_relay("").is_err());
    }

    #[test]
    fn user_and_password() {
        assert_eq!(
            parse_user("alice:pa:ss"),
            Ok(("alice".to_owned(), "pa:ss".to_owned()))
        );
        assert!(parse_user("alice").is_err());
        assert!(parse_user(":pw").is_err());
    }
}
