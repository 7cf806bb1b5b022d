//! The routes Garden serves on hijacked connections (garden's
//! `routes/routes.go`: Run, Attach, Stdout, Stderr). httpserve hands us
//! such a connection raw (see [`httpserve::Hijack`]); here its request
//! head and body are read (httparse), and the answer is written the way
//! Go's server writes it before `Hijack`: the status line and headers
//! (Go's `WriteHeader` then `Hijack` flushes `Content-Type`, `Date` and
//! `Transfer-Encoding: chunked`, and nothing after is chunk-framed), then
//! the route's own protocol on the socket ([`crate::run`]).

use crate::error::WireError;
use crate::routes::AppState;
use httpserve::{Prefixed, RawIo, ServerSettings};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest request head read.
const MAX_HEAD: usize = 64 * 1024;

pub struct Hijacker {
    pub state: Arc<AppState>,
    pub settings: ServerSettings,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Run { handle: String },
    Attach { handle: String, pid: String },
    Output { stream_id: String, stderr: bool },
}

/// The hijacked routes, by method and path (query ignored).
pub fn route(method: &str, target: &str) -> Option<Route> {
    let path = target.split('?').next().unwrap_or_default();
    let segs: Vec<String> = path
        .strip_prefix('/')?
        .split('/')
        .map(percent_decode)
        .collect::<Option<_>>()?;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method, s.as_slice()) {
        ("POST", ["containers", h, "processes"]) => Some(Route::Run {
            handle: h.to_string(),
        }),
        ("GET", ["containers", h, "processes", pid]) => Some(Route::Attach {
            handle: h.to_string(),
            pid: pid.to_string(),
        }),
        (
            "GET",
            ["containers", _, "processes", _, "attaches", sid, out @ ("stdout" | "stderr")],
        ) => Some(Route::Output {
            stream_id: sid.to_string(),
            stderr: *out == "stderr",
        }),
        _ => None,
    }
}

/// A path segment with `%XX` escapes decoded (rata escapes its params).
pub(crate) fn percent_decode(seg: &str) -> Option<String> {
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl httpserve::Hijack for Hijacker {
    fn wants(&self, method: &str, target: &str) -> bool {
        route(method, target).is_some()
    }

    fn serve(&self, io: RawIo) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let (state, settings) = (self.state.clone(), self.settings.clone());
        Box::pin(async move { serve(state, settings, io).await })
    }
}

/// A request as read off the connection.
pub struct Request {
    pub route: Route,
    pub body: Vec<u8>,
}

async fn serve(state: Arc<AppState>, settings: ServerSettings, mut io: RawIo) {
    let (req, rest) = match read_request(&mut io, &settings).await {
        Ok(r) => r,
        Err(e) => {
            // The head or body did not come whole: answered in Garden's
            // form, as Go's readRequest failing would be.
            let _ = write_error(&mut io, &e).await;
            drain(&mut io).await;
            return;
        }
    };
    let io: RawIo = Box::new(Prefixed::new(rest, io));
    crate::run::serve(state, req, io).await;
}

/// Reads the head (within the header timeout) and a Content-Length body
/// (at most `max_request_body_bytes`, each read within the body timeout);
/// also what the client sent after it.
async fn read_request(io: &mut RawIo, s: &ServerSettings) -> Result<(Request, Vec<u8>), WireError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head = async {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let route = route(req.method.unwrap_or(""), req.path.unwrap_or(""))
                        .ok_or_else(|| WireError::message("not a hijacked route"))?;
                    let mut length = 0usize;
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or_else(|| WireError::message("invalid Content-Length"))?;
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err(WireError::message(
                                "a chunked request body is not supported here: send Content-Length",
                            ));
                        }
                    }
                    return Ok((route, len, length));
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
                Ok(httparse::Status::Partial) => {
                    return Err(WireError::message("request head too large"))
                }
                Err(e) => return Err(WireError::message(format!("malformed request: {e}"))),
            }
            match io.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return Err(WireError::message("connection closed in the request head")),
            }
        }
    };
    let (route, head_len, length) = tokio::time::timeout(s.header_read_timeout.0, head)
        .await
        .map_err(|_| WireError::message("request head timed out"))??;
    if length > s.max_request_body_bytes {
        return Err(WireError::message(format!(
            "request body of {length} bytes is over the limit of {}",
            s.max_request_body_bytes
        )));
    }
    while buf.len() < head_len + length {
        match tokio::time::timeout(s.body_read_timeout.0, io.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return Err(WireError::message("request body did not come whole")),
        }
    }
    let rest = buf.split_off(head_len + length);
    let body = buf.split_off(head_len);
    Ok((Request { route, body }, rest))
}

