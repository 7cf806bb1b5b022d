//! An executor container: its resources, what it runs, its state and how
//! it ended (Diego's `executor.Container`).

use models::{Action, CachedDependency, CheckDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Labels the rep puts on a container (lifecycle, domain, process guid, ...).
pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Reserved,
    Initializing,
    Created,
    Running,
    Completed,
}

impl State {
    /// Diego's transitions: reserved → initializing → created → running,
    /// and completed from anywhere.
    pub fn can_become(self, next: State) -> bool {
        matches!(
            (self, next),
            (_, State::Completed)
                | (State::Reserved, State::Initializing)
                | (State::Initializing, State::Created)
                | (State::Created, State::Running)
        )
    }
}

/// What a container asks of the cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub max_pids: i32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub container_port: u16,
    #[serde(default)]
    pub host_port: u16,
}

/// Where an instance's logs go and what they are labelled with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    pub guid: String,
    pub index: i32,
    pub source_name: String,
    /// The instance's metric tags (app_name, source_id, ...): every
    /// envelope carries them.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl LogConfig {
    /// Diego labels lines without a source "LOG".
    pub fn source_name(&self) -> &str {
        if self.source_name.is_empty() {
            "LOG"
        } else {
            &self.source_name
        }
    }
}

/// What a container runs (Diego's `executor.RunInfo`), given by the rep
/// when it initializes a reserved container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    /// The image, e.g. `preloaded:cflinuxfs4` or `docker:///busybox#1.36`.
    pub rootfs: String,
    /// The registry credentials of a `docker://` rootfs (Diego's
    /// `ImageUsername`, `ImagePassword`).
    pub image_username: String,
    pub image_password: String,
    pub cpu_weight: u32,
    pub ports: Vec<PortMapping>,
    pub log_config: LogConfig,
    /// How long the startup checks may take (0: no limit).
    pub start_timeout_ms: u64,
    pub privileged: bool,
    pub setup: Option<Action>,
    pub action: Option<Action>,
    /// The legacy health check: an action run repeatedly.
    pub monitor: Option<Action>,
    pub check_definition: Option<CheckDefinition>,
    /// `(name, value)` pairs every process in the container gets.
    pub env: Vec<(String, String)>,
    /// Archives downloaded (cached per key) and bind-mounted read-only
    /// before the container is created (the lifecycle, buildpacks).
    pub cached_dependencies: Vec<CachedDependency>,
    /// What the container may reach (the LRP's or Task's security group
    /// rules); none: nothing but DNS.
    pub egress_rules: Vec<models::SecurityGroupRule>,
    /// The LRP's or Task's `log_rate_limit.bytes_per_second`; None:
    /// unlimited.
    pub log_rate_limit: Option<i64>,
}

/// How a container's run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub failed: bool,
    pub failure_reason: String,
    /// The failure may succeed on another cell (container creation failed).
    #[serde(default)]
    pub retryable: bool,
    /// The container was stopped on request.
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub guid: String,
    pub resource: Resource,
    pub tags: Tags,
    pub state: State,
    pub run_info: RunInfo,
    /// Whether routes may send traffic (readiness checks passing).
    pub routable: bool,
    /// Unix nanoseconds.
    pub allocated_at: i64,
    pub external_ip: String,
    pub internal_ip: String,
    pub run_result: RunResult,
    pub memory_limit: u64,
    pub disk_limit: u64,
}

impl Container {
    pub fn has_tags(&self, tags: &Tags) -> bool {
        tags.iter().all(|(k, v)| self.tags.get(k) == Some(v))
    }

    /// Ends the run; Diego caps the reason at 10000 bytes, keeping both ends.
    pub(crate) fn complete(&mut self, failed: bool, reason: &str, retryable: bool) {
        self.run_result.failed = failed;
        self.run_result.failure_reason = truncate_reason(reason, 10_000);
        self.run_result.retryable = retryable;
        self.state = State::Completed;
    }
}

fn truncate_reason(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    const CUT: &str = "\n... (truncated)\n";
    let mut head = max / 2 - 1 - CUT.len() / 2;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - max / 2 + CUT.len() / 2;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}{CUT}{}", &s[..head], &s[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_diego() {
        use State::*;
        assert!(Reserved.can_become(Initializing));
        assert!(Initializing.can_become(Created));
        assert!(Created.can_become(Running));
        assert!(Reserved.can_become(Completed));
        assert!(!Reserved.can_become(Created));
        assert!(!Running.can_become(Created));
        assert!(!Completed.can_become(Running));
    }

    #[test]
    fn long_reasons_keep_both_ends() {
        let s = format!("{}{}", "a".repeat(8000), "b".repeat(8000));
        let t = truncate_reason(&s, 10_000);
        assert!(t.len() <= 10_000);
        assert!(t.starts_with('a') && t.ends_with('b'));
        assert!(t.contains("... (truncated)"));
    }
}
