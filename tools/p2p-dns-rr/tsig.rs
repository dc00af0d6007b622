//! TSIG (RFC 8945) with HMAC-SHA256: key files, signing requests, and checking the
//! signature on the server's response.
//!
//! A response's MAC covers the request's MAC, then the response as sent but with its
//! original id and without the TSIG record (ARCOUNT one less), then the TSIG
//! variables; hickory-proto encodes the variables, the HMAC is ours.

use base64::Engine as _;
use hickory_proto::op::{Header, Message, Query};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hmac::{Hmac, KeyInit, Mac};
use p2p_shared::{Context, Error, Result};
use sha2::Sha256;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

/// Seconds of clock difference the server may accept (RFC 8945 recommends 300).
const FUDGE: u16 = 300;

/// A TSIG key.
#[derive(Clone)]
pub struct Key {
    name: Name,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.name)
    }
}

impl Key {
    /// Reads a key file (see [`Key::parse`]).
    pub fn load(path: &Path) -> Result<Key> {
        let text = p2p_shared::identity::key::read_small_file(
            path,
            p2p_shared::identity::key::MAX_KEY_FILE,
        )
        .map(|(_, text)| text)
        .with_context(|| format!("reading {}", path.display()))?;
        Key::parse(&text).map_err(|e| Error::usage(format!("{}: {e}", path.display())))
    }

    /// Parses `[hmac-sha256:]NAME:SECRET` (as `dig -y` takes it), a BIND `key`
    /// clause, or Knot's `key:` section (`id`, `algorithm`, `secret`).
    pub fn parse(text: &str) -> Result<Key, String> {
        let text: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let (algorithm, name, secret) = if text.contains("secret") {
            structured(&text)?
        } else {
            let parts: Vec<&str> = text.trim().split(':').collect();
            match parts.as_slice() {
                [name, secret] => (
                    "hmac-sha256".to_owned(),
                    (*name).to_owned(),
                    (*secret).to_owned(),
                ),
                [alg, name, secret] => {
                    ((*alg).to_owned(), (*name).to_owned(), (*secret).to_owned())
                }
                _ => {
                    return Err(
                        "not a TSIG key (expected [hmac-sha256:]NAME:SECRET or a key clause)"
                            .to_owned(),
                    );
                }
            }
        };
        if !algorithm.eq_ignore_ascii_case("hmac-sha256") {
            return Err(format!(
                "TSIG algorithm {algorithm} is not supported (only hmac-sha256)"
            ));
        }
        let name = crate::args::parse_zone(&name)?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .map_err(|e| format!("the key's secret is not base64: {e}"))?;
        if secret.is_empty() {
            return Err("the key's secret is empty".to_owned());
        }
        Ok(Key { name, secret })
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length")
    }

    /// Signs `message` (adds its TSIG record) at unix time `now`; returns the MAC,
    /// which the response's signature covers.
    pub fn sign(&self, message: &mut Message, now: u64) -> Result<Vec<u8>> {
        message.signature = None;
        let tsig = TSIG::new(
            TsigAlgorithm::HmacSha256,
            now,
            FUDGE,
            Vec::new(),
            message.metadata.id,
            None,
            Vec::new(),
        );
        let tbs = message_tbs(message, &tsig, &self.name)
            .map_err(|e| Error::failure(format!("signing: {e}")))?;
        let mut mac = self.mac();
        mac.update(&tbs);
        let mac = mac.finalize().into_bytes().to_vec();
        message.signature = Some(Box::new(make_tsig_record(
            self.name.clone(),
            tsig.set_mac(mac.clone()),
        )));
        Ok(mac)
    }

    /// Checks the TSIG record that ends `response` against the request's MAC.
    pub fn verify(&self, response: &[u8], request_mac: &[u8]) -> Result<(), String> {
        let (unsigned, tsig_name, tsig) = split_tsig(response)?;
        if !tsig_name.eq_ignore_root(&self.name) {
            return Err(format!(
                "the response is signed with key {tsig_name}, not {}",
                self.name
            ));
        }
        if let Some(error) = tsig.error {
            return Err(format!("the server rejected the signature: {error:?}"));
        }
        let mut tbs = Vec::with_capacity(response.len() + 64);
        tbs.extend_from_slice(&u16::try_from(request_mac.len()).unwrap_or(0).to_be_bytes());
        tbs.extend_from_slice(request_mac);
        tbs.extend_from_slice(&unsigned);
        // An encoder writes from the start of its buffer: the variables get their own.
        let mut variables = Vec::with_capacity(128);
        tsig.emit_tsig_for_mac(&mut BinEncoder::new(&mut variables), &tsig_name)
            .map_err(|e| e.to_string())?;
        tbs.extend_from_slice(&variables);
        let mut mac = self.mac();
        mac.update(&tbs);
        mac.verify_slice(&tsig.mac)
            .map_err(|_| "the response's TSIG signature does not match the key".to_owned())
    }
}

