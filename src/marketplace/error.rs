//! The one error type of the wire algorithms.

/// Why a wire algorithm could not produce its result.
///
/// Messages name the problem only: never key material, plaintext or input text.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The body is valid JSON but its top level is not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// The body is not valid JSON (or not UTF-8, or nested too deeply).
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A value that should be standard Base64 is not.
    #[error("invalid Base64")]
    Base64,
    /// A value has the wrong shape (too short, wrong IV length, unknown encryptType).
    #[error("invalid format: {0}")]
    Format(&'static str),
    /// A cryptographic operation failed (bad padding, wrong key, unreadable key).
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// A decrypted value is not UTF-8.
    #[error("decrypted value is not UTF-8")]
    Utf8,
}

impl WireError {
    /// Wraps a serde_json error by category and position only, so that no part
    /// of the input (which may hold secrets) ends up in a log line.
    pub(crate) fn json(e: &serde_json::Error) -> Self {
        WireError::Json(format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    }
}
