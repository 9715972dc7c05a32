//! The library's error type.

use thiserror::Error;

/// A parameter that failed validation: which key, and what is wrong with it.
///
/// `key` is relative to the configuration block that was checked (e.g. `dim` inside a data
/// set entry); callers that know where the block came from prefix it with their own path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The offending key, relative to the checked block.
    pub key: String,
    /// What is wrong, in words, listing valid choices where there are any.
    pub message: String,
}

impl ParamError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Everything that can go wrong in the library.
#[derive(Debug, Error)]
pub enum Error {
    /// A configuration that did not pass validation (all its errors).
    #[error("invalid configuration: {}", join(.0))]
    InvalidConfig(Vec<ParamError>),
    /// A backend that this build does not include, or whose device is absent.
    #[error("backend `{name}` is not available: {reason}")]
    BackendUnavailable {
        /// The backend's name.
        name: String,
        /// Why it cannot be used, and what can.
        reason: String,
    },
    /// A tensor operation failed on the device (reading data back, dtype conversion…).
    #[error("tensor operation failed: {0}")]
    Tensor(String),
    /// A linear-algebra step failed (e.g. a covariance that is not positive definite).
    #[error("linear algebra: {0}")]
    LinearAlgebra(String),
    /// A thread pool could not be started.
    #[error("cannot start a thread pool: {0}")]
    ThreadPool(String),
    /// A checkpoint that cannot be read or does not fit its configuration.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An external method's command failed: a non-zero exit, a timeout, or outputs that are
    /// missing, misshapen or not finite.
    #[error("external method: {0}")]
    External(String),
    /// Training was abandoned because the caller asked (see `Progress::stop_requested`).
    #[error("interrupted after step {step}")]
    Interrupted {
        /// The last optimiser step taken.
        step: usize,
    },
}

fn join(errors: &[ParamError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Turns a list of validation errors into `Ok(())` when empty.
pub fn check(errors: Vec<ParamError>) -> Result<(), Error> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidConfig(errors))
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
