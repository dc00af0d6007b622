//! `convert`: the encodings of an ed25519 key people meet, in both directions.
//!
//! z-base-32 peer id, hex, base64, secure-scuttlebutt (`@<base64>.ed25519` ids and
//! secret files with `#` comment lines), the OpenSSH public key line, libp2p's
//! Ed25519 peer id (`12D3KooW…`) and its CIDv1 (`k51…`), and the toolbox's own
//! identity record.

use crate::args::{ConvertArgs, Form};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::identity::{Identity, libp2p};
use p2p_shared::{Error, Result, Status};
use serde_json::{Value, json};
use std::io::Read;

/// The algorithm name in OpenSSH key lines and blobs.
const SSH_ED25519: &str = "ssh-ed25519";

/// A key read from any form: always the public half, the secret when given.
struct Key {
    public: PeerId,
    secret: Option<Identity>,
}

/// `p2p-keygen convert`.
pub fn run(args: &ConvertArgs, ctx: &Ctx) -> Result<Status> {
    let text = match &args.value {
        Some(value) => value.clone(),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| Error::usage(format!("reading stdin: {e}")))?;
            text
        }
    };
    let key = parse(&text).map_err(Error::usage)?;
    match args.to {
        None => ctx.out.record(&all_public_forms(&key.public))?,
        Some(form) => {
            let mut text = render(&key, form)?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            ctx.out.write(text.as_bytes())?;
        }
    }
    Ok(Status::Success)
}

fn all_public_forms(public: &PeerId) -> Value {
    json!({
        "type": "identity",
        "id": public,
        "public_key": public.to_hex(),
        "public_key_b64": B64.encode(public.to_bytes()),
        "ssb_id": ssb_id(public),
        "openssh": openssh_line(public),
        "libp2p_id": libp2p::peer_id(&public.to_bytes()),
        "libp2p_cid": libp2p::cid(&public.to_bytes()),
    })
}

fn render(key: &Key, form: Form) -> Result<String> {
    let public = &key.public;
    let secret = || {
        key.secret.as_ref().ok_or_else(|| {
            Error::usage("that form holds the secret key, and the input is only a public key")
        })
    };
    Ok(match form {
        Form::Id => public.to_string(),
        Form::Hex => public.to_hex(),
        Form::Base64 => B64.encode(public.to_bytes()),
        Form::Ssb => ssb_id(public),
        Form::Openssh => openssh_line(public),
        Form::Libp2p => libp2p::peer_id(&public.to_bytes()),
        Form::Cid => libp2p::cid(&public.to_bytes()),
        Form::Identity => secret()?.secret_record().to_string(),
        Form::SsbSecret => ssb_secret_file(secret()?),
    })
}

fn ssb_id(public: &PeerId) -> String {
    format!("@{}.ed25519", B64.encode(public.to_bytes()))
}

fn openssh_blob(public: &PeerId) -> Vec<u8> {
    let mut blob = Vec::with_capacity(51);
    for part in [SSH_ED25519.as_bytes(), &public.to_bytes()[..]] {
        blob.extend_from_slice(&u32::try_from(part.len()).unwrap_or(0).to_be_bytes());
        blob.extend_from_slice(part);
    }
    blob
}

fn openssh_line(public: &PeerId) -> String {
    format!(
        "{SSH_ED25519} {} {public}",
        B64.encode(openssh_blob(public))
    )
}

fn ssb_secret_file(identity: &Identity) -> String {
    let public = identity.id();
    let mut keypair = identity.seed().to_vec();
    keypair.extend_from_slice(&public.to_bytes());
    let body = json!({
        "curve": "ed25519",
        "public": format!("{}.ed25519", B64.encode(public.to_bytes())),
        "private": format!("{}.ed25519", B64.encode(&keypair)),
        "id": ssb_id(&public),
    });
    let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
    format!(
        "# secure-scuttlebutt secret key, written by p2p-keygen convert.\n\
         # Whoever holds this file can act as {}.\n\
         # Keep it private and never share it.\n\
         \n{pretty}\n\
         \n# Your public id (safe to share): {}\n",
        ssb_id(&public),
        ssb_id(&public)
    )
}

/// Detects the form of `text` and reads the key in it.
fn parse(text: &str) -> Result<Key, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('#') {
        return parse_json(trimmed);
    }
    if let Some(rest) = trimmed.strip_prefix(SSH_ED25519) {
        return parse_openssh(rest).map(public_only);
    }
    if let Some(b64) = trimmed
        .strip_prefix('@')
        .and_then(|r| r.strip_suffix(".ed25519"))
    {
        return decode_public_b64(b64).map(public_only);
    }
    if trimmed.len() == 44 {
        return decode_public_b64(trimmed).map(public_only);
    }
    if trimmed.len() == 52 || trimmed.len() == 64 || libp2p::parse(trimmed).is_some() {
        return trimmed.parse::<PeerId>().map(public_only);
    }
    Err(format!(
        "cannot tell what '{}' is: expected a z-base-32 id, 64 hex digits, 44 base64 \
         characters, an ssb id, an OpenSSH public key line, a libp2p id (12D3KooW…, \
         k51…), or a JSON key record",
        preview(trimmed)
    ))
}

