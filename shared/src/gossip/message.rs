//! Gossip messages: signed by their author over everything that matters.
//!
//! On the wire and in a `--store` log a message is one JSON object,
//! `{"type":"gossip","topic":…,"author":…,"seq":…,"ts":…,"data":…,"sig":…}`, and the
//! signature is ed25519 by `author` over the RFC 8785 canonical form of the object
//! without `sig` ([`crate::identity::canonical`]). So a relay can change none of topic, `seq`,
//! timestamp or payload (secure-gossip signed only the payload, so a relay could
//! raise `seq` and silence an author). A message's id is the SHA-256 of those
//! canonical bytes: the same content has the same id however it travelled.

use crate::identity::Identity;
use crate::identity::canonical;
use crate::identity::peer_id::PeerId;
use ed25519_dalek::Signature;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// The `type` of a signed gossip message.
pub const TYPE: &str = "gossip";

/// A message id: SHA-256 of the signed bytes.
pub type MessageId = [u8; 32];

/// A verified message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The topic it was published on.
    pub topic: String,
    /// Who wrote and signed it.
    pub author: PeerId,
    /// The author's sequence number (strictly increasing per author).
    pub seq: u64,
    /// When it was written, unix milliseconds.
    pub ts: u64,
    /// The payload.
    pub data: Value,
    /// SHA-256 of the signed bytes.
    pub id: MessageId,
    /// The signed JSON object as sent on the wire (compact, no newline).
    pub wire: Arc<[u8]>,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Not a JSON object of the expected shape.
    Malformed(String),
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Malformed(why) => write!(f, "malformed message: {why}"),
            MessageError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

/// A decoded message whose signature has not been checked yet: cheap checks (id,
/// topic, author, replay) come first, the ed25519 verification last.
#[derive(Debug)]
pub struct Unverified {
    message: Message,
    signed: Vec<u8>,
    sig: [u8; 64],
}

impl Unverified {
    /// The message as claimed.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Checks the author's signature.
    pub fn verify(self) -> Result<Message, MessageError> {
        self.message
            .author
            .key()
            .verify_strict(&self.signed, &Signature::from_bytes(&self.sig))
            .map_err(|_| MessageError::BadSignature)?;
        Ok(self.message)
    }
}

fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a Value, MessageError> {
    object
        .get(name)
        .ok_or_else(|| MessageError::Malformed(format!("no \"{name}\" field")))
}

fn uint(object: &Map<String, Value>, name: &str) -> Result<u64, MessageError> {
    field(object, name)?
        .as_u64()
        .ok_or_else(|| MessageError::Malformed(format!("\"{name}\" is not an unsigned integer")))
}

fn string<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, MessageError> {
    field(object, name)?
        .as_str()
        .ok_or_else(|| MessageError::Malformed(format!("\"{name}\" is not a string")))
}

impl Message {
    /// Writes and signs a message.
    pub fn sign(identity: &Identity, topic: &str, seq: u64, ts: u64, data: &Value) -> Message {
        let Value::Object(mut object) = json!({
            "type": TYPE, "topic": topic, "author": identity.id(), "seq": seq, "ts": ts, "data": data,
        }) else {
            unreachable!("json! of an object literal is an object")
        };
        let signed = canonical::object_to_vec(&object, |_| false);
        let sig = identity.sign(&signed);
        object.insert("sig".to_owned(), hex::encode(sig.to_bytes()).into());
        let wire: Arc<[u8]> = serde_json::to_vec(&object).unwrap_or_default().into();
        Message {
            topic: topic.to_owned(),
            author: identity.id(),
            seq,
            ts,
            data: object.remove("data").unwrap_or(Value::Null),
            id: Sha256::digest(&signed).into(),
            wire,
        }
    }

    /// Decodes the wire form (a JSON object) without checking the signature.
    pub fn decode(bytes: &[u8]) -> Result<Unverified, MessageError> {
        let value: Value = crate::identity::strict::from_slice(bytes)
            .map_err(|e| MessageError::Malformed(e.to_string()))?;
        let Value::Object(mut object) = value else {
            return Err(MessageError::Malformed("not a JSON object".to_owned()));
        };
        if string(&object, "type")? != TYPE {
            return Err(MessageError::Malformed(format!("type is not \"{TYPE}\"")));
        }
        let topic = string(&object, "topic")?.to_owned();
        let author: PeerId = string(&object, "author")?
            .parse()
            .map_err(|e| MessageError::Malformed(format!("author: {e}")))?;
        let seq = uint(&object, "seq")?;
        let ts = uint(&object, "ts")?;
        field(&object, "data")?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(string(&object, "sig")?, &mut sig)
            .map_err(|_| MessageError::Malformed("sig is not 128 hex digits".to_owned()))?;
        let signed = canonical::object_to_vec(&object, |key| key == "sig");
        let data = object.remove("data").unwrap_or(Value::Null);
        Ok(Unverified {
            message: Message {
                topic,
                author,
                seq,
                ts,
                data,
                id: Sha256::digest(&signed).into(),
                wire: bytes.into(),
            },
            signed,
            sig,
        })
    }

    /// The id as lowercase hex.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// The `message` record printed when it is delivered.
    pub fn record(&self, hops: u16) -> Value {
        json!({
            "type": "message", "topic": self.topic, "author": self.author, "seq": self.seq,
            "ts": self.ts, "id": self.id_hex(), "hops": hops, "data": self.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Identity {
        Identity::from_seed([5; 32])
    }

    #[test]
    fn a_signed_message_decodes_and_verifies_with_the_same_id() {
        let msg = Message::sign(&me(), "chat", 7, 1_000, &json!({"text": "hi"}));
        let back = Message::decode(&msg.wire).unwrap().verify().unwrap();
        assert_eq!(back, msg);
        assert_eq!(back.record(2)["hops"], 2);
        assert_eq!(back.record(2)["id"], msg.id_hex());
    }

    fn altered(msg: &Message, key: &str, value: Value) -> Vec<u8> {
        let Value::Object(mut object) = serde_json::from_slice(&msg.wire).unwrap() else {
            panic!()
        };
        object.insert(key.to_owned(), value);
        serde_json::to_vec(&object).unwrap()
    }

    #[test]
    fn every_signed_field_is_covered() {
        let msg = Message::sign(&me(), "chat", 7, 1_000, &json!("hi"));
        for (key, value) in [
            ("seq", json!(8)),
            ("ts", json!(1_001)),
            ("topic", json!("other")),
            ("data", json!("bye")),
            ("author", json!(Identity::from_seed([6; 32]).id())),
            ("extra", json!(1)),
        ] {
            let bytes = altered(&msg, key, value);
            let decoded = Message::decode(&bytes).unwrap();
            assert_ne!(decoded.message().id, msg.id, "{key} not in the id");
            assert_eq!(decoded.verify(), Err(MessageError::BadSignature), "{key}");
        }
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        let msg = Message::sign(&me(), "chat", 7, 1_000, &json!("hi"));
        let cases = [
            (b"[1]".to_vec(), "not a JSON object"),
            (b"{".to_vec(), "EOF"),
            (altered(&msg, "seq", json!(-1)), "\"seq\""),
            (altered(&msg, "type", json!("peer")), "type"),
            (altered(&msg, "sig", json!("zz")), "sig"),
            (altered(&msg, "author", json!("x")), "author"),
        ];
        for (bytes, want) in cases {
            let err = Message::decode(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }
}
