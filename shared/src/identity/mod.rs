//! Who a peer is: the ed25519 key pair and its file ([`key`]), peer ids in z-base-32
//! ([`peer_id`]) and in libp2p's forms ([`libp2p`], over [`base_x`]), keys in other
//! projects' encodings ([`other_encodings`]), RFC 8785 canonical JSON ([`canonical`]),
//! signatures over JSON objects ([`signing`]), JSON parsed for them with duplicate
//! keys refused ([`strict`]) and sealed boxes for one recipient ([`seal`]).

pub mod base_x;
pub mod canonical;
pub mod key;
pub mod libp2p;
pub mod other_encodings;
pub mod peer_id;
pub mod seal;
pub mod signing;
pub mod strict;

pub use key::{Identity, IdentityArgs, default_path};
