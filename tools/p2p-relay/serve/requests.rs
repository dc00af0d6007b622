//! STUN and TURN requests: method and attribute checks, authentication, and the
//! signed answer (the methods themselves are in `allocate` and
//! `refresh_permit_bind`).

use super::{KNOWN, SOFTWARE, Server, sign, udp};
use crate::auth::Verdict;
use p2p_shared::codec::stun::{self, Attribute, Class, Message};
use p2p_shared::codec::turn::{self, code, method};
use p2p_shared::connect::turn_client::method_name;
use p2p_shared::narrate_packet;
use p2p_shared::ndjson::records;
use serde_json::json;
use std::net::SocketAddr;
use std::rc::Rc;

impl Server {
    pub(super) fn stun(self: &Rc<Self>, message: &Message, bytes: &[u8], from: SocketAddr) {
        match (message.class, message.method) {
            (Class::Indication, method::SEND) => {
                self.relay_send(message, from);
            }
            (Class::Request, stun::BINDING) => {
                let mut response = Message::response_to(message, Class::Success);
                response.attributes.push(Attribute::XorMappedAddress(from));
                response
                    .attributes
                    .push(Attribute::Software(SOFTWARE.to_owned()));
                response.attributes.push(Attribute::Fingerprint);
                self.send(&response.encode(), from);
            }
            (Class::Request, _) => self.request(message, bytes, from),
            _ => {
                self.state.borrow_mut().stats.malformed += 1;
            }
        }
    }

    pub(super) fn request(self: &Rc<Self>, message: &Message, bytes: &[u8], from: SocketAddr) {
        let known_method = matches!(
            message.method,
            method::ALLOCATE | method::REFRESH | method::CREATE_PERMISSION | method::CHANNEL_BIND
        );
        if !known_method {
            let response = Self::error(message, code::BAD_REQUEST, None, vec![]);
            self.send(&response, from);
            return;
        }
        let unknown: Vec<u16> = message
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Other { kind, .. }
                    if a.is_unknown_required() && !KNOWN.contains(kind) =>
                {
                    Some(*kind)
                }
                _ => None,
            })
            .collect();
        if !unknown.is_empty() {
            let names: Vec<String> = unknown.iter().map(|k| format!("0x{k:04x}")).collect();
            let why = format!("unknown attribute {}", names.join(", "));
            self.refused(message, from, code::UNKNOWN_ATTRIBUTE, &why);
            let extra = vec![Attribute::UnknownAttributes(unknown)];
            let response = Self::error(message, code::UNKNOWN_ATTRIBUTE, None, extra);
            self.send(&response, from);
            return;
        }
        let (principal, key) = match self.auth.check(message, bytes, from) {
            Verdict::Ok(principal, key) => (principal, key),
            Verdict::Refuse(code, why) => {
                narrate_packet!("{} from {from}: {code} {why}", method_name(message.method));
                if code == code::UNAUTHENTICATED && why == "no credentials" {
                    self.state.borrow_mut().stats.challenges += 1;
                } else {
                    self.refused(message, from, code, why);
                }
                let challenge = if matches!(code, code::UNAUTHENTICATED | code::STALE_NONCE) {
                    vec![
                        turn::realm(self.auth.realm()),
                        turn::nonce(&self.auth.nonce(from)),
                    ]
                } else {
                    vec![]
                };
                let response = Self::error(message, code, None, challenge);
                self.send(&response, from);
                return;
            }
        };
        let reply = match message.method {
            method::ALLOCATE => self.allocate(message, from, &principal),
            method::REFRESH => self.refresh(message, from, &principal),
            method::CREATE_PERMISSION => self.permission(message, from, &principal),
            _ => self.channel_bind(message, from, &principal),
        };
        narrate_packet!(
            "{} from {from}: {}",
            method_name(message.method),
            match &reply {
                Ok(_) => "granted".to_owned(),
                Err((code, why)) => format!("refused {code} {why}"),
            }
        );
        let response = match reply {
            Ok(attributes) => {
                let mut response = Message::response_to(message, Class::Success);
                response.attributes = attributes;
                response
                    .attributes
                    .push(Attribute::Software(SOFTWARE.to_owned()));
                sign(&response, key)
            }
            Err((code, why)) => {
                self.refused(message, from, code, &why);
                Self::error(message, code, key, vec![])
            }
        };
        self.send(&response, from);
    }

    pub(super) fn refused(&self, message: &Message, from: SocketAddr, code: u16, why: &str) {
        *self
            .state
            .borrow_mut()
            .stats
            .refusals
            .entry(code)
            .or_default() += 1;
        self.event(&records::event(
            "refused",
            json!({"client": udp(from),
            "method": method_name(message.method), "code": code, "reason": why}),
        ));
    }

    /// An error response, signed when the request was authenticated.
    pub(super) fn error(
        request: &Message,
        code: u16,
        key: Option<[u8; 16]>,
        extra: Vec<Attribute>,
    ) -> Vec<u8> {
        let mut response = Message::response_to(request, Class::Error);
        response.attributes.push(turn::error(code));
        response.attributes.extend(extra);
        response
            .attributes
            .push(Attribute::Software(SOFTWARE.to_owned()));
        sign(&response, key)
    }
}
