//! Identities: an ed25519 key pair stored as one JSON object,
//! `{"type":"identity","id":…,"public_key":…,"secret_key":…}` (the secret is the
//! 32-byte seed, hex).
//!
//! Files are written atomically with mode 0600, never overwritten without `--force`,
//! and, as ssh does, not read when others can read them unless the user says so.
//! Lookup order: `-i/--identity FILE`, `$P2P_IDENTITY`,
//! `$XDG_CONFIG_HOME/p2p/identity.json` (or `~/.config/p2p/identity.json`).

use crate::identity::peer_id::PeerId;
use crate::{Context, Error, Result, random};
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde_json::{Map, Value, json};
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An ed25519 key pair: this peer's identity.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.id())
    }
}

impl Identity {
    /// A new random identity.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_seed(random::bytes()?))
    }

    /// The identity with this 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Identity {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The peer id (public key).
    pub fn id(&self) -> PeerId {
        PeerId::from_key(self.key.verifying_key())
    }

    /// The 32-byte secret seed.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The signing key, for protocols that sign with it directly.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs `message` with ed25519.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message)
    }

    /// The public identity record: `type`, `id`, `public_key` (hex).
    pub fn public_record(&self) -> Value {
        let id = self.id();
        json!({"type": "identity", "id": id, "public_key": id.to_hex()})
    }

    /// The secret identity record, as stored in identity files.
    pub fn secret_record(&self) -> Value {
        let mut record = self.public_record();
        record["secret_key"] = Value::String(hex::encode(self.seed()));
        record
    }

    /// Reads an identity record; it must hold `secret_key`, and `id`/`public_key`,
    /// when present, must match it.
    pub fn from_record(record: &Map<String, Value>) -> Result<Self, String> {
        if let Some(kind) = record.get("type")
            && kind != "identity"
        {
            return Err(format!("a record of type {kind}, not an identity"));
        }
        let secret = record
            .get("secret_key")
            .and_then(Value::as_str)
            .ok_or("no secret_key (this is a public identity record)")?;
        let seed: [u8; 32] = hex::decode(secret)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("secret_key is not 64 hex digits")?;
        let identity = Identity::from_seed(seed);
        let id = identity.id();
        if let Some(claimed) = record.get("id").and_then(Value::as_str)
            && claimed != id.to_string()
        {
            return Err(format!(
                "id {claimed} does not match secret_key (which is {id})"
            ));
        }
        if let Some(claimed) = record.get("public_key").and_then(Value::as_str)
            && !claimed.eq_ignore_ascii_case(&id.to_hex())
        {
            return Err("public_key does not match secret_key".to_owned());
        }
        Ok(identity)
    }

    /// Parses the text of an identity file.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("not a JSON identity record: {e}"))?;
        let Value::Object(map) = value else {
            return Err("not a JSON object".to_owned());
        };
        Self::from_record(&map)
    }

    /// Loads an identity file, refusing one that others can read unless
    /// `allow_readable`.
    pub fn load(path: &Path, allow_readable: bool) -> Result<Self> {
        let shown = path.display();
        let (meta, text) = read_small_file(path, MAX_KEY_FILE)
            .map_err(|e| Error::usage(format!("cannot read identity file {shown}: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && !allow_readable {
            return Err(Error::usage(format!(
                "identity file {shown} is accessible by others (mode {mode:03o}); \
                 run `chmod 600 {shown}`, or pass --allow-readable-key"
            )));
        }
        Self::from_json(&text).map_err(|e| Error::usage(format!("identity file {shown}: {e}")))
    }

    /// Writes the secret record to `path` atomically with mode 0600; refuses to
    /// replace an existing file unless `force`.
    pub fn save(&self, path: &Path, force: bool) -> Result<()> {
        let shown = path.display();
        if !force && path.exists() {
            return Err(Error::usage(format!(
                "{shown} already exists; pass --force to overwrite it"
            )));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let suffix = hex::encode(random::bytes::<6>()?);
        let file_name = path
            .file_name()
            .map_or_else(|| "identity".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));
        let write = || -> Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut text = serde_json::to_vec(&self.secret_record())
                .map_err(|e| Error::failure(e.to_string()))?;
            text.push(b'\n');
            file.write_all(&text)?;
            file.sync_all()?;
            if force {
                fs::rename(&tmp, path)?;
            } else {
                // A hard link fails if the target appeared meanwhile: no clobbering.
                fs::hard_link(&tmp, path)?;
                fs::remove_file(&tmp)?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            e.context(format!("writing identity file {shown}"))
        })
    }
}

