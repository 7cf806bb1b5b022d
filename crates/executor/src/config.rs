//! The executor's settings (Diego's executor configuration names, in Rust
//! form).

use crate::checks::CheckConfig;
use crate::resources::ExecutorResources;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Named in the "Cell <id> stopping instance <guid>" log line.
    pub cell_id: String,
    /// Put in every container's `executor:owner` property; the executor
    /// lists (and reaps) only its own containers.
    pub owner_name: String,
    /// Diego's `max_containers` (250).
    pub max_containers: u64,
    /// The cell's capacity; None: "auto", from the backend.
    pub capacity: Option<ExecutorResources>,
    /// Between TERM and KILL when stopping (Diego: 10 s).
    pub graceful_shutdown_interval: Duration,
    pub checks: CheckConfig,
    /// Lines of output kept per container.
    pub log_buffer_lines: usize,
    /// Downloads, uploads and the download cache.
    pub temp_dir: PathBuf,
    /// Diego: 5.
    pub max_concurrent_downloads: usize,
    pub max_concurrent_uploads: usize,
    /// Where instances' log lines and container metrics go (the log
    /// component); None: they stay in the cell's buffers.
    pub log_sender: Option<logs_client::Sender>,
    /// Diego's `max_log_lines_per_second` (0: no cap).
    pub max_log_lines_per_second: u32,
    /// Diego's `container_metrics_report_interval` (15 s).
    pub container_metrics_report_interval: Duration,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            cell_id: String::new(),
            owner_name: "executor".into(),
            max_containers: 250,
            capacity: None,
            graceful_shutdown_interval: Duration::from_secs(10),
            checks: CheckConfig::default(),
            log_buffer_lines: 1000,
            temp_dir: std::env::temp_dir().join("executor"),
            max_concurrent_downloads: 5,
            max_concurrent_uploads: 5,
            log_sender: None,
            max_log_lines_per_second: 0,
            container_metrics_report_interval: Duration::from_secs(15),
        }
    }
}
