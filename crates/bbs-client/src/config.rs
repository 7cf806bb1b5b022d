//! How to reach the BBS (Diego's `bbs.ClientConfig`).

use std::time::Duration;

/// Diego's `DefaultRetryCount`: attempts per call.
pub const DEFAULT_RETRIES: u32 = 3;

/// Where and how to reach the BBS.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    /// Mutual TLS (for `https` URLs): the CA that signed the BBS, the
    /// client's certificate and key, from files or memory.
    pub tls: Option<tlsconfig::ClientTls>,
    /// Bounds each call, answer included (None: no bound). Event streams
    /// are never bounded.
    pub request_timeout: Option<Duration>,
    /// Attempts per call (Diego's `Retries`; 0 means the default 3). See
    /// the crate documentation for which failures are retried.
    pub retries: u32,
    /// The pause between attempts to open an event stream (Diego's
    /// `RetryInterval`; zero means 1 s).
    pub retry_interval: Duration,
    /// Idle connections kept to the BBS (Diego's `MaxIdleConnsPerHost`).
    pub max_idle_conns_per_host: Option<usize>,
    pub user_agent: Option<String>,
}

impl ClientConfig {
    /// A client of the BBS at `url` with Diego's defaults and no TLS.
    pub fn new(url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            tls: None,
            request_timeout: None,
            retries: DEFAULT_RETRIES,
            retry_interval: Duration::from_secs(1),
            max_idle_conns_per_host: None,
            user_agent: None,
        }
    }

    pub fn with_tls(mut self, tls: Option<tlsconfig::ClientTls>) -> ClientConfig {
        self.tls = tls.filter(|t| !t.is_empty());
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.request_timeout = Some(timeout);
        self
    }

    pub fn with_retries(mut self, retries: u32) -> ClientConfig {
        self.retries = retries;
        self
    }
}
