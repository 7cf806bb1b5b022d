//! The API's errors: an HTTP status and Cloud Controller's error body
//! (`{"errors":[{"code","title","detail"}]}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use models::capi::{ApiError as WireError, ErrorBody};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but not acceptable (bad sizes, a taken name, ...).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is not the JSON the route takes.
    #[error("{0}")]
    BadRequest(String),
    /// Refused for now: another operation on the app is under way.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("no valid token: pass `Authorization: bearer TOKEN` (`diego dev` writes the CLI's to its config; see `diego api`)")]
    Unauthenticated,
    /// Diego (the BBS) refused or could not be reached.
    #[error("{0}")]
    Diego(String),
    #[error("{0}")]
    Internal(String),
    /// Too busy for the request now (the server's caps).
    #[error("{0}")]
    Unavailable(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn parts(&self) -> (StatusCode, u32, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, 10010, "CF-ResourceNotFound"),
            ApiError::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                10008,
                "CF-UnprocessableEntity",
            ),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, 1001, "CF-MessageParseError"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, 10008, "CF-Conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, 10008, "CF-TooLarge"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, 10002, "CF-NotAuthenticated"),
            ApiError::Diego(_) => (StatusCode::BAD_GATEWAY, 10001, "CF-RunnerError"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, 10001, "CF-ServerError"),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                10015,
                "CF-ServiceUnavailable",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            errors: vec![WireError {
                code,
                title: title.to_string(),
                detail: self.to_string(),
            }],
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Exists(m) => ApiError::Unprocessable(m),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<bbs_client::Error> for ApiError {
    fn from(e: bbs_client::Error) -> Self {
        ApiError::Diego(format!("the BBS: {e}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}
