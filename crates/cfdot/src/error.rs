//! How a cfdot run fails: the message printed after `Error: ` and the exit
//! code, following cfdot's conventions (`commands/cfdot_error.go`,
//! `main.go`):
//!
//! * 3 — validation of flags/arguments (usage is printed too), and any
//!   flag-parsing error whose text mentions "invalid argument";
//! * 4 — an error the BBS (or the BBS client) reported as a Diego `Error`;
//! * 5 — any other failure while talking to the BBS;
//! * 255 — everything else (cobra-level errors such as unknown flags).

use std::fmt;

/// A Diego `Error` as the BBS client surfaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BbsError {
    pub kind: i32,
    pub message: String,
}

impl BbsError {
    pub fn new(kind: models::ErrorType, message: impl Into<String>) -> Self {
        BbsError {
            kind: kind as i32,
            message: message.into(),
        }
    }

    /// The Go name of the error type (`Error_Type.String()`): the enum
    /// value's name, or the number itself when it has none.
    pub fn type_name(&self) -> String {
        match models::ErrorType::try_from(self.kind) {
            Ok(t) => t.as_str_name().to_string(),
            Err(_) => self.kind.to_string(),
        }
    }
}

impl From<models::Error> for BbsError {
    fn from(e: models::Error) -> Self {
        BbsError {
            kind: e.r#type,
            message: e.message,
        }
    }
}

impl fmt::Display for BbsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BBS error\nType {}: {}\nMessage: {}",
            self.kind,
            self.type_name(),
            self.message
        )
    }
}

/// Errors of the client layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// A Diego error (from the response or synthesised by the client).
    Bbs(BbsError),
    /// Transport and other failures, worded like Go's errors.
    Other(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Bbs(e) => e.fmt(f),
            ClientError::Other(s) => f.write_str(s),
        }
    }
}

impl From<BbsError> for ClientError {
    fn from(e: BbsError) -> Self {
        ClientError::Bbs(e)
    }
}

/// A failed cfdot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Printed as `Error: <message>` on stderr.
    pub message: String,
    pub exit_code: i32,
    /// Whether the command's usage follows the error (cobra does this
    /// unless the command silenced it, as cfdot does for run-time errors).
    pub usage: bool,
}

impl Failure {
    /// `NewCFDotValidationError`: exit 3, with usage.
    pub fn validation(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            exit_code: 3,
            usage: true,
        }
    }

    /// `NewCFDotError`: exit 4 for Diego errors, 5 otherwise; no usage.
    pub fn run(err: ClientError) -> Self {
        let exit_code = match err {
            ClientError::Bbs(_) => 4,
            ClientError::Other(_) => 5,
        };
        Failure {
            message: err.to_string(),
            exit_code,
            usage: false,
        }
    }

    /// A plain (non-Diego) run-time error: exit 5, no usage.
    pub fn other(message: impl Into<String>) -> Self {
        Failure::run(ClientError::Other(message.into()))
    }

    /// An error cobra itself returns (flag parsing, unknown commands):
    /// exit 3 when it mentions "invalid argument", else 255.
    pub fn cobra(message: impl Into<String>, usage: bool) -> Self {
        let message = message.into();
        let exit_code = if message.contains("invalid argument") {
            3
        } else {
            255
        };
        Failure {
            message,
            exit_code,
            usage,
        }
    }
}

/// Go's wording of an OS error (`open x: no such file or directory`): the
/// C library's text, lower-cased at the start, without Rust's `(os error N)`.
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
