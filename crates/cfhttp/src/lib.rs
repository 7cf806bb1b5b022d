//! The HTTP client every API client here is built on, as Diego's `cfhttp`
//! builds Go's: one pooled client per purpose (keep-alive connections
//! reused across calls), a 5 s dial timeout, idle connections dropped
//! after 90 s, an optional whole-request timeout (none for streams), TLS
//! from [`tlsconfig`]. Transport failures are worded as Go's `net/http`
//! words them ([`go_error_text`]), since operators and Diego's tools know
//! those texts.

use std::time::Duration;

/// Diego's trace header (`trace.RequestIdHeader`).
pub const REQUEST_ID_HEADER: &str = "X-Vcap-Request-Id";

/// A fresh trace id as Diego makes them: a random UUID without dashes.
pub fn trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// How a client connects (`cfhttp.NewClient`'s options).
#[derive(Debug, Clone)]
pub struct Config {
    /// Bounds a whole request, answer included; None for streams.
    pub request_timeout: Option<Duration>,
    pub dial_timeout: Duration,
    pub idle_conn_timeout: Duration,
    /// TCP keep-alive probes (streams keep long-idle connections).
    pub tcp_keepalive: Option<Duration>,
    /// Idle connections kept per host (None: the library's default).
    pub max_idle_conns_per_host: Option<usize>,
    /// TLS for `https` URLs (None: plain HTTP only).
    pub tls: Option<tlsconfig::ClientTls>,
    pub user_agent: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            request_timeout: None,
            dial_timeout: Duration::from_secs(5),
            idle_conn_timeout: Duration::from_secs(90),
            tcp_keepalive: None,
            max_idle_conns_per_host: None,
            tls: None,
            user_agent: None,
        }
    }
}

impl Config {
    /// `WithStreamingDefaults`: no request timeout, TCP keep-alive 30 s.
    pub fn streaming(mut self) -> Config {
        self.request_timeout = None;
        self.tcp_keepalive = Some(Duration::from_secs(30));
        self
    }

    pub fn with_request_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.request_timeout = timeout;
        self
    }

    /// The pooled client.
    pub fn client(&self) -> Result<reqwest::Client, tlsconfig::Error> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.dial_timeout)
            .pool_idle_timeout(self.idle_conn_timeout)
            .tcp_nodelay(true)
            .tcp_keepalive(self.tcp_keepalive);
        if let Some(t) = self.request_timeout {
            b = b.timeout(t);
        }
        if let Some(n) = self.max_idle_conns_per_host {
            b = b.pool_max_idle_per_host(n);
        }
        if let Some(ua) = &self.user_agent {
            b = b.user_agent(ua.clone());
        }
        if let Some(tls) = &self.tls {
            let mut cfg = tls.client_config()?;
            // reqwest is built without HTTP/2 here: offer HTTP/1.1 only.
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            b = b.use_preconfigured_tls(cfg);
        }
        b.build()
            .map_err(|e| tlsconfig::Error::Tls(format!("building the HTTP client: {e}")))
    }
}

/// A transport failure as Go's client reports it: `Post "URL": dial tcp
/// HOST:PORT: connect: connection refused`, `... context deadline
/// exceeded (Client.Timeout exceeded while awaiting headers)`, else the
/// causes reqwest gives.
pub fn go_error_text(method: &reqwest::Method, url: &str, e: &reqwest::Error) -> String {
    format!("{} \"{url}\": {}", go_method(method), describe(e, url))
}

/// Go spells methods in `url.Error` with only the first letter upper.
fn go_method(m: &reqwest::Method) -> String {
    let s = m.as_str();
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_string() + &chars.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The cause part of [`go_error_text`].
pub fn describe(e: &reqwest::Error, url: &str) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return format!("dial tcp {}: connect: connection refused", host_port(url));
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

fn host_port(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_default()
}

/// An error and its causes, outermost first.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut v = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        v.push(s.to_string());
        cur = s.source();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_and_timed_out_calls_read_as_go_reports_them() {
        // A port nothing listens on: bind, learn it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/v1/ping");
        let client = Config::default().client().unwrap();
        let e = client.post(&url).send().await.unwrap_err();
        assert_eq!(
            go_error_text(&reqwest::Method::POST, &url, &e),
            format!("Post \"{url}\": dial tcp 127.0.0.1:{port}: connect: connection refused")
        );

        // A listener that never answers: the request timeout fires.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/state", silent.local_addr().unwrap());
        let client = Config::default()
            .with_request_timeout(Some(Duration::from_millis(200)))
            .client()
            .unwrap();
        let e = client.get(&url).send().await.unwrap_err();
        assert_eq!(
            go_error_text(&reqwest::Method::GET, &url, &e),
            format!("Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
        );
    }

    #[test]
    fn trace_ids_are_32_hex_digits() {
        let t = trace_id();
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(t, trace_id());
    }

    #[test]
    fn unreadable_tls_material_fails_the_build() {
        let cfg = Config {
            tls: Some(tlsconfig::ClientTls::from_files(
                "/nonexistent/ca.crt",
                "",
                "",
            )),
            ..Default::default()
        };
        assert_eq!(
            cfg.client().unwrap_err().to_string(),
            "open /nonexistent/ca.crt: no such file or directory"
        );
    }
}