/// Reads `name: value`, `name value;` or `name "value";` settings out of a BIND or
/// Knot key file.
fn structured(text: &str) -> Result<(String, String, String), String> {
    let mut algorithm = "hmac-sha256".to_owned();
    let mut name = None;
    let mut secret = None;
    let tokens: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '{' | '}' | ':'))
        .filter(|t| !t.is_empty() && *t != "-")
        .map(|t| t.trim_matches('"').to_owned())
        .collect();
    let mut i = 0;
    while i + 1 < tokens.len() {
        match tokens[i].as_str() {
            "key" if tokens[i + 1] != "id" => name = Some(tokens[i + 1].clone()),
            "id" => name = Some(tokens[i + 1].clone()),
            "algorithm" => algorithm.clone_from(&tokens[i + 1]),
            "secret" => secret = Some(tokens[i + 1].clone()),
            _ => {}
        }
        i += 1;
    }
    Ok((
        algorithm,
        name.ok_or("the key file names no key")?,
        secret.ok_or("the key file has no secret")?,
    ))
}

/// Splits a signed message into the bytes its MAC covers (header with the original
/// id and one record fewer, then everything before the TSIG record) and the TSIG
/// record itself.
fn split_tsig(message: &[u8]) -> Result<(Vec<u8>, Name, TSIG), String> {
    let bad = |e: &dyn std::fmt::Display| format!("malformed response: {e}");
    let mut decoder = BinDecoder::new(message);
    let Header { counts, .. } = Header::read(&mut decoder).map_err(|e| bad(&e))?;
    for _ in 0..counts.queries {
        Query::read(&mut decoder).map_err(|e| bad(&e))?;
    }
    if counts.additionals == 0 {
        return Err("the response is not signed".to_owned());
    }
    let records = usize::from(counts.answers)
        + usize::from(counts.authorities)
        + usize::from(counts.additionals);
    for _ in 1..records {
        Record::read(&mut decoder).map_err(|e| bad(&e))?;
    }
    let tsig_start = decoder.index();
    let record = Record::read(&mut decoder).map_err(|e| bad(&e))?;
    let RData::TSIG(tsig) = record.data else {
        return Err("the response is not signed".to_owned());
    };
    // The header as sent, with the original id and without the TSIG record counted.
    let mut out = message[..tsig_start].to_vec();
    out[..2].copy_from_slice(&tsig.oid.to_be_bytes());
    out[10..12].copy_from_slice(&(counts.additionals - 1).to_be_bytes());
    Ok((out, record.name, tsig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};

    const SECRET: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMhIQ==";

    #[test]
    fn every_key_file_form_parses() {
        let plain = Key::parse(&format!("hmac-sha256:update.:{SECRET}\n")).unwrap();
        let short = Key::parse(&format!("update:{SECRET}")).unwrap();
        let bind = Key::parse(&format!(
            "key \"update\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n"
        ))
        .unwrap();
        let knot = Key::parse(&format!(
            "# made by keymgr\nkey:\n  - id: update\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"
        ))
        .unwrap();
        for key in [&plain, &short, &bind, &knot] {
            assert_eq!(key.name.to_ascii(), "update.");
            assert_eq!(key.secret, plain.secret);
        }
        assert!(
            Key::parse(&format!("hmac-md5:k:{SECRET}"))
                .unwrap_err()
                .contains("not supported")
        );
        assert!(Key::parse("k:!!!").unwrap_err().contains("base64"));
    }

    #[test]
    fn a_signed_message_verifies_and_a_changed_one_does_not() {
        let key = Key::parse(&format!("update:{SECRET}")).unwrap();
        // Sign a "response" the way a server would, covering a request MAC.
        let request_mac = vec![7u8; 32];
        let mut response = Message::new(99, MessageType::Response, OpCode::Update);
        response.add_query(Query::query(
            Name::from_ascii("example.").unwrap(),
            hickory_proto::rr::RecordType::SOA,
        ));
        let tsig = TSIG::new(
            TsigAlgorithm::HmacSha256,
            1_700_000_000,
            FUDGE,
            Vec::new(),
            99,
            None,
            Vec::new(),
        );
        let mut tbs = Vec::new();
        tbs.extend_from_slice(&32u16.to_be_bytes());
        tbs.extend_from_slice(&request_mac);
        tbs.extend_from_slice(&message_tbs(&response, &tsig, &key.name).unwrap());
        let mut mac = key.mac();
        mac.update(&tbs);
        let mac = mac.finalize().into_bytes().to_vec();
        response.signature = Some(Box::new(make_tsig_record(
            key.name.clone(),
            tsig.set_mac(mac),
        )));
        let bytes = response.to_vec().unwrap();
        assert_eq!(key.verify(&bytes, &request_mac), Ok(()));
        assert!(
            key.verify(&bytes, &[8u8; 32])
                .unwrap_err()
                .contains("does not match")
        );
        let unsigned = Message::new(99, MessageType::Response, OpCode::Update)
            .to_vec()
            .unwrap();
        assert!(
            key.verify(&unsigned, &request_mac)
                .unwrap_err()
                .contains("not signed")
        );
    }
}
