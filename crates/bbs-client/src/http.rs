//! [`HttpBbsClient`]: Diego's protobuf-over-HTTP transport. Every call is
//! a request (POST on every route but the deprecated group stream) with a
//! protobuf body, `Content-Type: application/x-protobuf` and an
//! `X-Vcap-Request-Id` trace id; the BBS answers 200 with a protobuf
//! `*Response` whose field 1 is a Diego `Error`. Answers that are not
//! protobuf are mapped as Diego's client maps them: an
//! `X-Cf-Routererror` header → `RouterError`, 404 → `EndpointNotFound`
//! (`InvalidResponse` "... 404"), any other status > 299 →
//! `InvalidResponse`; a timeout → `Timeout`.
//!
//! Retries: Diego's client makes up to `Retries` (3) attempts of every
//! call, 500 ms apart, after any failure but an error inside a protobuf
//! answer. We keep the count and the pause but retry a call that changes
//! state only when it cannot have reached the BBS (the connection was
//! never made): after a timeout or a dropped answer a claim, crash or
//! desire may already have happened, and doing it twice is not the same
//! as doing it once. Reads (and the idempotent domain upsert) are retried
//! after any such failure. A 404 or an undecodable answer is not retried:
//! another attempt gets the same.

use crate::config::{ClientConfig, DEFAULT_RETRIES};
use crate::error::{invalid_response, Error};
use crate::events::EventStream;
use crate::list::ListDecoder;
use bytes::Bytes;
use cfhttp::{go_error_text, REQUEST_ID_HEADER};
use futures::StreamExt;
use models::bbs_routes::{self as routes, Route};
use models::ErrorType;
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const PROTO_CONTENT_TYPE: &str = "application/x-protobuf";
const ROUTER_ERROR_HEADER: &str = "x-cf-routererror";
/// Diego's pause between attempts of a call.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The BBS client over HTTP(S). Clones share one pool of connections.
#[derive(Clone)]
pub struct HttpBbsClient {
    base: Arc<str>,
    http: reqwest::Client,
    request_timeout: Option<Duration>,
    attempts: u32,
    stream_retry_interval: Duration,
    trace_id: Option<Arc<str>>,
}

/// Which failures another attempt may mend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// The request never left: safe for every call.
    NotSent,
    /// The BBS may have acted on it: only for idempotent calls.
    MaybeSent,
    /// Another attempt would fail the same way.
    Never,
}

struct Failure {
    error: Error,
    retry: Retry,
}

impl Failure {
    fn new(error: Error, retry: Retry) -> Failure {
        Failure { error, retry }
    }
}

/// Calls that may be repeated without changing the outcome.
fn idempotent(route: &Route) -> bool {
    const READS: &[Route] = &[
        routes::PING,
        routes::DOMAINS,
        routes::UPSERT_DOMAIN,
        routes::ACTUAL_LRPS,
        routes::ACTUAL_LRPS_BY_PROCESS_GUIDS,
        routes::ACTUAL_LRP_GROUPS,
        routes::ACTUAL_LRP_GROUPS_BY_PROCESS_GUID,
        routes::ACTUAL_LRP_GROUP_BY_PROCESS_GUID_AND_INDEX,
        routes::DESIRED_LRP_SCHEDULING_INFOS,
        routes::DESIRED_LRP_SCHEDULING_INFO_BY_PROCESS_GUID,
        routes::DESIRED_LRP_ROUTING_INFOS,
        routes::DESIRED_LRPS,
        routes::DESIRED_LRP_BY_PROCESS_GUID,
        routes::DESIRED_LRPS_R2,
        routes::DESIRED_LRP_BY_PROCESS_GUID_R2,
        routes::TASKS,
        routes::TASK_BY_GUID,
        routes::TASKS_R2,
        routes::TASK_BY_GUID_R2,
        routes::CELLS,
    ];
    READS.contains(route)
}

fn media_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn method(route: &Route) -> reqwest::Method {
    if route.method == "GET" {
        reqwest::Method::GET
    } else {
        reqwest::Method::POST
    }
}

