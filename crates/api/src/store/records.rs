//! The stored records: each resource with everything the API keeps about
//! it (some of which the wire form leaves out, such as image passwords).

use super::{Kind, Row, StoreError};
use models::capi::{HealthCheck, Lifecycle};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;

/// A resource kept as one row of its kind's table.
pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    const KIND: Kind;
    fn guid(&self) -> &str;
    fn app_guid(&self) -> &str;
    fn created_at(&self) -> i64;
    fn name(&self) -> Option<&str> {
        None
    }
    fn version(&self) -> Option<i64> {
        None
    }

    fn to_row(&self) -> Row {
        Row {
            guid: self.guid().to_string(),
            app_guid: self.app_guid().to_string(),
            name: self.name().map(str::to_string),
            version: self.version(),
            created_at: self.created_at(),
            doc: serde_json::to_string(self).expect("records serialize"),
        }
    }

    fn from_row(row: &Row) -> Result<Self, StoreError> {
        serde_json::from_str(&row.doc)
            .map_err(|e| StoreError::Corrupt(format!("{} {}: {e}", Self::KIND.table(), row.guid)))
    }
}

macro_rules! record {
    ($t:ty, $kind:expr, app = $app:ident) => {
        impl Record for $t {
            const KIND: Kind = $kind;
            fn guid(&self) -> &str {
                &self.guid
            }
            fn app_guid(&self) -> &str {
                &self.$app
            }
            fn created_at(&self) -> i64 {
                self.created_at
            }
        }
    };
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AppRec {
    pub guid: String,
    pub name: String,
    pub state: String,
    pub lifecycle: Lifecycle,
    pub env: BTreeMap<String, String>,
    pub routes: Vec<String>,
    pub droplet_guid: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Record for AppRec {
    const KIND: Kind = Kind::Apps;
    fn guid(&self) -> &str {
        &self.guid
    }
    fn app_guid(&self) -> &str {
        &self.guid
    }
    fn created_at(&self) -> i64 {
        self.created_at
    }
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PackageRec {
    pub guid: String,
    pub app_guid: String,
    pub kind: String,
    pub state: String,
    pub image: Option<String>,
    pub image_username: Option<String>,
    pub image_password: Option<String>,
    pub sha256: Option<String>,
    pub size: u64,
    pub created_at: i64,
}
record!(PackageRec, Kind::Packages, app = app_guid);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct BuildRec {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: String,
    pub state: String,
    pub error: Option<String>,
    pub droplet_guid: Option<String>,
    pub created_at: i64,
}
record!(BuildRec, Kind::Builds, app = app_guid);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DropletRec {
    pub guid: String,
    pub app_guid: String,
    pub package_guid: String,
    pub state: String,
    pub process_types: BTreeMap<String, String>,
    pub execution_metadata: String,
    pub image: Option<String>,
    pub image_username: Option<String>,
    pub image_password: Option<String>,
    /// Bits droplets: the blob's digest (also its download checksum).
    pub sha256: Option<String>,
    pub stack: String,
    pub created_at: i64,
    /// Staged droplets (run under the lifecycle's launcher): where cells
    /// download them (the file server, where staging uploaded them).
    /// None: the API's own blob.
    #[serde(default)]
    pub download_url: Option<String>,
    /// The buildpacks that built it.
    #[serde(default)]
    pub buildpacks: Vec<String>,
}

impl DropletRec {
    /// Built by the buildpack lifecycle (so run by its launcher).
    pub fn staged(&self) -> bool {
        self.download_url.is_some()
    }
}
record!(DropletRec, Kind::Droplets, app = app_guid);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RevisionRec {
    pub guid: String,
    pub app_guid: String,
    pub version: i64,
    pub droplet_guid: String,
    pub env: BTreeMap<String, String>,
    /// Commands by process type (None: the droplet's).
    pub commands: BTreeMap<String, Option<String>>,
    pub description: String,
    pub created_at: i64,
}

impl Record for RevisionRec {
    const KIND: Kind = Kind::Revisions;
    fn guid(&self) -> &str {
        &self.guid
    }
    fn app_guid(&self) -> &str {
        &self.app_guid
    }
    fn created_at(&self) -> i64 {
        self.created_at
    }
    fn version(&self) -> Option<i64> {
        Some(self.version)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProcessRec {
    pub guid: String,
    pub app_guid: String,
    pub kind: String,
    /// Changes whenever what the LRP runs changes (a restart): the LRP's
    /// process guid is `<guid>-<version>`, as Cloud Controller names it.
    pub version: String,
    pub instances: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub command: Option<String>,
    pub health_check: HealthCheck,
    pub revision_guid: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}
record!(ProcessRec, Kind::Processes, app = app_guid);

impl ProcessRec {
    /// The DesiredLRP's process guid on the BBS.
    pub fn lrp_guid(&self) -> String {
        format!("{}-{}", self.guid, self.version)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeploymentRec {
    pub guid: String,
    pub app_guid: String,
    /// ACTIVE or FINALIZED.
    pub state: String,
    /// DEPLOYING, PAUSED, DEPLOYED, CANCELED, SUPERSEDED.
    pub reason: String,
    pub details: String,
    pub strategy: String,
    pub max_in_flight: i32,
    pub droplet_guid: String,
    pub previous_droplet_guid: Option<String>,
    pub revision_guid: String,
    pub revision_version: i64,
    /// The new web process.
    pub process_guid: String,
    /// The web instances the app had (and the new process ends with).
    pub instances_wanted: i32,
    /// The web process the deployment started from (restored on cancel).
    pub previous_process_guid: Option<String>,
    /// Canary: continued by the user.
    pub continued: bool,
    pub routable: i32,
    pub created_at: i64,
    pub updated_at: i64,
}
record!(DeploymentRec, Kind::Deployments, app = app_guid);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TaskRec {
    pub guid: String,
    pub app_guid: String,
    pub name: String,
    pub command: String,
    pub state: String,
    pub sequence_id: i64,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub failure_reason: Option<String>,
    pub droplet_guid: String,
    pub created_at: i64,
}

impl Record for TaskRec {
    const KIND: Kind = Kind::Tasks;
    fn guid(&self) -> &str {
        &self.guid
    }
    fn app_guid(&self) -> &str {
        &self.app_guid
    }
    fn created_at(&self) -> i64 {
        self.created_at
    }
    fn version(&self) -> Option<i64> {
        Some(self.sequence_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EventRec {
    pub guid: String,
    pub app_guid: String,
    pub kind: String,
    pub actor: String,
    pub target_name: String,
    pub data: serde_json::Value,
    pub created_at: i64,
}
record!(EventRec, Kind::Events, app = app_guid);
