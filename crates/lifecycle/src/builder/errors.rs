//! The builder's failure texts and exit codes (Diego's `models.go`): Cloud
//! Controller turns the exit status into the staging error users see
//! (222 NoAppDetectedError, 223 BuildpackCompileFailed, 224
//! BuildpackReleaseFailed, ...), and the message is what the staging log
//! shows.

pub const DETECT_FAIL_MSG: &str = "None of the buildpacks detected a compatible application";
pub const COMPILE_FAIL_MSG: &str = "Failed to compile droplet";
pub const RELEASE_FAIL_MSG: &str = "Failed to build droplet release";
pub const SUPPLY_FAIL_MSG: &str = "Failed to run all supply scripts";
pub const NO_SUPPLY_SCRIPT_FAIL_MSG: &str = "Error: one of the buildpacks chosen to supply dependencies does not support multi-buildpack apps";
pub const MISSING_FINALIZE_WARN_MSG: &str = "Warning: the last buildpack is not compatible with multi-buildpack apps and cannot make use of any dependencies supplied by the buildpacks specified before it";
pub const FINALIZE_FAIL_MSG: &str = "Failed to run finalize script";

pub const DETECT_FAIL_CODE: i32 = 222;
pub const COMPILE_FAIL_CODE: i32 = 223;
pub const RELEASE_FAIL_CODE: i32 = 224;
pub const SUPPLY_FAIL_CODE: i32 = 225;
pub const FINALIZE_FAIL_CODE: i32 = 226;

/// A failure with a message and what caused it, printed as
/// "message: cause" (Diego's `descriptiveError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingError {
    pub message: String,
    pub cause: Option<Box<StagingError>>,
}

impl StagingError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            cause: None,
        }
    }

    /// `message` wrapping `cause`.
    pub fn wrap(cause: impl Into<StagingError>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            cause: Some(Box::new(cause.into())),
        }
    }

    /// The exit status for this failure. Like Diego's, it is found from the
    /// text, first match winning: so a finalize or supply failure of the
    /// final buildpack, which the build step wraps as "Failed to compile
    /// droplet: ...", exits 223 as it does with Diego's builder.
    pub fn exit_code(&self) -> i32 {
        let text = self.to_string();
        if text.contains(DETECT_FAIL_MSG) {
            DETECT_FAIL_CODE
        } else if text.contains(COMPILE_FAIL_MSG) {
            COMPILE_FAIL_CODE
        } else if text.contains(RELEASE_FAIL_MSG) {
            RELEASE_FAIL_CODE
        } else if text.contains(SUPPLY_FAIL_MSG) || text.contains(NO_SUPPLY_SCRIPT_FAIL_MSG) {
            SUPPLY_FAIL_CODE
        } else if text.contains(FINALIZE_FAIL_MSG) {
            FINALIZE_FAIL_CODE
        } else {
            1
        }
    }
}

impl std::fmt::Display for StagingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Some(c) => write!(f, "{}: {c}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for StagingError {}

impl From<std::io::Error> for StagingError {
    fn from(e: std::io::Error) -> Self {
        StagingError::new(e.to_string())
    }
}

impl From<String> for StagingError {
    fn from(s: String) -> Self {
        StagingError::new(s)
    }
}

impl From<&str> for StagingError {
    fn from(s: &str) -> Self {
        StagingError::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_message() {
        assert_eq!(StagingError::new(DETECT_FAIL_MSG).exit_code(), 222);
        let finalize = StagingError::wrap(
            StagingError::wrap("exit status 1", FINALIZE_FAIL_MSG),
            COMPILE_FAIL_MSG,
        );
        assert_eq!(
            finalize.to_string(),
            "Failed to compile droplet: Failed to run finalize script: exit status 1"
        );
        assert_eq!(finalize.exit_code(), 223);
        assert_eq!(
            StagingError::wrap("exit status 2", RELEASE_FAIL_MSG).exit_code(),
            224
        );
        assert_eq!(
            StagingError::wrap("exit status 1", SUPPLY_FAIL_MSG).exit_code(),
            225
        );
        assert_eq!(
            StagingError::new(NO_SUPPLY_SCRIPT_FAIL_MSG).exit_code(),
            225
        );
        assert_eq!(
            StagingError::wrap("exit status 1", FINALIZE_FAIL_MSG).exit_code(),
            226
        );
        assert_eq!(StagingError::new("disk full").exit_code(), 1);
    }
}