/// The status line and headers Go's server flushes on `Hijack` after
/// `WriteHeader(status)`: handler headers, then `Date`, then
/// `Transfer-Encoding: chunked` (announced, never applied: the bytes after
/// are the route's own). Go's client needs that header: `http.ReadResponse`
/// takes a response with neither a length nor chunking as closing, and
/// `httputil.ClientConn.Do` then fails with ErrPersistEOF before the
/// client can hijack.
pub fn hijacked_head(status: u16, content_type: Option<&str>) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if let Some(ct) = content_type {
        h.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    h.push_str(&format!(
        "Date: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now())
    ));
    h.into_bytes()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        404 => "Not Found",
        _ => "Internal Server Error",
    }
}

/// An error answered as Go's writeError does (JSON body with its
/// length), then the connection closes. No `Connection: close`: Go's
/// `httputil.ClientConn` would answer ErrPersistEOF instead of the error.
pub async fn write_error<W: AsyncWrite + Unpin>(w: &mut W, e: &WireError) -> std::io::Result<()> {
    let status = e.status().as_u16();
    if status >= 500 {
        tracing::warn!(message = %e.message, "garden-request-failed");
    }
    let mut body = serde_json::to_vec(e).unwrap_or_default();
    body.push(b'\n');
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nDate: {}\r\nContent-Length: {}\r\n\r\n",
        reason(status),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body.len()
    );
    w.write_all(head.as_bytes()).await?;
    w.write_all(&body).await?;
    w.shutdown().await
}

/// Reads what is left so a close does not reset the connection (the
/// client may still be sending).
pub async fn drain<R: AsyncRead + Unpin>(r: &mut R) {
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), async {
        while matches!(r.read(&mut scratch).await, Ok(n) if n > 0) {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("POST", "/containers/a%20b/processes"),
            Some(Route::Run {
                handle: "a b".into()
            })
        );
        assert_eq!(
            route("GET", "/containers/a/processes/p1?x=1"),
            Some(Route::Attach {
                handle: "a".into(),
                pid: "p1".into()
            })
        );
        assert_eq!(
            route("GET", "/containers/a/processes/p1/attaches/7/stderr"),
            Some(Route::Output {
                stream_id: "7".into(),
                stderr: true
            })
        );
        assert_eq!(route("GET", "/containers/a/processes"), None);
        assert_eq!(route("PUT", "/containers/a/processes/p1"), None);
        assert_eq!(route("GET", "/containers/a/info"), None);
    }

    #[tokio::test]
    async fn errors_have_a_length_and_no_connection_close() {
        let mut out = Vec::new();
        write_error(&mut out, &WireError::process_not_found("p"))
            .await
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nDate: ")
        );
        assert!(
            head.ends_with(&format!("\r\nContent-Length: {}", body.len())),
            "{head}"
        );
        assert!(!head.contains("Connection"));
        assert_eq!(
            body,
            "{\"Type\":\"ProcessNotFoundError\",\"Message\":\"unknown process: p\",\"Handle\":\"\",\"ProcessID\":\"p\"}\n"
        );
    }

    #[test]
    fn head_matches_gos_bytes() {
        let h = String::from_utf8(hijacked_head(201, Some("application/json"))).unwrap();
        assert!(h.starts_with("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nDate: "));
        assert!(h.ends_with(" GMT\r\nTransfer-Encoding: chunked\r\n\r\n"));
    }
}
