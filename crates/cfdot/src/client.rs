//! A BBS client speaking Diego's wire protocol the way Diego's Go client
//! does: every call is a `POST` of a protobuf body with
//! `Content-Type: application/x-protobuf` and an `X-Vcap-Request-Id` trace
//! id, answered by a protobuf `*Response` whose `error` field carries Diego
//! errors. Non-protobuf answers map to `InvalidResponse`, a
//! `X-Cf-Routererror` header to `RouterError`.

use std::time::Duration;

use prost::Message;

use crate::error::{go_os_error_text, BbsError, ClientError};
use crate::sse::SseStream;
use models::ErrorType;

const PROTO_CONTENT_TYPE: &str = "application/x-protobuf";
const ROUTER_ERROR_HEADER: &str = "x-cf-routererror";
const REQUEST_ID_HEADER: &str = "X-Vcap-Request-Id";

/// Where and how to reach the BBS.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub url: String,
    pub ca_cert_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub skip_cert_verify: bool,
    /// Request timeout in seconds; 0 means none.
    pub timeout_secs: u64,
}

/// Responses carrying a Diego `Error` in field 1.
pub trait WithError: Message + Default {
    fn take_error(&mut self) -> Option<models::Error>;
}

macro_rules! with_error {
    ($($t:ty),* $(,)?) => {$(
        impl WithError for $t {
            fn take_error(&mut self) -> Option<models::Error> {
                self.error.take()
            }
        }
    )*};
}

with_error!(
    models::DomainsResponse,
    models::UpsertDomainResponse,
    models::ActualLrPsResponse,
    models::ActualLrpGroupsResponse,
    models::ActualLrpGroupResponse,
    models::ActualLrpLifecycleResponse,
    models::DesiredLrPsResponse,
    models::DesiredLrpResponse,
    models::DesiredLrpSchedulingInfosResponse,
    models::DesiredLrpLifecycleResponse,
    models::TasksResponse,
    models::TaskResponse,
    models::TaskLifecycleResponse,
    models::CellsResponse,
);

pub struct BbsClient {
    base: String,
    http: reqwest::Client,
    streaming: reqwest::Client,
}

/// A fresh trace id as Diego makes them: a random UUID without dashes.
pub fn trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn read_file(path: &str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|e| ClientError::Other(format!("open {path}: {}", go_os_error_text(&e))))
}

fn builder(cfg: &ClientConfig) -> Result<reqwest::ClientBuilder, ClientError> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent("cfdot")
        .redirect(reqwest::redirect::Policy::limited(10));
    if cfg.url.starts_with("https") {
        if cfg.skip_cert_verify {
            b = b.danger_accept_invalid_certs(true);
        } else {
            let ca = read_file(&cfg.ca_cert_file)?;
            let certs = reqwest::Certificate::from_pem_bundle(&ca)
                .map_err(|e| ClientError::Other(format!("failed to load CA cert file: {e}")))?;
            if certs.is_empty() {
                return Err(ClientError::Other(
                    "unable to load CA certificate at ".to_string() + &cfg.ca_cert_file,
                ));
            }
            b = b.tls_built_in_root_certs(false);
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let mut pem = read_file(&cfg.cert_file)?;
        pem.push(b'\n');
        pem.extend(read_file(&cfg.key_file)?);
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
            ClientError::Other(format!(
                "failed to load keypair: {}",
                error_chain(&e).join(": ")
            ))
        })?;
        b = b.identity(id);
    }
    Ok(b)
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut v = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        v.push(s.to_string());
        cur = s.source();
    }
    v
}

