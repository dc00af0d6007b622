//! The command line of `p2p-keygen`.

use clap::{Parser, Subcommand, ValueEnum};
use p2p_shared::addr::Addr;
use p2p_shared::identity::IdentityArgs;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::input::InputOptions;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples ($PEER_ID is a peer's id, here the one of key.json):
  p2p-keygen new -o ~/.config/p2p/identity.json    # make your identity
  p2p-keygen new | tee bob.json | p2p-keygen id    # secret record to a file, public one shown
  echo '{\"type\":\"message\",\"text\":\"hi\"}' | p2p-keygen sign -i key.json | p2p-keygen verify
  p2p-keygen peer --addr udp://192.0.2.1:4000 --topic chat
  echo secret | p2p-keygen seal --to \"$PEER_ID\" | p2p-keygen open -i key.json
  p2p-keygen convert '@iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=.ed25519' --to id";

/// Make and read ed25519 identities; sign, verify, seal and open NDJSON lines.
///
/// Peer ids are ed25519 public keys in z-base-32 (52 characters). Signatures cover
/// the RFC 8785 canonical JSON of a record without its `sig` field.
#[derive(Debug, Parser)]
#[command(name = "p2p-keygen", version, after_help = EXAMPLES)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new identity (secret record to stdout, or to a 0600 file with -o)
    New(NewArgs),
    /// Print the public identity record (id, public_key) of an identity
    Id(IdArgs),
    /// Print a signed peer record for this identity
    Peer(PeerArgs),
    /// Sign each NDJSON object on stdin (adds `signer` and `sig`)
    Sign(SignArgs),
    /// Pass through validly signed lines; report the others by line number
    Verify(VerifyArgs),
    /// Encrypt stdin to a peer id, as one `sealed` NDJSON record
    Seal(SealArgs),
    /// Decrypt `sealed` records from stdin with this identity
    Open(OpenArgs),
    /// Convert a key between z-base-32, hex, base64, ssb, OpenSSH and libp2p forms
    Convert(ConvertArgs),
}

/// `p2p-keygen new`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  p2p-keygen new -o alice.json\n  p2p-keygen new > bob.json && chmod 600 bob.json"
)]
pub struct NewArgs {
    /// Write the identity to FILE (mode 0600) and print only its public record
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Derive the identity from this 32-byte secret seed (64 hex digits) instead of
    /// the system's random source
    #[arg(long, value_name = "HEX")]
    pub seed: Option<String>,
}

/// `p2p-keygen id`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reads the identity from -i FILE; without -i, from a secret identity \
record on stdin when stdin is not a terminal, then from $P2P_IDENTITY and the default path.\n\n\
Examples:\n  p2p-keygen id -i key.json\n  p2p-keygen new | p2p-keygen id"
)]
pub struct IdArgs {
    /// Identity file
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Read the identity file even if others can read it
    #[arg(long, env = "P2P_ALLOW_READABLE_KEY", value_parser = clap::builder::BoolishValueParser::new(), hide_env_values = true)]
    pub allow_readable_key: bool,
}

/// `p2p-keygen peer`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
p2p-keygen peer -i key.json --addr udp://192.0.2.1:4000 --addr tcp://[2001:db8::1]:4000 \\\n      \
--topic chat")]
pub struct PeerArgs {
    /// An address of this peer (udp://IP:PORT, tcp://…, quic://…, relay://…); repeatable
    #[arg(long = "addr", value_name = "ADDR", required = true)]
    pub addrs: Vec<Addr>,
    /// The topic this peer is interested in
    #[arg(long)]
    pub topic: Option<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `p2p-keygen sign`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  p2p-keygen sign -i key.json < lines.ndjson > signed.ndjson")]
pub struct SignArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub input: InputOptions,
    /// Worker threads [default: one per core]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `p2p-keygen verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A line verifies when its `sig` is a valid signature, by the key named in \
`signer` (or a peer record's `id`), over the RFC 8785 canonical form of the line without `sig`.\n\
Exit status: 0 all lines verified, 1 some failed verification, 2 some were not JSON objects.\n\n\
Examples ($PEER_ID is the id of key.json):\n  \
p2p-keygen sign -i key.json < lines.ndjson > signed.ndjson\n  \
p2p-keygen verify --signer \"$PEER_ID\" < signed.ndjson"
)]
pub struct VerifyArgs {
    /// Accept only signatures by this peer id
    #[arg(long, value_name = "PEER_ID")]
    pub signer: Option<PeerId>,
    #[command(flatten)]
    pub input: InputOptions,
    /// Worker threads [default: one per core]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `p2p-keygen seal`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples ($PEER_ID is the id of key.json):\n  \
tar c dir | p2p-keygen seal --to \"$PEER_ID\" > dir.sealed")]
pub struct SealArgs {
    /// The recipient's peer id (z-base-32 or hex)
    #[arg(long, value_name = "PEER_ID")]
    pub to: PeerId,
    /// Largest accepted input, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_bytes: u64,
}

/// `p2p-keygen open`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes the plaintext of each sealed record on stdin, in order.\n\n\
Examples ($PEER_ID is the id of key.json):\n  \
tar c dir | p2p-keygen seal --to \"$PEER_ID\" > dir.sealed\n  \
p2p-keygen open -i key.json < dir.sealed | tar x"
)]
pub struct OpenArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub input: InputOptions,
}

/// `p2p-keygen convert`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Input forms (detected): z-base-32 peer id, 64 hex digits (a public \
key), 44 base64 characters, an ssb id (@….ed25519), an OpenSSH public key line, a libp2p \
Ed25519 peer id (12D3KooW…) or its CIDv1 (k51…), a toolbox identity record, an ssb secret \
file (# comments allowed).\n\n\
Without --to, prints an identity record with every public form. Secret forms (--to identity, \
--to ssb-secret) need a secret input.\n\n\
Examples:\n  p2p-keygen convert --to openssh < key.json > key.pub   # an OpenSSH public key line\n  \
p2p-keygen convert \"$(cat key.pub)\" --to id\n  \
p2p-keygen convert --to ssb-secret < key.json > secret   # an ssb secret file, and back:\n  \
p2p-keygen convert --to identity < secret > ssb-key.json"
)]
pub struct ConvertArgs {
    /// The key to convert [default: read stdin]
    pub value: Option<String>,
    /// Print just this form, as plain text
    #[arg(long, value_enum, value_name = "FORM")]
    pub to: Option<Form>,
}

/// The forms `convert --to` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Form {
    /// z-base-32 peer id
    Id,
    /// public key, hex
    Hex,
    /// public key, base64
    Base64,
    /// secure-scuttlebutt id, @BASE64.ed25519
    Ssb,
    /// OpenSSH public key line
    Openssh,
    /// libp2p peer id, 12D3KooW…
    Libp2p,
    /// libp2p peer id as a CIDv1 (base36), k51…
    Cid,
    /// toolbox identity record, with the secret (needs a secret input)
    Identity,
    /// ssb secret file (needs a secret input)
    SsbSecret,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tool's definition with the toolbox-wide flags added (which includes all of
    /// its own) passes clap's consistency checks.
    #[test]
    fn command_is_well_formed() {
        p2p_shared::cli::entry::command::<Args>().debug_assert();
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems =
            p2p_shared::cli::vocabulary::check(&p2p_shared::cli::entry::command::<Args>());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