/// A transport error as Diego's client reports it: timeouts are Diego
/// `Timeout` errors, everything else Go's `url.Error` text.
fn transport_failure(method: &reqwest::Method, url: &str, e: &reqwest::Error) -> Failure {
    let text = go_error_text(method, url, e);
    let error = if e.is_timeout() {
        Error::new(ErrorType::Timeout, text)
    } else {
        Error::Transport(text)
    };
    let retry = if e.is_connect() {
        Retry::NotSent
    } else {
        Retry::MaybeSent
    };
    Failure::new(error, retry)
}

impl HttpBbsClient {
    pub fn new(cfg: &ClientConfig) -> Result<HttpBbsClient, Error> {
        let http = cfhttp::Config {
            max_idle_conns_per_host: cfg.max_idle_conns_per_host,
            tls: cfg.tls.clone(),
            user_agent: cfg.user_agent.clone(),
            ..Default::default()
        }
        // One pool for calls and streams: the per-call timeout is set on
        // each call, streams get none.
        .streaming()
        .client()
        .map_err(|e| Error::Config(e.to_string()))?;
        Ok(HttpBbsClient {
            base: cfg.url.trim_end_matches('/').into(),
            http,
            request_timeout: cfg.request_timeout,
            attempts: if cfg.retries == 0 {
                DEFAULT_RETRIES
            } else {
                cfg.retries
            },
            stream_retry_interval: if cfg.retry_interval.is_zero() {
                Duration::from_secs(1)
            } else {
                cfg.retry_interval
            },
            trace_id: None,
        })
    }

    /// A plain-HTTP client of `url` with Diego's defaults.
    pub fn plain(url: &str) -> Result<HttpBbsClient, Error> {
        HttpBbsClient::new(&ClientConfig::new(url))
    }

    /// The same client (same connections) sending `trace_id` with every
    /// call instead of a fresh one per call, for callers carrying a
    /// request's trace through.
    pub fn with_trace_id(&self, trace_id: impl Into<String>) -> HttpBbsClient {
        HttpBbsClient {
            trace_id: Some(trace_id.into().into()),
            ..self.clone()
        }
    }

    /// The same client with another per-call timeout.
    pub fn with_request_timeout(&self, timeout: Option<Duration>) -> HttpBbsClient {
        HttpBbsClient {
            request_timeout: timeout,
            ..self.clone()
        }
    }

