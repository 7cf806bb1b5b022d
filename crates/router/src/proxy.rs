//! Proxies requests by Host header (port stripped) to a registered
//! endpoint, round-robin. Unknown hosts get 404 as gorouter answers them;
//! an endpoint that cannot be reached gets 502, after retries on other
//! endpoints: for idempotent requests three attempts in all, as gorouter;
//! for any request whose endpoint refused the connection or did not
//! accept it within the dial timeout (nothing reached the app), every endpoint of the route, so a scale-down that leaves
//! several stopped endpoints registered for a moment fails no request.
//! An endpoint that sends a response head and dies before its body counts
//! as one that hung up: nothing has reached the client yet.

use crate::access_log::{self, AccessLog};
use crate::registry::{AppInstance, Registry};
use axum::body::{Body, Bytes, HttpBody as _};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Attempts per idempotent request when endpoints fail (gorouter's three).
const MAX_ATTEMPTS: usize = 3;

/// How long a response head waits for its body's first bytes before it
/// is passed on alone (a streaming response, such as server-sent events).
const FIRST_FRAME_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Buffered request bodies are capped: the dev router is not for uploads.
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct Proxy {
    pub registry: Arc<Registry>,
    client: Client<HttpConnector, Full<Bytes>>,
    access_log: Option<AccessLog>,
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

fn text(status: StatusCode, body: String, router_error: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("X-Cf-Routererror", HeaderValue::from_static(router_error));
    r
}

impl Proxy {
    pub fn new(registry: Arc<Registry>, dial_timeout: std::time::Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(dial_timeout));
        Self {
            registry,
            client: Client::builder(TokioExecutor::new()).build(connector),
            access_log: None,
        }
    }

    /// Apps' requests also leave RTR lines in their logs.
    pub fn with_access_log(mut self, log: Option<AccessLog>) -> Self {
        self.access_log = log;
        self
    }

    /// Proxies `req` and, for an app's route, ships its access line.
    pub async fn handle(
        &self,
        mut req: Request<Body>,
        remote: Option<SocketAddr>,
    ) -> Response<Body> {
        let Some(log) = &self.access_log else {
            return self.proxy(req).await.0;
        };
        let started_ns = access_log::now_ns();
        let started = Instant::now();
        // gorouter's request id, passed on to the app.
        let request_id = match req.headers().get("X-Vcap-Request-Id") {
            Some(v) => v.to_str().unwrap_or("").to_string(),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                if let Ok(v) = HeaderValue::from_str(&id) {
                    req.headers_mut().insert("X-Vcap-Request-Id", v);
                }
                id
            }
        };
        // Read in a block: a reference to the request (its body is not
        // Sync) must not live across the await below.
        let (referer, user_agent, xff, bytes_received, method, path, protocol) = {
            let h = |name: header::HeaderName| -> String {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            (
                h(header::REFERER),
                h(header::USER_AGENT),
                h(header::HeaderName::from_static("x-forwarded-for")),
                h(header::CONTENT_LENGTH).parse().unwrap_or(0),
                req.method().to_string(),
                req.uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string(),
                format!("{:?}", req.version()),
            )
        };
        let host = host_of(&req);
        let (resp, picked) = self.proxy(req).await;
        if let Some((backend, app)) = picked {
            let router_error = resp
                .headers()
                .get("X-Cf-Routererror")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let bytes_sent = resp
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            log.record(
                &access_log::Request {
                    host: &host,
                    method: &method,
                    path: &path,
                    protocol: &protocol,
                    started_ns,
                    bytes_received,
                    referer: &referer,
                    user_agent: &user_agent,
                    remote,
                    forwarded_for: &xff,
                    request_id: &request_id,
                },
                &access_log::Outcome {
                    status: resp.status().as_u16(),
                    bytes_sent,
                    backend: &backend,
                    response_time: started.elapsed(),
                    router_error,
                },
                &app,
            );
        }
        resp
    }

    /// The response, and the endpoint that answered (or failed last).
    async fn proxy(&self, req: Request<Body>) -> (Response<Body>, Option<(String, AppInstance)>) {
        let host = host_of(&req);
        let hostname = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let (parts, body) = req.into_parts();
        let Some(picked) = self.registry.pick(hostname, &[]) else {
            let r = text(
                StatusCode::NOT_FOUND,
                format!("404 Not Found: Requested route ('{hostname}') does not exist.\n"),
                "unknown_route",
            );
            return (r, None);
        };
        let first = picked.addr.clone();
        let mut answered = Some((picked.addr, picked.app));
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                let r = text(StatusCode::PAYLOAD_TOO_LARGE, String::new(), "too_large");
                return (r, answered);
            }
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut tried: Vec<String> = Vec::new();
        let mut addr = first;
        loop {
            match self
                .forward(&parts.method, &parts.headers, &path, &addr, body.clone())
                .await
            {
                Ok(r) => return (r, answered),
                Err(e) => {
                    tracing::warn!(host = hostname, endpoint = addr, error = %e, "backend-failed");
                    self.registry.endpoint_failed(hostname, &addr);
                    tried.push(addr);
                    // A refused connection tries every endpoint not tried
                    // yet (the one that failed may be unregistered by now,
                    // so no count of the pool bounds it; `pick` does).
                    let retry =
                        refused(&e) || (idempotent(&parts.method) && tried.len() < MAX_ATTEMPTS);
                    let excluded: Vec<&str> = tried.iter().map(String::as_str).collect();
                    let next = retry
                        .then(|| self.registry.pick(hostname, &excluded))
                        .flatten();
                    let Some(next) = next else { break };
                    addr = next.addr.clone();
                    answered = Some((next.addr, next.app));
                }
            }
        }
        let r = text(
            StatusCode::BAD_GATEWAY,
            "502 Bad Gateway: Registered endpoint failed to handle the request.\n".into(),
            "endpoint_failure",
        );
        (r, answered)
    }

    async fn forward(
        &self,
        method: &Method,
        headers: &HeaderMap,
        path: &str,
        addr: &str,
        body: Bytes,
    ) -> anyhow::Result<Response<Body>> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("http://{addr}{path}"))
            .body(Full::new(body))?;
        for (k, v) in headers {
            if !HOP_BY_HOP.contains(&k.as_str()) {
                req.headers_mut().append(k.clone(), v.clone());
            }
        }
        req.headers_mut()
            .insert("X-Forwarded-Proto", HeaderValue::from_static("http"));
        let resp = self.client.request(req).await?;
        let (mut parts, mut body) = resp.into_parts();
        for h in HOP_BY_HOP {
            parts.headers.remove(h);
        }
        // The response head goes out with the body's first bytes, so an
        // endpoint that dies between head and body would cost the client
        // its connection with nothing said. Waiting briefly for the first
        // frame turns that into a failed attempt, retried like a hang-up.
        let first = if body.is_end_stream() {
            None
        } else {
            match tokio::time::timeout(FIRST_FRAME_WAIT, body.frame()).await {
                Ok(Some(Ok(frame))) => Some(frame),
                Ok(Some(Err(e))) => return Err(e.into()),
                // Ended, or a slow (streaming) body passed on as it comes.
                Ok(None) | Err(_) => None,
            }
        };
        let frames = futures::stream::iter(first.map(Ok))
            .chain(BodyStream::new(body))
            .map_err(axum::Error::new);
        Ok(Response::from_parts(
            parts,
            Body::new(StreamBody::new(frames)),
        ))
    }
}

/// Whether the endpoint could not be connected to at all, so the request
/// never reached it and may go to another whatever its method.
fn refused(e: &anyhow::Error) -> bool {
    e.downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|e| e.is_connect())
}

/// The request's Host (port and all), as gorouter logs it.
fn host_of(req: &Request<Body>) -> String {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("")
        .to_string()
}
