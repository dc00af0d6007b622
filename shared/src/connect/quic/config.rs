//! TLS and transport configuration: TLS 1.3 only, raw public keys only, one ALPN per
//! protocol, and a transport tuned for throughput.
//!
//! quinn's defaults leave a lot on the table on fast paths: its flow-control windows
//! suit a 100 Mbit/s path, and its path MTU discovery stops at 1452 bytes. Here the
//! windows are sized for about 1 Gbit/s at 100 ms, and MTU discovery may climb as far
//! as a full GSO batch allows (ten segments under 64 KiB); the path decides how far it
//! actually gets, since every step is probed, never assumed.

use super::keys::certified_key;
use super::verify::{Allow, AllowVerifier, PeerVerifier};
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::{Error, Result};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{EndpointConfig, MtuDiscoveryConfig, TransportConfig, VarInt};
use rustls::client::AlwaysResolvesClientRawPublicKeys;
use rustls::server::AlwaysResolvesServerRawPublicKeys;
use std::sync::Arc;
use std::time::Duration;

/// The largest UDP payload MTU discovery may probe for: ten segments of it make a GSO
/// batch that still fits in one 64 KiB datagram (larger batches stall the sender).
pub const MAX_UDP_PAYLOAD: u16 = 6500;

/// Transport settings a tool may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// A connection with no packet from the peer for this long is lost (also bounds
    /// the handshake).
    pub idle_timeout: Duration,
    /// Flow-control window of one stream, in bytes.
    pub stream_window: u32,
    /// Flow-control window of the whole connection, in bytes (also the send window).
    pub connection_window: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            idle_timeout: Duration::from_secs(10),
            stream_window: 8 << 20,
            connection_window: 16 << 20,
        }
    }
}

fn tls_error(err: &rustls::Error) -> Error {
    Error::failure(format!("setting up TLS: {err}"))
}

/// ring's TLS 1.3 suites, AES-128-GCM with SHA-256 first: its handshake hashes with
/// SHA-256, which runs on the CPU's SHA extensions where ring's SHA-384 does not
/// (SHA-384 was the largest crypto item of a loopback handshake here, about 70 µs a
/// side), and it seals bulk data faster than AES-256. The others stay offered.
pub(super) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

/// The transport configuration both sides use.
pub fn transport(tuning: &Tuning) -> Result<Arc<TransportConfig>> {
    let mut config = TransportConfig::default();
    let idle = tuning
        .idle_timeout
        .try_into()
        .map_err(|_| Error::usage("the idle timeout is too long"))?;
    config
        .max_idle_timeout(Some(idle))
        .keep_alive_interval(Some(tuning.idle_timeout / 3))
        .stream_receive_window(VarInt::from_u32(tuning.stream_window))
        .receive_window(VarInt::from_u32(tuning.connection_window))
        .send_window(u64::from(tuning.connection_window));
    let mut mtu = MtuDiscoveryConfig::default();
    mtu.upper_bound(MAX_UDP_PAYLOAD);
    config.mtu_discovery_config(Some(mtu));
    Ok(Arc::new(config))
}

/// The endpoint configuration: datagrams up to [`MAX_UDP_PAYLOAD`] are accepted.
pub fn endpoint() -> EndpointConfig {
    let mut config = EndpointConfig::default();
    config
        .max_udp_payload_size(MAX_UDP_PAYLOAD)
        .expect("MAX_UDP_PAYLOAD is within QUIC's limits");
    config
}

/// The dialer's configuration for one connection: it proves `identity` and accepts
/// only `expected`, speaking `alpn`.
pub fn client(
    identity: &Identity,
    expected: PeerId,
    alpn: &[u8],
    tuning: &Tuning,
) -> Result<quinn::ClientConfig> {
    let key = certified_key(identity).map_err(|e| tls_error(&e))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_error(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier::new(expected)))
        .with_client_cert_resolver(Arc::new(AlwaysResolvesClientRawPublicKeys::new(key)));
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| Error::failure(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport(tuning)?);
    Ok(config)
}

/// A listener's configuration: it proves `identity`, admits the peers `allow`
/// permits, and speaks any of `alpns`.
pub fn server(
    identity: &Identity,
    allow: Allow,
    alpns: &[&[u8]],
    tuning: &Tuning,
) -> Result<quinn::ServerConfig> {
    let key = certified_key(identity).map_err(|e| tls_error(&e))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_error(&e))?
        .with_client_cert_verifier(Arc::new(AllowVerifier::new(allow)))
        .with_cert_resolver(Arc::new(AlwaysResolvesServerRawPublicKeys::new(key)));
    tls.alpn_protocols = alpns.iter().map(|a| a.to_vec()).collect();
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| Error::failure(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport(tuning)?);
    Ok(config)
}
