//! How a cfdot run fails: the message printed after `Error: ` and the exit
//! code, following cfdot's conventions (`commands/cfdot_error.go`,
//! `main.go`):
//!
//! * 3 — validation of flags/arguments (usage is printed too), and any
//!   flag-parsing error whose text mentions "invalid argument";
//! * 4 — an error the BBS (or the BBS client) reported as a Diego `Error`;
//! * 5 — any other failure while talking to the BBS;
//! * 255 — everything else (cobra-level errors such as unknown flags).

/// How cfdot shows a Diego error: `BBS error`, the type's number and Go
/// name (`Error_Type.String()`: the number again when it has no name),
/// the message.
fn bbs_error_text(e: &models::Error) -> String {
    let name = match models::ErrorType::try_from(e.r#type) {
        Ok(t) => t.as_str_name().to_string(),
        Err(_) => e.r#type.to_string(),
    };
    format!(
        "BBS error\nType {}: {name}\nMessage: {}",
        e.r#type, e.message
    )
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
    pub fn run(err: bbs_client::Error) -> Self {
        let (message, exit_code) = match &err {
            bbs_client::Error::Bbs(e) => (bbs_error_text(e), 4),
            other => (other.to_string(), 5),
        };
        Failure {
            message,
            exit_code,
            usage: false,
        }
    }

    /// A plain (non-Diego) run-time error: exit 5, no usage.
    pub fn other(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            exit_code: 5,
            usage: false,
        }
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

pub use tlsconfig::go_os_error_text;