    /// The BBS's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn route_url(&self, route: &Route) -> String {
        format!("{}{}", self.base, route.path)
    }

    fn trace(&self) -> String {
        match &self.trace_id {
            Some(t) => t.to_string(),
            None => cfhttp::trace_id(),
        }
    }

    /// Runs `op` up to the configured attempts as the retry rule allows.
    async fn with_retries<T, F, Fut>(&self, route: &Route, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 1;
        loop {
            let failure = match op().await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let again = match failure.retry {
                Retry::NotSent => true,
                Retry::MaybeSent => idempotent(route),
                Retry::Never => false,
            };
            if !again || attempt >= self.attempts {
                return Err(failure.error);
            }
            tracing::debug!(route = route.name, attempt, error = %failure.error, "bbs-request-failed-retrying");
            attempt += 1;
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// One attempt: sends the request and checks what kind of answer came.
    async fn send(&self, route: &Route, body: Bytes) -> Result<Option<reqwest::Response>, Failure> {
        let url = self.route_url(route);
        let method = method(route);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::CONTENT_TYPE, PROTO_CONTENT_TYPE)
            .header(REQUEST_ID_HEADER, self.trace())
            .body(body);
        if let Some(t) = self.request_timeout {
            req = req.timeout(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_failure(&method, &url, &e))?;
        if let Some(v) = resp.headers().get(ROUTER_ERROR_HEADER) {
            let msg = String::from_utf8_lossy(v.as_bytes()).into_owned();
            return Err(Failure::new(
                Error::new(ErrorType::RouterError, msg),
                Retry::MaybeSent,
            ));
        }
        if media_type(&resp) == PROTO_CONTENT_TYPE {
            return Ok(Some(resp));
        }
        match resp.status().as_u16() {
            404 => Err(Failure::new(invalid_response(404), Retry::Never)),
            s if s > 299 => Err(Failure::new(invalid_response(s), Retry::MaybeSent)),
            // A 2xx without a protobuf body decodes as an empty answer.
            _ => Ok(None),
        }
    }

    /// Calls `route` and decodes its answer, leaving the answer's own
    /// `error` field to the caller (Diego's `doRequest`). The typed methods
    /// of [`crate::BbsClient`] are built on this; it is public for callers
    /// that need a raw answer (API tests, deprecated `.r2` routes).
    pub async fn request<Req: Message, Resp: Message + Default>(
        &self,
        route: &Route,
        req: Option<&Req>,
    ) -> Result<Resp, Error> {
        let body = Bytes::from(req.map(Message::encode_to_vec).unwrap_or_default());
        self.with_retries(route, || async {
            let Some(resp) = self.send(route, body.clone()).await? else {
                return Ok(Resp::default());
            };
            let bytes = resp.bytes().await.map_err(|e| {
                Failure::new(
                    Error::new(
                        ErrorType::InvalidResponse,
                        format!("failed to read body: {e}"),
                    ),
                    Retry::MaybeSent,
                )
            })?;
            Resp::decode(bytes.as_ref()).map_err(|e| {
                Failure::new(
                    Error::new(
                        ErrorType::InvalidProtobufMessage,
                        format!("failed to unmarshal proto: {e}"),
                    ),
                    Retry::Never,
                )
            })
        })
        .await
    }

    /// Calls a list route and decodes the items as their bytes arrive
    /// (see [`crate::list`]); answers them with the time spent decoding.
    pub async fn list_streaming<Req: Message, Item: Message + Default>(
        &self,
        route: &Route,
        req: &Req,
    ) -> Result<(Vec<Item>, Duration), Error> {
        let body = Bytes::from(req.encode_to_vec());
        self.with_retries(route, || async {
            let Some(resp) = self.send(route, body.clone()).await? else {
                return Ok((Vec::new(), Duration::ZERO));
            };
            let mut list = ListDecoder::default();
            let mut chunks = resp.bytes_stream();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| {
                    Failure::new(
                        Error::new(
                            ErrorType::InvalidResponse,
                            format!("failed to read body: {e}"),
                        ),
                        Retry::MaybeSent,
                    )
                })?;
                list.feed(&chunk)
                    .map_err(|e| Failure::new(e, Retry::Never))?;
            }
            list.finish().map_err(|e| Failure::new(e, Retry::Never))
        })
        .await
    }

    /// Opens an event stream with an `EventsByCellId` body, as go-sse
    /// connects: a failed connection or a 5xx answer is tried again after
    /// the retry interval, up to `retries` more times; any other answer
    /// but 200 fails.
    pub(crate) async fn subscribe(
        &self,
        route: &Route,
        cell_id: &str,
    ) -> Result<EventStream, Error> {
        let body = Bytes::from(
            models::EventsByCellId {
                cell_id: cell_id.to_string(),
            }
            .encode_to_vec(),
        );
        let url = self.route_url(route);
        let method = method(route);
        let mut failures = 0;
        loop {
            let sent = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .header(reqwest::header::CACHE_CONTROL, "no-cache")
                .body(body.clone())
                .send()
                .await;
            let error = match sent {
                Ok(resp) if resp.status() == reqwest::StatusCode::OK => {
                    return Ok(EventStream::from_response(resp))
                }
                Ok(resp) => {
                    let status = resp.status();
                    let error =
                        Error::Transport(format!("bad response from event source: {status}"));
                    if !matches!(status.as_u16(), 500 | 502 | 503 | 504) {
                        return Err(error);
                    }
                    error
                }
                Err(e) => transport_failure(&method, &url, &e).error,
            };
            failures += 1;
            if failures > self.attempts {
                return Err(error);
            }
            tracing::debug!(route = route.name, error = %error, "bbs-event-stream-retrying");
            tokio::time::sleep(self.stream_retry_interval).await;
        }
    }
}
