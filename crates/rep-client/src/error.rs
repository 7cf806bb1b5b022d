//! Why a rep call failed, in the words of Diego's rep client.

/// A failed rep call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The rep could not be reached or the exchange broke off, in Go's
    /// words (`Get "URL": dial tcp ...: connect: connection refused`).
    #[error("{0}")]
    Transport(String),
    /// `/state`, `/work` and the local routes answered another status
    /// than the expected one.
    #[error("unexpected status code: {0}")]
    UnexpectedStatus(u16),
    /// A stop, cancel or update was not accepted (202).
    #[error("http error: status code {0} ({reason})", reason = status_text(*.0))]
    NotAccepted(u16),
    /// The answer was not the JSON expected.
    #[error("{0}")]
    Decode(String),
    /// No usable address for the cell (Diego's `pickURL` errors).
    #[error("{0}")]
    Address(String),
    /// The factory could not be set up (unreadable TLS material).
    #[error("{0}")]
    Config(String),
}

/// Go's `http.StatusText`.
fn status_text(code: u16) -> &'static str {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}
