//! Proxies requests by Host header (port stripped) to a registered
//! endpoint, round-robin. Unknown hosts get 404 as gorouter answers them;
//! an endpoint that cannot be reached gets 502, after one retry on another
//! endpoint for idempotent requests (so scaling down never fails a GET).

use crate::registry::Registry;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;

/// Buffered request bodies are capped: the dev router is not for uploads.
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct Proxy {
    pub registry: Arc<Registry>,
    client: Client<HttpConnector, Full<Bytes>>,
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
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host())
            .unwrap_or("")
            .to_string();
        let hostname = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let (parts, body) = req.into_parts();
        let Some(first) = self.registry.next(hostname, None) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("404 Not Found: Requested route ('{hostname}') does not exist.\n"),
                "unknown_route",
            );
        };
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, String::new(), "too_large"),
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        match self
            .forward(&parts.method, &parts.headers, &path, &first, body.clone())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(host = hostname, endpoint = first, error = %e, "backend-failed");
                let retry = idempotent(&parts.method)
                    .then(|| self.registry.next(hostname, Some(&first)))
                    .flatten();
                if let Some(second) = retry {
                    match self
                        .forward(&parts.method, &parts.headers, &path, &second, body)
                        .await
                    {
                        Ok(r) => return r,
                        Err(e) => {
                            tracing::warn!(host = hostname, endpoint = second, error = %e, "backend-failed")
                        }
                    }
                }
                text(
                    StatusCode::BAD_GATEWAY,
                    "502 Bad Gateway: Registered endpoint failed to handle the request.\n".into(),
                    "endpoint_failure",
                )
            }
        }
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
        let (mut parts, body) = resp.into_parts();
        for h in HOP_BY_HOP {
            parts.headers.remove(h);
        }
        Ok(Response::from_parts(
            parts,
            Body::new(body.map_err(axum::Error::new)),
        ))
    }
}
