//! Cloud Controller v3's error body: `{"errors": [{code, title, detail}]}`
//! beside the HTTP status.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    /// Cloud Controller's numeric code (10008 unprocessable, 10010 not
    /// found, 10002 not authenticated, ...).
    pub code: u32,
    /// Cloud Controller's title, e.g. `CF-ResourceNotFound`.
    pub title: String,
    /// What went wrong and, where it helps, what to do.
    pub detail: String,
}

impl ErrorBody {
    /// The details, joined (what a CLI prints).
    pub fn detail(&self) -> String {
        self.errors
            .iter()
            .map(|e| e.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}