fn preview(text: &str) -> String {
    let first: String = text.chars().take(60).collect();
    if first.len() < text.len() {
        format!("{first}…")
    } else {
        first
    }
}

fn public_only(public: PeerId) -> Key {
    Key {
        public,
        secret: None,
    }
}

fn decode_public_b64(text: &str) -> Result<PeerId, String> {
    let bytes = B64
        .decode(text)
        .map_err(|e| format!("'{}' is not base64: {e}", preview(text)))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "a public key is 32 bytes".to_owned())?;
    PeerId::from_bytes(&bytes)
}

fn parse_openssh(rest: &str) -> Result<PeerId, String> {
    let b64 = rest
        .split_whitespace()
        .next()
        .ok_or("an OpenSSH key line needs its base64 blob")?;
    let blob = B64
        .decode(b64)
        .map_err(|e| format!("OpenSSH key blob is not base64: {e}"))?;
    let mut fields = Vec::new();
    let mut rest = &blob[..];
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let field = rest
            .get(4..4 + len)
            .ok_or("OpenSSH key blob is truncated")?;
        fields.push(field);
        rest = &rest[4 + len..];
    }
    match fields.as_slice() {
        [kind, key] if *kind == SSH_ED25519.as_bytes() && rest.is_empty() => {
            let key: [u8; 32] = (*key)
                .try_into()
                .map_err(|_| "an ed25519 key is 32 bytes")?;
            PeerId::from_bytes(&key)
        }
        _ => Err("not an ssh-ed25519 key blob".to_owned()),
    }
}

fn parse_json(text: &str) -> Result<Key, String> {
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let value: Value =
        serde_json::from_str(&body).map_err(|e| format!("not a JSON key record: {e}"))?;
    let Value::Object(object) = value else {
        return Err("not a JSON object".to_owned());
    };
    if object.contains_key("secret_key") {
        let identity = Identity::from_record(&object)?;
        return Ok(Key {
            public: identity.id(),
            secret: Some(identity),
        });
    }
    if let Some(private) = object.get("private").and_then(Value::as_str) {
        return parse_ssb_secret(private, object.get("public").and_then(Value::as_str));
    }
    if let Some(id) = object.get("id").and_then(Value::as_str) {
        return id.parse::<PeerId>().map(public_only);
    }
    Err(
        "a JSON key record needs secret_key (toolbox identity), private (ssb secret) or id"
            .to_owned(),
    )
}

fn parse_ssb_secret(private: &str, public: Option<&str>) -> Result<Key, String> {
    let b64 = private.strip_suffix(".ed25519").unwrap_or(private);
    let keypair = B64
        .decode(b64)
        .map_err(|e| format!("ssb private key is not base64: {e}"))?;
    let seed: [u8; 32] = keypair
        .get(..32)
        .and_then(|s| s.try_into().ok())
        .ok_or("ssb private key is shorter than 32 bytes")?;
    let identity = Identity::from_seed(seed);
    if keypair.len() == 64 && keypair[32..] != identity.id().to_bytes() {
        return Err("ssb private key's second half is not its public key".to_owned());
    }
    if let Some(public) = public {
        let claimed = decode_public_b64(public.strip_suffix(".ed25519").unwrap_or(public))?;
        if claimed != identity.id() {
            return Err("ssb public key does not match the private key".to_owned());
        }
    }
    Ok(Key {
        public: identity.id(),
        secret: Some(identity),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        let identity = Identity::from_seed([42; 32]);
        Key {
            public: identity.id(),
            secret: Some(identity),
        }
    }

    #[test]
    fn every_form_reads_back_to_the_same_key() {
        let key = key();
        for form in [
            Form::Id,
            Form::Hex,
            Form::Base64,
            Form::Ssb,
            Form::Openssh,
            Form::Libp2p,
            Form::Cid,
            Form::Identity,
            Form::SsbSecret,
        ] {
            let text = render(&key, form).unwrap();
            let back = parse(&text).unwrap_or_else(|e| panic!("{form:?}: {e}\n{text}"));
            assert_eq!(back.public, key.public, "{form:?}");
            let secret_form = matches!(form, Form::Identity | Form::SsbSecret);
            assert_eq!(
                back.secret.map(|s| s.seed()),
                secret_form.then_some([42; 32]),
                "{form:?}"
            );
        }
    }

    #[test]
    fn secret_forms_need_a_secret() {
        let public = public_only(key().public);
        assert!(render(&public, Form::Identity).is_err());
        assert!(render(&public, Form::SsbSecret).is_err());
    }

    #[test]
    fn garbage_is_named_in_the_error() {
        let err = parse("hello").err().unwrap();
        assert!(err.contains("'hello'"), "{err}");
        assert!(parse("ssh-rsa AAAA").is_err());
    }
}