impl BbsClient {
    pub fn new(cfg: &ClientConfig) -> Result<Self, ClientError> {
        let mut http = builder(cfg)?;
        if cfg.timeout_secs > 0 {
            http = http.timeout(Duration::from_secs(cfg.timeout_secs));
        }
        let http = http
            .build()
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let streaming = builder(cfg)?
            .build()
            .map_err(|e| ClientError::Other(e.to_string()))?;
        Ok(BbsClient {
            base: cfg.url.trim_end_matches('/').to_string(),
            http,
            streaming,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Go's wording of a transport failure (`Post "URL": ...`); timeouts
    /// become Diego `Timeout` errors as in Diego's client.
    fn transport_error(&self, method: &str, url: &str, e: &reqwest::Error) -> ClientError {
        let detail = describe(e, url);
        let text = format!("{method} \"{url}\": {detail}");
        if e.is_timeout() {
            ClientError::Bbs(BbsError::new(ErrorType::Timeout, text))
        } else {
            ClientError::Other(text)
        }
    }

    /// POSTs `req` to `path` and decodes the protobuf answer; the answer's
    /// Diego error (if any) becomes the `Err`.
    pub async fn call<Req: Message, Resp: WithError>(
        &self,
        path: &str,
        req: Option<&Req>,
    ) -> Result<Resp, ClientError> {
        let body = req.map(|r| r.encode_to_vec()).unwrap_or_default();
        let url = self.url(path);
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, PROTO_CONTENT_TYPE)
            .header(REQUEST_ID_HEADER, trace_id())
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error("Post", &url, &e))?;
        if let Some(v) = resp.headers().get(ROUTER_ERROR_HEADER) {
            let msg = String::from_utf8_lossy(v.as_bytes()).to_string();
            return Err(BbsError::new(ErrorType::RouterError, msg).into());
        }
        let status = resp.status().as_u16();
        if media_type(&resp) == PROTO_CONTENT_TYPE {
            let bytes = resp.bytes().await.map_err(|e| {
                ClientError::Bbs(BbsError::new(
                    ErrorType::InvalidResponse,
                    format!("failed to read body: {e}"),
                ))
            })?;
            let mut out = Resp::decode(bytes.as_ref()).map_err(|e| {
                ClientError::Bbs(BbsError::new(
                    ErrorType::InvalidProtobufMessage,
                    format!("failed to unmarshal proto: {e}"),
                ))
            })?;
            if let Some(err) = out.take_error() {
                return Err(ClientError::Bbs(err.into()));
            }
            return Ok(out);
        }
        if status > 299 {
            return Err(BbsError::new(
                ErrorType::InvalidResponse,
                format!("Invalid Response with status code: {status}"),
            )
            .into());
        }
        Ok(Resp::default())
    }

    /// Opens an event stream (`text/event-stream`) on `path` with an
    /// `EventsByCellId` body, as Diego's client subscribes.
    pub async fn subscribe(
        &self,
        method: reqwest::Method,
        path: &str,
        cell_id: &str,
    ) -> Result<SseStream, ClientError> {
        let body = models::EventsByCellId {
            cell_id: cell_id.to_string(),
        }
        .encode_to_vec();
        let url = self.url(path);
        let name = if method == reqwest::Method::GET {
            "Get"
        } else {
            "Post"
        };
        let resp = self
            .streaming
            .request(method, &url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(name, &url, &e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(ClientError::Other(format!("bad response code: {status}")));
        }
        Ok(SseStream::new(resp))
    }
}

fn media_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// A transport error in Go's words where we can tell (`dial tcp ADDR:
/// connect: connection refused`), else reqwest's error chain.
pub(crate) fn describe(e: &reqwest::Error, url: &str) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            let addr = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| {
                    let host = u.host_str()?.to_string();
                    let port = u.port_or_known_default()?;
                    Some(format!("{host}:{port}"))
                })
                .unwrap_or_default();
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return format!("dial tcp {addr}: connect: connection refused");
            }
        }
        cur = err.source();
    }
    if e.is_timeout() {
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            .to_string();
    }
    let chain = error_chain(e);
    if chain.len() > 1 {
        chain[1..].join(": ")
    } else {
        chain[0].clone()
    }
}
