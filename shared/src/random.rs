//! Random bytes from the operating system.

use crate::{Error, Result};

/// Returns `N` bytes from the operating system's random source.
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::failure(format!("reading the system's random source: {e}")))?;
    Ok(buf)
}
