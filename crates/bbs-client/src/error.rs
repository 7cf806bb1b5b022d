//! The client's error: a Diego `models.Error` (the BBS's own answer, or one
//! the client makes where Diego's client does), or a transport failure in
//! Go's words.

use models::ErrorType;

/// Why a BBS call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A Diego error, shown as Go's `models.Error.Error()` shows it: the
    /// message alone. The type number is kept as sent, known or not.
    #[error("{}", .0.message)]
    Bbs(models::Error),
    /// The BBS could not be reached or the exchange broke off
    /// (`Post "URL": dial tcp ...: connect: connection refused`).
    #[error("{0}")]
    Transport(String),
    /// The client could not be set up (unreadable TLS material).
    #[error("{0}")]
    Config(String),
}

/// Diego's `InvalidResponseMessage`.
pub(crate) fn invalid_response(status: u16) -> Error {
    Error::new(
        ErrorType::InvalidResponse,
        format!("Invalid Response with status code: {status}"),
    )
}

impl Error {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Error {
        Error::Bbs(models::Error {
            r#type: kind as i32,
            message: message.into(),
        })
    }

    /// The Diego error type (None for transport failures; an unknown
    /// number reads as `UnknownError`).
    pub fn error_type(&self) -> Option<ErrorType> {
        match self {
            Error::Bbs(e) => Some(ErrorType::try_from(e.r#type).unwrap_or(ErrorType::UnknownError)),
            Error::Transport(_) | Error::Config(_) => None,
        }
    }

    /// Whether this is a Diego error of type `kind` (Diego compares errors
    /// by type).
    pub fn is(&self, kind: ErrorType) -> bool {
        matches!(self, Error::Bbs(e) if e.r#type == kind as i32)
    }

    /// Diego's `EndpointNotFoundErr`: a 404 that is not a protobuf answer,
    /// from a BBS too old to know the route.
    pub fn is_endpoint_not_found(&self) -> bool {
        *self == invalid_response(404)
    }

    /// The Diego error, if this is one.
    pub fn bbs_error(&self) -> Option<&models::Error> {
        match self {
            Error::Bbs(e) => Some(e),
            Error::Transport(_) | Error::Config(_) => None,
        }
    }
}

impl From<models::Error> for Error {
    fn from(e: models::Error) -> Self {
        Error::Bbs(e)
    }
}

impl From<models::BbsError> for Error {
    fn from(e: models::BbsError) -> Self {
        Error::Bbs(e.to_proto())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diego_errors_compare_by_type_and_show_their_message() {
        let e: Error = models::BbsError::resource_not_found().into();
        assert!(e.is(ErrorType::ResourceNotFound));
        assert_eq!(e.error_type(), Some(ErrorType::ResourceNotFound));
        assert_eq!(e.to_string(), "the requested resource could not be found");
        assert!(invalid_response(404).is_endpoint_not_found());
        assert!(!invalid_response(500).is_endpoint_not_found());
        let odd = Error::Bbs(models::Error {
            r#type: 99,
            message: "x".into(),
        });
        assert_eq!(odd.error_type(), Some(ErrorType::UnknownError));
        assert_eq!(Error::Transport("t".into()).error_type(), None);
    }
}
