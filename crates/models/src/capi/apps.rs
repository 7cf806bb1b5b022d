//! Apps and what is built for them: packages, builds, droplets,
//! revisions; audit events and tasks.

use super::{Checksum, ProcessSettings, ToOne};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const STARTED: &str = "STARTED";
pub const STOPPED: &str = "STOPPED";

pub const BUILDPACK: &str = "buildpack";
pub const DOCKER: &str = "docker";

/// How an app is built and run: `buildpack` (a package staged into a
/// droplet on a stack) or `docker` (an image).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Lifecycle {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: LifecycleData,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct LifecycleData {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buildpacks: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stack: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct App {
    pub guid: String,
    pub name: String,
    /// STARTED or STOPPED.
    pub state: String,
    pub lifecycle: Lifecycle,
    /// Hostnames routed to the app's web process.
    pub routes: Vec<String>,
    pub current_droplet_guid: Option<String>,
    /// The revision the app's web process runs (none before the first start).
    pub revision: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /v3/apps`: the app with its web process's settings, made in one
/// go (or not at all).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CreateApp {
    pub name: String,
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
    #[serde(default)]
    pub environment_variables: BTreeMap<String, String>,
    /// None: `NAME.<app domain>`.
    #[serde(default)]
    pub routes: Option<Vec<String>>,
    #[serde(default)]
    pub process: Option<ProcessSettings>,
}

/// `PATCH /v3/apps/:guid`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpdateApp {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
    #[serde(default)]
    pub routes: Option<Vec<String>>,
}

/// `GET /v3/apps/:guid/environment_variables`, and the body of its PATCH
/// (a null value unsets the variable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EnvVars {
    pub var: BTreeMap<String, Option<String>>,
}

pub const BITS: &str = "bits";

pub mod package_state {
    pub const AWAITING_UPLOAD: &str = "AWAITING_UPLOAD";
    pub const READY: &str = "READY";
    pub const FAILED: &str = "FAILED";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Package {
    pub guid: String,
    pub app_guid: String,
    /// `bits` or `docker`.
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    /// Docker packages: the image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    pub size: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PackageRelationships {
    pub app: ToOne,
}

/// `POST /v3/packages`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CreatePackage {
    #[serde(rename = "type")]
    pub kind: String,
    pub relationships: PackageRelationships,
    /// Docker packages: `{"image": "registry/repo:tag"}`.
    #[serde(default)]
    pub data: Option<PackageData>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PackageData {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

pub mod build_state {
    pub const STAGING: &str = "STAGING";
    pub const STAGED: &str = "STAGED";
    pub const FAILED: &str = "FAILED";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Build {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: String,
    pub state: String,
    pub error: Option<String>,
    pub droplet_guid: Option<String>,
    pub created_at: String,
}

/// `POST /v3/builds`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CreateBuild {
    pub package: super::GuidRef,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Droplet {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: String,
    pub state: String,
    /// Start commands by process type (staging's `process_types`).
    pub process_types: BTreeMap<String, String>,
    pub execution_metadata: String,
    /// Docker droplets: the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    pub stack: String,
    /// The buildpacks that staged it (empty: not staged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buildpacks: Vec<String>,
    pub created_at: String,
}

/// A version of what an app runs: droplet, environment and commands.
/// Every change of those makes a new one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Revision {
    pub guid: String,
    pub app_guid: String,
    pub version: i64,
    pub droplet_guid: String,
    /// Commands by process type (None: the droplet's).
    pub processes: BTreeMap<String, Option<String>>,
    pub description: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuditActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuditTarget {
    #[serde(rename = "type")]
    pub kind: String,
    pub guid: String,
    pub name: String,
}

/// An audit event (Cloud Controller's names: `audit.app.create`,
/// `audit.app.process.crash`, `audit.app.deployment.create`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuditEvent {
    pub guid: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub actor: AuditActor,
    pub target: AuditTarget,
    pub data: serde_json::Value,
    pub created_at: String,
}

pub mod task_state {
    pub const PENDING: &str = "PENDING";
    pub const RUNNING: &str = "RUNNING";
    pub const SUCCEEDED: &str = "SUCCEEDED";
    pub const FAILED: &str = "FAILED";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Task {
    pub guid: String,
    pub app_guid: String,
    pub name: String,
    pub command: String,
    pub state: String,
    pub sequence_id: i64,
    pub memory_in_mb: i32,
    pub disk_in_mb: i32,
    pub failure_reason: Option<String>,
    pub created_at: String,
}

/// `POST /v3/apps/:guid/tasks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CreateTask {
    pub command: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub memory_in_mb: Option<i32>,
    #[serde(default)]
    pub disk_in_mb: Option<i32>,
}

/// `GET /v3/buildpacks`: an admin buildpack, in detection order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Buildpack {
    /// e.g. "python_buildpack".
    pub name: String,
    /// 1 is detected first.
    pub position: i32,
    /// Empty: any stack.
    #[serde(default)]
    pub stack: String,
    /// READY, or AWAITING_UPLOAD when its zip is not published.
    pub state: String,
    pub filename: String,
    pub enabled: bool,
}

/// `GET /v3/stacks`: a stack the cells offer (`preloaded:<name>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Stack {
    pub name: String,
    pub description: String,
    /// New apps get it unless they name one.
    pub default: bool,
}
