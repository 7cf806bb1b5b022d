//! Locket as the control plane runs it: expiring lapsed locks every
//! 500 ms (Diego's burglar runs every few seconds; tests wait less).

use locket::config::LocketConfig;
use locket::server::{RunningLocket, ServerOptions};
use std::path::Path;
use std::time::Duration;

/// Starts locket with `cfg`.
pub async fn start_locket_with(cfg: &LocketConfig) -> RunningLocket {
    let opts = ServerOptions {
        burglar_interval: Duration::from_millis(500),
    };
    locket::server::start(cfg, opts)
        .await
        .expect("locket starts")
}

/// Locket alone, for tests that start the rest themselves: SQLite
/// (`locket.db` in `dir`), plaintext, on 127.0.0.1.
pub async fn start_locket(dir: &Path) -> RunningLocket {
    start_locket_with(&LocketConfig {
        listen_address: "127.0.0.1:0".into(),
        database_driver: "sqlite".into(),
        database_connection_string: dir.join("locket.db").display().to_string(),
        ..Default::default()
    })
    .await
}
