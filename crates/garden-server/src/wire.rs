//! Garden's JSON, as its Go client writes and reads it (garden's
//! `client.go`, `container.go`, `net_out_rule.go`, `transport/payload.go`).
//! Request types decode with Go's rules: a missing or `null` field keeps
//! its zero value. Response types use the Go structs' field names (most of
//! Garden's responses have no json tags, so `State`, `HostIP`, ...).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Go leaves a field at its zero value on `null`; serde's default does not
/// cover an explicit null.
fn go<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    #[serde(deserialize_with = "go")]
    pub handle: String,
    /// Nanoseconds (Go's time.Duration): left alone this long, the
    /// container is destroyed (0: never; see `grace`).
    #[serde(deserialize_with = "go")]
    pub grace_time: i64,
    #[serde(deserialize_with = "go")]
    pub rootfs: String,
    #[serde(deserialize_with = "go")]
    pub image: ImageRef,
    #[serde(deserialize_with = "go")]
    pub bind_mounts: Vec<BindMount>,
    #[serde(deserialize_with = "go")]
    pub network: String,
    #[serde(deserialize_with = "go")]
    pub properties: BTreeMap<String, String>,
    #[serde(deserialize_with = "go")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "go")]
    pub privileged: bool,
    #[serde(deserialize_with = "go")]
    pub limits: Limits,
    #[serde(deserialize_with = "go")]
    pub netout_rules: Vec<NetOutRule>,
    #[serde(deserialize_with = "go")]
    pub netin: Vec<NetIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImageRef {
    #[serde(deserialize_with = "go")]
    pub uri: String,
    #[serde(deserialize_with = "go")]
    pub username: String,
    #[serde(deserialize_with = "go")]
    pub password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BindMount {
    #[serde(deserialize_with = "go")]
    pub src_path: String,
    #[serde(deserialize_with = "go")]
    pub dst_path: String,
    /// 0: read-only (Garden's default), 1: read-write.
    #[serde(deserialize_with = "go")]
    pub mode: u8,
    /// 0: from the host, 1: from inside the container.
    #[serde(deserialize_with = "go")]
    pub origin: u8,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetIn {
    #[serde(deserialize_with = "go")]
    pub host_port: u32,
    #[serde(deserialize_with = "go")]
    pub container_port: u32,
}

/// Garden's NetOutRule: protocol is a number (0 all, 1 tcp, 2 udp, 3
/// icmp, 4 icmpv6), networks' ends are IP strings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetOutRule {
    #[serde(deserialize_with = "go")]
    pub protocol: u8,
    #[serde(deserialize_with = "go")]
    pub networks: Vec<IpRange>,
    #[serde(deserialize_with = "go")]
    pub ports: Vec<PortRange>,
    pub icmps: Option<IcmpControl>,
    #[serde(deserialize_with = "go")]
    pub log: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IpRange {
    pub start: Option<std::net::IpAddr>,
    pub end: Option<std::net::IpAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PortRange {
    #[serde(deserialize_with = "go")]
    pub start: u16,
    #[serde(deserialize_with = "go")]
    pub end: u16,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IcmpControl {
    #[serde(deserialize_with = "go", rename = "type")]
    pub kind: u8,
    pub code: Option<u8>,
}

/// Garden's Limits, kept as given so the limit reads answer them back.
#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Limits {
    #[serde(deserialize_with = "go")]
    pub bandwidth_limits: BandwidthLimits,
    #[serde(deserialize_with = "go")]
    pub cpu_limits: CpuLimits,
    #[serde(deserialize_with = "go")]
    pub disk_limits: DiskLimits,
    #[serde(deserialize_with = "go")]
    pub memory_limits: MemoryLimits,
    #[serde(deserialize_with = "go")]
    pub pid_limits: PidLimits,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct BandwidthLimits {
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub rate: u64,
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub burst: u64,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct CpuLimits {
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub weight: u64,
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub limit_in_shares: u64,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct DiskLimits {
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub inode_soft: u64,
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub inode_hard: u64,
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub byte_soft: u64,
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub byte_hard: u64,
    /// 0: total (the rootfs counts), 1: exclusive.
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero_u8")]
    pub scope: u8,
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct MemoryLimits {
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub limit_in_bytes: u64,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct PidLimits {
    #[serde(deserialize_with = "go", skip_serializing_if = "is_zero")]
    pub max: u64,
}

#[derive(Debug, Serialize)]
pub struct Capacity {
    #[serde(skip_serializing_if = "is_zero")]
    pub memory_in_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_in_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub schedulable_disk_in_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_containers: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInfo {
    pub state: String,
    pub events: Vec<String>,
    #[serde(rename = "HostIP")]
    pub host_ip: String,
    #[serde(rename = "ContainerIP")]
    pub container_ip: String,
    #[serde(rename = "ContainerIPv6")]
    pub container_ipv6: String,
    #[serde(rename = "ExternalIP")]
    pub external_ip: String,
    pub container_path: String,
    #[serde(rename = "ProcessIDs")]
    pub process_ids: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub mapped_ports: Vec<PortMapping>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortMapping {
    pub host_port: u32,
    pub container_port: u32,
}

/// One handle's answer in bulk_info: its info, or its error.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InfoEntry {
    pub info: Option<ContainerInfo>,
    pub err: Option<crate::error::WireError>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsEntry {
    pub metrics: Option<Metrics>,
    pub err: Option<crate::error::WireError>,
}

/// Garden's Metrics, with the fields our backends measure (the executor
/// reads TotalUsageTowardLimit, CPUStat.Usage, DiskStat and NetworkStat).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metrics {
    pub memory_stat: MemoryStat,
    #[serde(rename = "CPUStat")]
    pub cpu_stat: CpuStat,
    pub disk_stat: DiskStat,
    pub network_stat: Option<NetworkStat>,
    pub pid_stat: PidStat,
    /// Nanoseconds; we do not track the container's age yet.
    pub age: u64,
    #[serde(rename = "CPUEntitlement")]
    pub cpu_entitlement: u64,
}

#[derive(Debug, Serialize)]
pub struct MemoryStat {
    #[serde(rename = "TotalUsageTowardLimit")]
    pub total_usage_toward_limit: u64,
    pub rss: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CpuStat {
    /// Nanoseconds of CPU time.
    pub usage: u64,
    pub user: u64,
    pub system: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskStat {
    pub total_bytes_used: u64,
    pub total_inodes_used: u64,
    pub exclusive_bytes_used: u64,
    pub exclusive_inodes_used: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkStat {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PidStat {
    pub current: u64,
    pub max: u64,
}

/// Garden's `ProcessSpec` (container.go): what `POST .../processes` runs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProcessSpec {
    /// Empty: the server makes one (guardian: a UUID).
    #[serde(deserialize_with = "go")]
    pub id: String,
    #[serde(deserialize_with = "go")]
    pub path: String,
    #[serde(deserialize_with = "go")]
    pub args: Vec<String>,
    #[serde(deserialize_with = "go")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "go")]
    pub dir: String,
    #[serde(deserialize_with = "go")]
    pub user: String,
    /// Garden's `ResourceLimits` (`nofile`, `nproc`, ...): we apply nofile.
    #[serde(deserialize_with = "go")]
    pub rlimits: ResourceLimits,
    /// Garden's `OverrideContainerLimits` (`cpu_limits`, `memory_limits`):
    /// present (even `{}`), a process with an image of its own gets cgroup
    /// limits of its own instead of counting against the container's.
    pub limits: Option<ProcessLimits>,
    /// Accepted; our processes run without a terminal.
    pub tty: Option<serde_json::Value>,
    #[serde(deserialize_with = "go")]
    pub image: ImageRef,
    #[serde(deserialize_with = "go")]
    pub bind_mounts: Vec<BindMount>,
}

/// Garden's `ProcessLimits`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProcessLimits {
    #[serde(deserialize_with = "go")]
    pub cpu_limits: CpuLimits,
    #[serde(deserialize_with = "go")]
    pub memory_limits: MemoryLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResourceLimits {
    pub nofile: Option<u64>,
}

/// Garden's `transport.ProcessPayload`: one JSON line each way on a run or
/// attach connection. Pointers in Go, so absent and `null` are both None
/// and `"source":0` is present.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessPayload {
    #[serde(skip_serializing_if = "String::is_empty", deserialize_with = "go")]
    pub process_id: String,
    #[serde(skip_serializing_if = "String::is_empty", deserialize_with = "go")]
    pub stream_id: String,
    /// 0 stdin, 1 stdout, 2 stderr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<serde_json::Value>,
    /// 0 terminate, 1 kill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i64>,
}
