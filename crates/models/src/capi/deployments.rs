//! Deployments: moving an app's web process to a new revision without
//! downtime (Cloud Controller's rolling and canary strategies).

use super::{GuidRef, ToOne};
use serde::{Deserialize, Serialize};

pub const ACTIVE: &str = "ACTIVE";
pub const FINALIZED: &str = "FINALIZED";

pub mod status_value {
    pub const ACTIVE: &str = "ACTIVE";
    pub const FINALIZED: &str = "FINALIZED";
}

pub mod status_reason {
    pub const DEPLOYING: &str = "DEPLOYING";
    pub const PAUSED: &str = "PAUSED";
    pub const CANCELING: &str = "CANCELING";
    pub const DEPLOYED: &str = "DEPLOYED";
    pub const CANCELED: &str = "CANCELED";
    pub const SUPERSEDED: &str = "SUPERSEDED";
}

pub const ROLLING: &str = "rolling";
pub const CANARY: &str = "canary";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeploymentStatus {
    pub value: String,
    pub reason: String,
    /// Why it is not progressing, when it is not (e.g. new instances crash).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeploymentOptions {
    pub max_in_flight: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct NewProcess {
    pub guid: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Deployment {
    pub guid: String,
    pub app_guid: String,
    pub state: String,
    pub status: DeploymentStatus,
    pub strategy: String,
    pub options: DeploymentOptions,
    pub droplet_guid: String,
    pub previous_droplet_guid: Option<String>,
    pub revision_guid: String,
    pub revision_version: i64,
    pub new_processes: Vec<NewProcess>,
    /// Instances of the new process running and routable / wanted.
    pub new_instances_routable: i32,
    pub instances_wanted: i32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeploymentRelationships {
    pub app: ToOne,
}

/// `POST /v3/deployments`: deploy the app's current droplet (none given),
/// a droplet, or an earlier revision (a rollback).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CreateDeployment {
    pub relationships: DeploymentRelationships,
    #[serde(default)]
    pub droplet: Option<GuidRef>,
    #[serde(default)]
    pub revision: Option<GuidRef>,
    /// rolling (the default) or canary.
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub options: Option<DeploymentOptions>,
}
