//! Garden's error answer (garden's `errors.go`): a JSON object
//! `{"Type","Message","Handle","ProcessID"}`; 404 for an unknown container
//! (Type `ContainerNotFoundError`, the handle in `Handle`), 500 otherwise
//! (Type empty: the Go client turns it into a plain error with Message).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use garden::GardenError;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireError {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message: String,
    pub handle: String,
    #[serde(rename = "ProcessID")]
    pub process_id: String,
}

impl WireError {
    pub fn status(&self) -> StatusCode {
        match self.kind.as_str() {
            "ContainerNotFoundError" | "ProcessNotFoundError" => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Garden's ProcessNotFoundError (404, the id in `ProcessID`).
    pub fn process_not_found(id: &str) -> WireError {
        WireError {
            kind: "ProcessNotFoundError".into(),
            message: format!("unknown process: {id}"),
            handle: String::new(),
            process_id: id.into(),
        }
    }

    pub fn message(message: impl Into<String>) -> WireError {
        WireError {
            kind: String::new(),
            message: message.into(),
            handle: String::new(),
            process_id: String::new(),
        }
    }
}

impl From<GardenError> for WireError {
    fn from(e: GardenError) -> WireError {
        match e {
            GardenError::ContainerNotFound(handle) => WireError {
                kind: "ContainerNotFoundError".into(),
                message: format!("unknown handle: {handle}"),
                handle,
                process_id: String::new(),
            },
            other => WireError::message(other.to_string()),
        }
    }
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(message = %self.message, "garden-request-failed");
        }
        (status, crate::routes::json(&self)).into_response()
    }
}
