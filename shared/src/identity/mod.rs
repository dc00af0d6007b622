//! Who a peer is: the ed25519 key pair and its file ([`key`]), peer ids in z-base-32
//! ([`peer_id`]), RFC 8785 canonical JSON ([`canonical`]), signatures over JSON
//! objects ([`signing`]), JSON parsed for them with duplicate keys refused ([`strict`])
//! and sealed boxes for one recipient ([`seal`]).

pub mod canonical;
pub mod key;
pub mod peer_id;
pub mod seal;
pub mod signing;
pub mod strict;

pub use key::{Identity, IdentityArgs, default_path};
