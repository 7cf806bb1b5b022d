//! Why TLS material could not be used, worded as Diego's `tlsconfig`
//! words it, so operators see the messages they know.

/// A TLS set-up failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A file could not be read: `open PATH: no such file or directory`.
    #[error("open {path}: {reason}")]
    Read { path: String, reason: String },
    /// A PEM input held no item of the kind asked for, or bad PEM.
    #[error("{0}")]
    Pem(String),
    /// A certificate could not be used.
    #[error("{0}")]
    Certificate(String),
    /// The certificate and key do not make a usable identity.
    #[error("failed to load keypair: {0}")]
    Keypair(String),
    /// rustls refused the configuration.
    #[error("{0}")]
    Tls(String),
}

/// Go's wording of an OS error: the C library's text, lower-cased at the
/// start, without Rust's `(os error N)`.
pub fn go_os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => s,
    }
}
