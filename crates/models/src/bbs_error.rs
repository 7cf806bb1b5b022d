//! Diego's error model: a typed `Error` travels inside every response message.

use crate::pb::error::Type as ErrorType;
use crate::pb::task::State as TaskState;
use crate::pb::Error;

/// An error as the BBS reports it: Diego's type and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BbsError {
    pub kind: ErrorType,
    pub message: String,
}

impl BbsError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn resource_not_found() -> Self {
        Self::new(
            ErrorType::ResourceNotFound,
            "the requested resource could not be found",
        )
    }
    pub fn resource_exists() -> Self {
        Self::new(
            ErrorType::ResourceExists,
            "the requested resource already exists",
        )
    }
    pub fn deadlock() -> Self {
        Self::new(ErrorType::Deadlock, "the request failed due to deadlock")
    }
    pub fn bad_request() -> Self {
        Self::new(ErrorType::InvalidRequest, "the request received is invalid")
    }
    pub fn unknown() -> Self {
        Self::new(
            ErrorType::UnknownError,
            "the request failed for an unknown reason",
        )
    }
    pub fn deserialize() -> Self {
        Self::new(ErrorType::Deserialize, "could not deserialize record")
    }
    pub fn cannot_be_claimed() -> Self {
        Self::new(
            ErrorType::ActualLrpCannotBeClaimed,
            "cannot claim actual LRP",
        )
    }
    pub fn cannot_be_started() -> Self {
        Self::new(
            ErrorType::ActualLrpCannotBeStarted,
            "cannot start actual LRP",
        )
    }
    pub fn cannot_be_crashed() -> Self {
        Self::new(
            ErrorType::ActualLrpCannotBeCrashed,
            "cannot crash actual LRP",
        )
    }
    pub fn cannot_be_failed() -> Self {
        Self::new(ErrorType::ActualLrpCannotBeFailed, "cannot fail actual LRP")
    }
    pub fn cannot_be_removed() -> Self {
        Self::new(
            ErrorType::ActualLrpCannotBeRemoved,
            "cannot remove actual LRP",
        )
    }
    pub fn cannot_be_unclaimed() -> Self {
        Self::new(
            ErrorType::ActualLrpCannotBeUnclaimed,
            "cannot unclaim actual LRP",
        )
    }
    /// A request whose fields failed validation; `message` lists the fields.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InvalidRequest, message)
    }
    pub fn task_transition(from: TaskState, to: TaskState) -> Self {
        Self::new(
            ErrorType::InvalidStateTransition,
            format!(
                "Cannot transition from {} to {}",
                from.as_str_name(),
                to.as_str_name()
            ),
        )
    }
    pub fn running_on_different_cell(expected: &str, actual: &str) -> Self {
        Self::new(
            ErrorType::RunningOnDifferentCell,
            format!("Running on cell {actual} not {expected}"),
        )
    }
    pub fn unrecoverable(err: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorType::Unrecoverable,
            format!("Unrecoverable Error: {err}"),
        )
    }

    /// Diego compares errors by type alone.
    pub fn same_kind(&self, other: &BbsError) -> bool {
        self.kind == other.kind
    }

    pub fn to_proto(&self) -> Error {
        Error {
            r#type: self.kind as i32,
            message: self.message.clone(),
        }
    }
}

impl From<Error> for BbsError {
    fn from(e: Error) -> Self {
        Self {
            kind: ErrorType::try_from(e.r#type).unwrap_or(ErrorType::UnknownError),
            message: e.message,
        }
    }
}

impl From<&BbsError> for Error {
    fn from(e: &BbsError) -> Self {
        e.to_proto()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn error_round_trips_through_protobuf_with_diego_numbers() {
        let e = BbsError::resource_not_found().to_proto();
        let bytes = e.encode_to_vec();
        // field 1 varint 13, field 2 the message
        assert_eq!(&bytes[..2], &[0x08, 13]);
        let back = BbsError::from(Error::decode(bytes.as_slice()).unwrap());
        assert_eq!(back, BbsError::resource_not_found());
    }

    #[test]
    fn task_transition_error_names_states() {
        let e = BbsError::task_transition(TaskState::Pending, TaskState::Resolving);
        assert_eq!(e.message, "Cannot transition from Pending to Resolving");
        assert_eq!(e.kind, ErrorType::InvalidStateTransition);
    }
}
