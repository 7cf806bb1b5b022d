//! Admitting a request: its declared body size against the limit, then
//! room in the buffered-bytes budget, then its body wrapped so that it
//! cannot grow past the limit or stall past the body timeout.

use crate::ServerSettings;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::{LengthLimitError, Limited};
use hyper::body::Body as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::timeout::TimeoutBody;

/// Why a request is answered without reaching the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The declared body is larger than `limit` bytes (nothing was read).
    BodyTooLarge { limit: usize },
    /// Too many requests in flight, or no room to buffer the body in time.
    Busy,
}

/// How a server answers a [`Rejection`] (the bbs: its protobuf error).
pub type Rejector = Arc<dyn Fn(Rejection) -> Response + Send + Sync>;

/// Plain text: 413 naming the limit, 503.
pub fn default_rejector() -> Rejector {
    Arc::new(|r| match r {
        Rejection::BodyTooLarge { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the limit of {limit} bytes\n"),
        )
            .into_response(),
        Rejection::Busy => (StatusCode::SERVICE_UNAVAILABLE, "server busy\n").into_response(),
    })
}

/// Whether reading a body failed because it passed the size limit (its
/// length was not declared, so it was cut while read).
pub fn is_body_too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cur = e.source();
    }
    false
}

pub(crate) struct Limits {
    max_body: usize,
    body_timeout: Duration,
    budget: Arc<Semaphore>,
    /// Whether bodies count against the budget (not when the app streams
    /// them elsewhere: uploads to disk, a proxy).
    buffered: bool,
    pub rejector: Rejector,
}

impl Limits {
    pub fn new(s: &ServerSettings, rejector: Rejector, buffered: bool) -> Limits {
        Limits {
            max_body: s.max_request_body_bytes,
            body_timeout: s.body_read_timeout.0,
            budget: Arc::new(Semaphore::new(permits(s.buffer_budget()) as usize)),
            buffered,
            rejector,
        }
    }

    /// The request with its body limited, and its share of the budget
    /// (held until the app has answered); or the rejection.
    pub async fn admit(
        &self,
        req: Request,
    ) -> Result<(Request, Option<OwnedSemaphorePermit>), Response> {
        let hint = req.body().size_hint();
        let declared = hint.exact().map(|n| n as usize);
        if let Some(n) = declared.filter(|n| *n > self.max_body) {
            tracing::info!(
                declared = n,
                limit = self.max_body,
                "request-body-too-large"
            );
            return Err((self.rejector)(Rejection::BodyTooLarge {
                limit: self.max_body,
            }));
        }
        // Unknown length: it may take up to the limit.
        let size = declared.unwrap_or(self.max_body);
        let permit = if size == 0 || !self.buffered {
            None
        } else {
            let wait = self.budget.clone().acquire_many_owned(permits(size));
            match tokio::time::timeout(self.body_timeout, wait).await {
                Ok(Ok(p)) => Some(p),
                _ => {
                    tracing::warn!(size, "request-body-budget-exhausted");
                    return Err((self.rejector)(Rejection::Busy));
                }
            }
        };
        let limit = self.max_body;
        let timeout = self.body_timeout;
        let req = req.map(|b| Body::new(Limited::new(TimeoutBody::new(timeout, b), limit)));
        Ok((req, permit))
    }
}

/// Bytes as semaphore permits (which count in u32).
fn permits(bytes: usize) -> u32 {
    bytes.min(Semaphore::MAX_PERMITS).min(u32::MAX as usize) as u32
}
