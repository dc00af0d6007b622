//! Exit statuses and the one error type every tool returns.
//!
//! The statuses are the toolbox's contract with scripts: 0 success, 1 the operation
//! failed (nothing found, verification failed, connection failed), 2 usage or input
//! error, 3 timed out. Only the entry point (`cli::entry::main`) turns them into a process exit code.

use std::fmt;
use std::io;

/// What a tool's run ended with; the numeric value is the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Everything asked for was done.
    Success = 0,
    /// The operation failed: nothing found, verification failed, connection failed.
    Failure = 1,
    /// The command line or the input was wrong.
    Usage = 2,
    /// A deadline passed before the operation finished.
    Timeout = 3,
}

impl Status {
    /// The process exit code for this status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The more severe of two statuses (a higher code is more severe).
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }
}

/// An error that carries the exit status it should end the tool with.
#[derive(Debug)]
pub struct Error {
    status: Status,
    message: String,
    broken_pipe: bool,
}

/// The toolbox's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with the given status and message.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Error {
            status,
            message: message.into(),
            broken_pipe: false,
        }
    }

    /// The operation failed (exit status 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Status::Failure, message)
    }

    /// Bad usage or bad input (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Status::Usage, message)
    }

    /// A deadline passed (exit status 3).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(Status::Timeout, message)
    }

    /// The exit status this error ends the tool with.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The human message, without the tool's name.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the error is (or wraps) a write to a closed pipe, which ends a tool
    /// quietly with status 0 as `head` expects.
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }

    /// Prefixes the message with what was being done.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error {
            status: Status::Failure,
            broken_pipe: err.kind() == io::ErrorKind::BrokenPipe,
            message: err.to_string(),
        }
    }
}

/// Adds what was being done to an error, keeping its status.
pub trait Context<T> {
    /// Prefixes the error's message with `what`.
    fn context(self, what: impl fmt::Display) -> Result<T>;
    /// Prefixes the error's message with the result of `what`, computed only on error.
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let err: Result<()> = Err(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        let err = err.unwrap_err();
        assert!(err.is_broken_pipe());
        assert!(err.message().starts_with("writing: "));
    }

    #[test]
    fn worst_status_is_the_highest_code() {
        assert_eq!(Status::Failure.worst(Status::Usage), Status::Usage);
        assert_eq!(Status::Success.worst(Status::Failure), Status::Failure);
        assert_eq!(Status::Timeout.code(), 3);
    }
}
