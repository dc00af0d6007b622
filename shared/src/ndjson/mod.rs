//! The NDJSON contract between the tools: the writer of stdout ([`output`]), the
//! line-numbered reader of stdin ([`input`]), the order-keeping parallel line map
//! ([`parallel`]), the typed records several tools emit ([`records`]) and signed peer
//! records ([`peer`]).

pub mod input;
pub mod output;
pub mod parallel;
pub mod peer;
pub mod records;
