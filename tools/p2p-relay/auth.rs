//! Who may use the relay: stateless nonces, long-term credentials (static users and
//! coturn's shared-secret form) and peer keys (PEER-AUTH checked against `--allow`).
//!
//! A nonce is `TIME:MAC`, where TIME is when it was made (unix seconds, hex) and MAC
//! the first 8 bytes of HMAC-SHA256(server secret, TIME and the client's address),
//! so the server keeps no state per challenge, a nonce works only from the address
//! it was given to, and one older than [`NONCE_LIFETIME`] is stale (438).

use crate::args::Access;
use hmac::{Hmac, KeyInit as _, Mac as _};
use p2p_shared::codec::stun::Message;
use p2p_shared::codec::turn::{self, Integrity, PeerAuth, Turn, attr, code};
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::{Context, Error, Result, random};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a nonce is good for, in seconds.
pub const NONCE_LIFETIME: u64 = 600;

/// Who sent a request, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A long-term username (static or shared-secret).
    User(String),
    /// A peer key.
    Peer(PeerId),
}

impl Principal {
    /// How events name it.
    pub fn label(&self) -> String {
        match self {
            Principal::User(name) => format!("user:{name}"),
            Principal::Peer(id) => format!("peer:{id}"),
        }
    }
}

/// The outcome of checking a request.
pub enum Verdict {
    /// Authenticated; responses are signed with the key when there is one.
    Ok(Principal, Option<[u8; 16]>),
    /// Refused with this code; challenges (401, 438) carry REALM and a fresh NONCE.
    Refuse(u16, &'static str),
}

/// The relay's access policy.
pub struct Auth {
    secret: [u8; 32],
    realm: String,
    shared_secret: Option<String>,
    users: HashMap<String, String>,
    allowed: Option<HashSet<PeerId>>,
    any_peer: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Auth {
    /// The policy the flags describe; an error when they allow no one.
    pub fn new(access: &Access) -> Result<Auth> {
        let allowed = match &access.allow {
            Some(path) => Some(read_allow(path)?),
            None => None,
        };
        if access.auth_secret.is_none()
            && access.users.is_empty()
            && allowed.is_none()
            && !access.allow_any_peer
        {
            return Err(Error::usage(
                "refusing to run an open relay: give --auth-secret, --user, --allow FILE or \
                 --allow-any-peer",
            ));
        }
        Ok(Auth {
            secret: random::bytes()?,
            realm: access.realm.clone(),
            shared_secret: access.auth_secret.clone(),
            users: access.users.iter().cloned().collect(),
            allowed,
            any_peer: access.allow_any_peer,
        })
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Which access methods are on, for the `listening` record.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.shared_secret.is_some() {
            methods.push("shared-secret");
        }
        if !self.users.is_empty() {
            methods.push("user");
        }
        if self.allowed.is_some() || self.any_peer {
            methods.push("peer-key");
        }
        methods
    }

    fn mac(&self, time: u64, client: SocketAddr) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!());
        mac.update(&time.to_be_bytes());
        mac.update(client.to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// A fresh nonce for `client`.
    pub fn nonce(&self, client: SocketAddr) -> String {
        let t = now();
        format!("{t:x}:{}", self.mac(t, client))
    }

    /// Whether `nonce` was made here for `client`, and if so whether it is fresh.
    fn nonce_state(&self, nonce: &str, client: SocketAddr) -> Option<bool> {
        let (time, mac) = nonce.split_once(':')?;
        let t = u64::from_str_radix(time, 16).ok()?;
        (self.mac(t, client) == mac).then(|| now().saturating_sub(t) < NONCE_LIFETIME)
    }

    /// Checks the credentials of the request `message` (its bytes `bytes`) from
    /// `client`.
    pub fn check(&self, message: &Message, bytes: &[u8], client: SocketAddr) -> Verdict {
        let peer = turn::check_peer_auth(bytes);
        let has_integrity = message.raw(attr::MESSAGE_INTEGRITY).is_some();
        if !has_integrity && peer == PeerAuth::Absent {
            return Verdict::Refuse(code::UNAUTHENTICATED, "no credentials");
        }
        let Some(nonce) = message.text(attr::NONCE) else {
            return Verdict::Refuse(code::BAD_REQUEST, "credentials without NONCE");
        };
        if message.text(attr::REALM) != Some(self.realm.as_str()) {
            return Verdict::Refuse(code::UNAUTHENTICATED, "wrong realm");
        }
        match self.nonce_state(nonce, client) {
            None => return Verdict::Refuse(code::UNAUTHENTICATED, "foreign nonce"),
            Some(false) => return Verdict::Refuse(code::STALE_NONCE, "stale nonce"),
            Some(true) => {}
        }
        if has_integrity {
            return self.check_user(message, bytes);
        }
        match peer {
            PeerAuth::Valid(id) => {
                let listed = self.allowed.as_ref().is_some_and(|a| a.contains(&id));
                if listed || self.any_peer {
                    Verdict::Ok(Principal::Peer(id), None)
                } else {
                    Verdict::Refuse(code::FORBIDDEN, "peer id not allowed")
                }
            }
            PeerAuth::Invalid | PeerAuth::Absent => {
                Verdict::Refuse(code::UNAUTHENTICATED, "bad peer signature")
            }
        }
    }

    fn check_user(&self, message: &Message, bytes: &[u8]) -> Verdict {
        let Some(username) = message.text(attr::USERNAME) else {
            return Verdict::Refuse(code::BAD_REQUEST, "MESSAGE-INTEGRITY without USERNAME");
        };
        let password = if let Some(password) = self.users.get(username) {
            password.clone()
        } else if let Some(secret) = &self.shared_secret {
            let expiry = username
                .split(':')
                .next()
                .and_then(|e| e.parse::<u64>().ok());
            match expiry {
                Some(e) if e > now() => turn::rest_password(secret, username),
                Some(_) => return Verdict::Refuse(code::UNAUTHENTICATED, "credentials expired"),
                None => return Verdict::Refuse(code::UNAUTHENTICATED, "unknown user"),
            }
        } else {
            return Verdict::Refuse(code::UNAUTHENTICATED, "unknown user");
        };
        let key = turn::long_term_key(username, &self.realm, &password);
        match turn::check_integrity(bytes, &key) {
            Integrity::Valid => Verdict::Ok(Principal::User(username.to_owned()), Some(key)),
            Integrity::Invalid | Integrity::Absent => {
                Verdict::Refuse(code::UNAUTHENTICATED, "wrong password")
            }
        }
    }
}

/// Reads the peer ids of an `--allow` file: one per line (blank lines and `#`
/// comments skipped), or NDJSON records with an `id`.
fn read_allow(path: &std::path::Path) -> Result<HashSet<PeerId>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --allow file {}", path.display()))?;
    let mut ids = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let id_text = if line.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default()
        } else {
            line.to_owned()
        };
        let id: PeerId = id_text.parse().map_err(|e| {
            Error::usage(format!(
                "{} line {}: not a peer id: {e}",
                path.display(),
                n + 1
            ))
        })?;
        ids.insert(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth {
            secret: [1; 32],
            realm: "r".to_owned(),
            shared_secret: None,
            users: HashMap::new(),
            allowed: None,
            any_peer: true,
        }
    }

    #[test]
    fn nonces_are_bound_to_the_client_and_go_stale() {
        let auth = auth();
        let client: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let other: SocketAddr = "192.0.2.1:4001".parse().unwrap();
        let nonce = auth.nonce(client);
        assert_eq!(auth.nonce_state(&nonce, client), Some(true));
        assert_eq!(auth.nonce_state(&nonce, other), None);
        let old = now() - NONCE_LIFETIME - 1;
        let stale = format!("{old:x}:{}", auth.mac(old, client));
        assert_eq!(auth.nonce_state(&stale, client), Some(false));
        assert_eq!(auth.nonce_state("zz:00", client), None);
    }
}
