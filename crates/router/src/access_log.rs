//! The router's `RTR` lines: one per proxied request, in gorouter's access
//! log format, shipped to the app's logs on the log component (gorouter
//! emits them through its Loggregator agent with source type `RTR`, the
//! instance's index as instance id). Requests for unknown routes belong to
//! no app and are not shipped.

use crate::registry::AppInstance;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one request looked like, for its access line.
pub struct Request<'a> {
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub protocol: &'a str,
    pub started_ns: i64,
    pub bytes_received: usize,
    pub referer: &'a str,
    pub user_agent: &'a str,
    pub remote: Option<SocketAddr>,
    pub forwarded_for: &'a str,
    pub request_id: &'a str,
}

/// What came back.
pub struct Outcome<'a> {
    pub status: u16,
    /// The response's Content-Length (streamed bodies are not counted).
    pub bytes_sent: u64,
    pub backend: &'a str,
    pub response_time: Duration,
    pub router_error: &'a str,
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn quoted(s: &str) -> String {
    if s.is_empty() {
        "\"-\"".into()
    } else {
        format!("\"{}\"", s.replace('"', "\\\""))
    }
}

/// gorouter's access log line (`accesslog/schema.AccessLogRecord`).
pub fn line(req: &Request, out: &Outcome, app: &AppInstance) -> String {
    let (date, time, frac) = logs_client::envelope::utc(req.started_ns);
    format!(
        "{host} - [{date}T{time}.{frac:09}Z] \"{method} {path} {proto}\" {status} {rx} {tx} {referer} {ua} \
         {remote} {backend} x_forwarded_for:{xff} x_forwarded_proto:\"http\" vcap_request_id:{rid} \
         response_time:{rt:.9} gorouter_time:0.000000 app_id:{app_id} app_index:{idx} \
         instance_id:{iid} x_cf_routererror:{rerr}",
        host = req.host,
        method = req.method,
        path = req.path,
        proto = req.protocol,
        status = out.status,
        rx = req.bytes_received,
        tx = out.bytes_sent,
        referer = quoted(req.referer),
        ua = quoted(req.user_agent),
        remote = quoted(&req.remote.map(|r| r.to_string()).unwrap_or_default()),
        backend = quoted(out.backend),
        xff = quoted(req.forwarded_for),
        rid = quoted(req.request_id),
        rt = out.response_time.as_secs_f64(),
        app_id = quoted(&app.app_id),
        idx = quoted(&app.index),
        iid = quoted(&app.instance_id),
        rerr = quoted(out.router_error),
    )
}

/// Ships access lines of apps' requests; never waits (the sender's
/// bounded buffer drops and counts when the log component is away).
#[derive(Clone)]
pub struct AccessLog {
    pub sender: logs_client::Sender,
}

impl AccessLog {
    pub fn record(&self, req: &Request, out: &Outcome, app: &AppInstance) {
        if app.app_id.is_empty() {
            return;
        }
        let tags = HashMap::from([("origin".to_string(), "gorouter".to_string())]);
        let mut env = logs_client::envelope::log(
            &app.app_id,
            &app.index,
            "RTR",
            false,
            line(req, out, app),
            &tags,
        );
        env.timestamp = req.started_ns;
        self.sender.send(env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_gorouters() {
        let req = Request {
            host: "app.localhost",
            method: "GET",
            path: "/orders?x=1",
            protocol: "HTTP/1.1",
            started_ns: 1_700_000_000_123_456_789,
            bytes_received: 0,
            referer: "",
            user_agent: "curl/8",
            remote: Some("127.0.0.1:5000".parse().unwrap()),
            forwarded_for: "",
            request_id: "rid-1",
        };
        let out = Outcome {
            status: 200,
            bytes_sent: 12,
            backend: "10.0.0.1:61001",
            response_time: Duration::from_millis(5),
            router_error: "",
        };
        let app = AppInstance {
            app_id: "app-guid".into(),
            index: "2".into(),
            instance_id: "iid".into(),
        };
        assert_eq!(
            line(&req, &out, &app),
            "app.localhost - [2023-11-14T22:13:20.123456789Z] \"GET /orders?x=1 HTTP/1.1\" 200 0 12 \"-\" \
             \"curl/8\" \"127.0.0.1:5000\" \"10.0.0.1:61001\" x_forwarded_for:\"-\" x_forwarded_proto:\"http\" \
             vcap_request_id:\"rid-1\" response_time:0.005000000 gorouter_time:0.000000 app_id:\"app-guid\" \
             app_index:\"2\" instance_id:\"iid\" x_cf_routererror:\"-\""
        );
    }
}
