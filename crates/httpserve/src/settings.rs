//! One server-settings type for every listener, read from a component's
//! config (flattened: the field names below sit beside the component's
//! own). Diego's Go servers have no such settings (they run Go's
//! `http.Server` without timeouts), so the names are ours.

use models::go_duration::GoDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ServerSettings {
    /// TLS handshake (plain HTTP: the first byte) must complete within.
    pub tls_handshake_timeout: GoDuration,
    /// An HTTP/1.1 request head must be read within (also the longest an
    /// HTTP/1.1 keep-alive connection idles).
    pub header_read_timeout: GoDuration,
    /// The longest wait for the next piece of a request body, and for room
    /// in the buffered-bytes budget. A stalled body holds a request slot
    /// until then, so it is short; response streams are not bound by it.
    pub body_read_timeout: GoDuration,
    /// A connection with no request in flight this long is closed.
    pub idle_timeout: GoDuration,
    /// Open connections (more wait in the listen backlog).
    pub max_connections: usize,
    /// Requests being handled at once (more answer 503).
    pub max_requests_in_flight: usize,
    /// The largest request body.
    pub max_request_body_bytes: usize,
    /// Request bytes admitted for reading at once, over all requests (at
    /// least `max_request_body_bytes`).
    pub max_buffered_request_bytes: usize,
    /// On shutdown, how long open requests get to finish.
    pub drain_timeout: GoDuration,
}

const MIB: usize = 1024 * 1024;

impl Default for ServerSettings {
    fn default() -> Self {
        let s = |n| GoDuration(Duration::from_secs(n));
        ServerSettings {
            tls_handshake_timeout: s(10),
            header_read_timeout: s(10),
            body_read_timeout: s(5),
            idle_timeout: s(90),
            max_connections: 4096,
            max_requests_in_flight: 1024,
            max_request_body_bytes: 32 * MIB,
            max_buffered_request_bytes: 64 * MIB,
            drain_timeout: s(10),
        }
    }
}

impl ServerSettings {
    /// The buffered-bytes budget actually used (never below one body).
    pub fn buffer_budget(&self) -> usize {
        self.max_buffered_request_bytes
            .max(self.max_request_body_bytes)
            .max(1)
    }
}