/// The largest identity file read (one is about 200 bytes).
pub const MAX_KEY_FILE: u64 = 16 * 1024;

/// Reads a small secret file: only a regular file (never a FIFO, device or
/// directory, which could hang or never end) of at most `max` bytes, checked on the
/// opened file. Returns its metadata and text.
pub fn read_small_file(path: &Path, max: u64) -> std::io::Result<(fs::Metadata, String)> {
    use std::io::{Error as IoError, ErrorKind, Read};
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular = || IoError::new(ErrorKind::InvalidInput, "not a regular file");
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    // Non-blocking, so that a FIFO swapped in after the check cannot hang the open.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > max {
        return Err(IoError::new(
            ErrorKind::InvalidData,
            format!("{} bytes, more than the {max} allowed", meta.len()),
        ));
    }
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(IoError::new(
            ErrorKind::InvalidData,
            "the file grew while being read",
        ));
    }
    Ok((meta, text))
}

/// Where an identity is found when `-i` and `$P2P_IDENTITY` are absent.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("p2p").join("identity.json"))
}

/// The identity options every tool that signs takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IdentityArgs {
    /// Identity file [default: $XDG_CONFIG_HOME/p2p/identity.json]
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "FILE",
        env = "P2P_IDENTITY",
        hide_env_values = true
    )]
    pub identity: Option<PathBuf>,
    /// Read the identity file even if others can read it
    #[arg(long, env = "P2P_ALLOW_READABLE_KEY", value_parser = clap::builder::BoolishValueParser::new(), hide_env_values = true)]
    pub allow_readable_key: bool,
}

impl IdentityArgs {
    /// The identity file to use, following the lookup order.
    pub fn path(&self) -> Result<PathBuf> {
        if let Some(path) = &self.identity {
            return Ok(path.clone());
        }
        default_path().ok_or_else(|| {
            Error::usage("no identity: pass -i FILE or set P2P_IDENTITY (create one with `p2p-keygen new -o FILE`)")
        })
    }

    /// Loads the identity, with a hint on how to make one when there is none.
    pub fn load(&self) -> Result<Identity> {
        let path = self.path()?;
        if self.identity.is_none() && !path.exists() {
            return Err(Error::usage(format!(
                "no identity: pass -i FILE, set P2P_IDENTITY, or create {} with `p2p-keygen new -o {}`",
                path.display(),
                path.display()
            )));
        }
        Identity::load(&path, self.allow_readable_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, tests 1 to 3: secret seed, public key, message, signature.
    #[test]
    fn rfc8032_test_vectors() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ];
        for (secret, public, message, signature) in vectors {
            let seed: [u8; 32] = hex::decode(secret).unwrap().try_into().unwrap();
            let identity = Identity::from_seed(seed);
            assert_eq!(identity.id().to_hex(), public);
            let message = hex::decode(message).unwrap();
            let sig = identity.sign(&message);
            assert_eq!(hex::encode(sig.to_bytes()), signature);
            assert!(identity.id().key().verify_strict(&message, &sig).is_ok());
        }
    }

    #[test]
    fn records_round_trip_and_check_consistency() {
        let id = Identity::from_seed([7; 32]);
        let Value::Object(record) = id.secret_record() else {
            panic!()
        };
        assert_eq!(Identity::from_record(&record).unwrap().id(), id.id());
        let mut forged = record.clone();
        forged.insert(
            "id".into(),
            Identity::from_seed([8; 32]).id().to_string().into(),
        );
        assert!(
            Identity::from_record(&forged)
                .unwrap_err()
                .contains("does not match")
        );
        let Value::Object(public) = id.public_record() else {
            panic!()
        };
        assert!(
            Identity::from_record(&public)
                .unwrap_err()
                .contains("no secret_key")
        );
    }

    #[test]
    fn save_is_0600_and_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key.json");
        let first = Identity::from_seed([1; 32]);
        first.save(&path, false).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = Identity::from_seed([2; 32]);
        let err = second.save(&path, false).unwrap_err();
        assert!(err.message().contains("--force"), "{err}");
        assert_eq!(Identity::load(&path, false).unwrap().id(), first.id());
        second.save(&path, true).unwrap();
        assert_eq!(Identity::load(&path, false).unwrap().id(), second.id());
        let leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "temporary files left behind");
    }

    #[test]
    fn refuses_a_key_file_others_can_read_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        Identity::from_seed([3; 32]).save(&path, false).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::load(&path, false).unwrap_err();
        assert!(err.message().contains("mode 644"), "{err}");
        assert!(Identity::load(&path, true).is_ok());
    }
}
