//! Processes (an app's web process: instances, command, limits, health
//! check) and their instances' state.

use serde::{Deserialize, Serialize};

pub const WEB: &str = "web";

pub mod health_check_type {
    pub const PORT: &str = "port";
    pub const HTTP: &str = "http";
    pub const PROCESS: &str = "process";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HealthCheck {
    /// port, http or process.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: HealthCheckData,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HealthCheckData {
    /// http checks: the path to GET.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Seconds an instance may take to become healthy.
    #[serde(default)]
    pub timeout: Option<u32>,
    /// Seconds one check may take.
    #[serde(default)]
    pub invocation_timeout: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Process {
    pub guid: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub app_guid: String,
    pub instances: i32,
    pub memory_in_mb: i32,
    pub disk_in_mb: i32,
    /// None: the droplet's start command.
    pub command: Option<String>,
    pub health_check: HealthCheck,
    pub revision_guid: Option<String>,
    /// The DesiredLRP's process guid on the BBS.
    pub lrp_process_guid: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Settings of a process, as given at app creation, `PATCH
/// /v3/processes/:guid` or scale (absent: unchanged).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProcessSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_in_mb: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_in_mb: Option<i32>,
    /// Some(None) (JSON null) resets to the droplet's command.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub command: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

/// `POST /v3/processes/:guid/actions/scale`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Scale {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_in_mb: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_in_mb: Option<i32>,
}

pub mod instance_state {
    pub const RUNNING: &str = "RUNNING";
    pub const STARTING: &str = "STARTING";
    pub const CRASHED: &str = "CRASHED";
    pub const DOWN: &str = "DOWN";
}

/// One instance of a process (`GET /v3/processes/:guid/stats`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct InstanceStats {
    pub index: i32,
    /// RUNNING, STARTING, CRASHED or DOWN.
    pub state: String,
    /// When it entered that state (RFC 3339).
    pub since: String,
    pub crash_count: i32,
    pub crash_reason: String,
    /// Why it is not placed, if it is not.
    pub placement_error: String,
    /// Seconds since it started running.
    pub uptime: u64,
    pub routable: bool,
    pub host: String,
    pub port: u32,
    pub instance_guid: String,
    pub cell_id: String,
    pub usage: Usage,
    pub mem_quota: u64,
    pub disk_quota: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Usage {
    /// Fraction of one core.
    pub cpu: f64,
    pub mem: u64,
    pub disk: u64,
}

/// A Serde helper: a field that may be absent (None), null (Some(None))
/// or set.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().and_then(|v| v.as_ref()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}
