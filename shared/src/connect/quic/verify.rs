//! Checking the other side's raw public key during the TLS handshake.
//!
//! Both verifiers require RFC 7250 raw public keys (X.509 certificates are never
//! offered nor accepted), accept only ed25519 keys and TLS 1.3 signatures made with
//! them. The dialer's [`PeerVerifier`] accepts only the peer id it dials; a listener's
//! [`AllowVerifier`] accepts the ids of its [`Allow`] list.

use super::keys::peer_of_spki;
use crate::identity::peer_id::PeerId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use std::collections::HashSet;
use std::sync::Arc;

/// Who may connect to a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allow {
    /// Any peer that proves its key (the peer id is still known to the listener).
    Anyone,
    /// Only these peers.
    Only(HashSet<PeerId>),
}

impl Allow {
    /// Whether `id` may connect.
    pub fn permits(&self, id: &PeerId) -> bool {
        match self {
            Allow::Anyone => true,
            Allow::Only(ids) => ids.contains(id),
        }
    }

    /// `Anyone` for an empty list, otherwise `Only` those ids.
    pub fn from_ids(ids: impl IntoIterator<Item = PeerId>) -> Self {
        let ids: HashSet<PeerId> = ids.into_iter().collect();
        if ids.is_empty() {
            Allow::Anyone
        } else {
            Allow::Only(ids)
        }
    }
}

fn refuse(message: String) -> Error {
    Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        PeerRefused(message),
    ))))
}

/// Why a peer's key was refused (carried inside rustls' error).
#[derive(Debug)]
struct PeerRefused(String);

impl std::fmt::Display for PeerRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeerRefused {}

/// The peer id of a raw public key presented alone: a chain is refused.
fn lone_key(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<PeerId, Error> {
    if !intermediates.is_empty() {
        return Err(refuse("the peer sent a certificate chain".to_owned()));
    }
    peer_of(end_entity)
}

/// The peer id in an end-entity "certificate" (a raw public key).
fn peer_of(cert: &CertificateDer<'_>) -> Result<PeerId, Error> {
    peer_of_spki(cert.as_ref()).map_err(refuse)
}

/// Checks a TLS 1.3 handshake signature made with the raw ed25519 key in `cert`.
fn verify_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, Error> {
    if dss.scheme != SignatureScheme::ED25519 {
        return Err(Error::PeerMisbehaved(
            rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ));
    }
    let peer = peer_of(cert)?;
    let signature = ed25519_dalek::Signature::from_slice(dss.signature())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))?;
    peer.key()
        .verify_strict(message, &signature)
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))?;
    Ok(HandshakeSignatureValid::assertion())
}

fn tls12_unused() -> Error {
    Error::PeerIncompatible(rustls::PeerIncompatible::Tls13RequiredForQuic)
}

/// The dialer's check: the server must hold the key of `expected`.
#[derive(Debug)]
pub struct PeerVerifier {
    expected: PeerId,
}

impl PeerVerifier {
    /// A verifier that accepts only `expected`.
    pub fn new(expected: PeerId) -> Self {
        PeerVerifier { expected }
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let peer = lone_key(end_entity, intermediates)?;
        if peer != self.expected {
            return Err(refuse(format!(
                "the peer is {peer}, not the {} that was dialled",
                self.expected
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(tls12_unused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }

    fn requires_raw_public_keys(&self) -> bool {
        true
    }
}

/// A listener's check: the client must present a raw ed25519 key that `allow` permits.
#[derive(Debug)]
pub struct AllowVerifier {
    allow: Allow,
}

impl AllowVerifier {
    /// A verifier that admits the peers `allow` permits.
    pub fn new(allow: Allow) -> Self {
        AllowVerifier { allow }
    }
}

impl ClientCertVerifier for AllowVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let peer = lone_key(end_entity, intermediates)?;
        if !self.allow.permits(&peer) {
            return Err(refuse(format!("{peer} is not on the allow list")));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(tls12_unused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }

    fn requires_raw_public_keys(&self) -> bool {
        true
    }
}
