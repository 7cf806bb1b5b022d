//! The rep's HTTP JSON types (`GET /state`, `POST /work`, the LRP update
//! body): Diego's `rep` package, with its exact JSON member names. Go's
//! defaults apply where the Go struct has no tag, so the names mix
//! snake_case (`rep_url`, `cell_id`, `instance_guid`, `process_guid`,
//! `state`, ...) and exported Go names (`RootFSProviders`, `MemoryMB`,
//! `LRPs`, `TaskGuid`, ...).
//!
//! Besides the types this module holds the rep's cell-side matching and
//! scoring rules (`ResourceMatch`, `ComputeScore`, rootfs / volume driver /
//! placement tag matching), which the auctioneer uses.

pub mod container_metrics;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Go's `json.Unmarshal` leaves a slice nil for `null`; we use an empty Vec.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Capacity of a cell (`rep.Resources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    #[serde(rename = "MemoryMB", default)]
    pub memory_mb: i32,
    #[serde(rename = "DiskMB", default)]
    pub disk_mb: i32,
    #[serde(rename = "Containers", default)]
    pub containers: i32,
}

/// What one LRP instance or task needs (`rep.Resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "MemoryMB", default)]
    pub memory_mb: i32,
    #[serde(rename = "DiskMB", default)]
    pub disk_mb: i32,
    #[serde(rename = "MaxPids", default)]
    pub max_pids: i32,
}

impl Resource {
    pub fn new(memory_mb: i32, disk_mb: i32, max_pids: i32) -> Self {
        Self {
            memory_mb,
            disk_mb,
            max_pids,
        }
    }

    /// Diego's `Valid`: no negative sizes.
    pub fn valid(&self) -> bool {
        self.disk_mb >= 0 && self.memory_mb >= 0
    }
}

impl Resources {
    pub fn new(memory_mb: i32, disk_mb: i32, containers: i32) -> Self {
        Self {
            memory_mb,
            disk_mb,
            containers,
        }
    }

    pub fn subtract(&mut self, r: &Resource) {
        self.memory_mb -= r.memory_mb;
        self.disk_mb -= r.disk_mb;
        self.containers -= 1;
    }

    /// Mean used fraction of memory, disk and containers against `total`.
    pub fn compute_score(&self, total: &Resources) -> f64 {
        let mem = 1.0 - f64::from(self.memory_mb) / f64::from(total.memory_mb);
        let disk = 1.0 - f64::from(self.disk_mb) / f64::from(total.disk_mb);
        let containers = 1.0 - f64::from(self.containers) / f64::from(total.containers);
        (mem + disk + containers) / 3.0
    }
}

/// Where an LRP or task may run (`rep.PlacementConstraint`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct PlacementConstraint {
    #[serde(rename = "PlacementTags", default, deserialize_with = "null_as_empty")]
    pub placement_tags: Vec<String>,
    #[serde(rename = "VolumeDrivers", default, deserialize_with = "null_as_empty")]
    pub volume_drivers: Vec<String>,
    #[serde(rename = "RootFs", default)]
    pub root_fs: String,
}

impl PlacementConstraint {
    pub fn new(root_fs: &str, placement_tags: Vec<String>, volume_drivers: Vec<String>) -> Self {
        Self {
            placement_tags,
            volume_drivers,
            root_fs: root_fs.to_string(),
        }
    }

    /// Diego's `Valid`: a rootfs is required.
    pub fn valid(&self) -> bool {
        !self.root_fs.is_empty()
    }
}

/// One LRP instance as the rep reports and accepts it (`rep.LRP`: the
/// instance guid, the embedded ActualLRPKey, placement and resources).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lrp {
    #[serde(default)]
    pub instance_guid: String,
    #[serde(default)]
    pub process_guid: String,
    #[serde(default)]
    pub index: i32,
    #[serde(default)]
    pub domain: String,
    #[serde(flatten)]
    pub placement_constraint: PlacementConstraint,
    #[serde(flatten)]
    pub resource: Resource,
    #[serde(default)]
    pub state: String,
}

impl Lrp {
    pub fn new(
        instance_guid: &str,
        key: &crate::ActualLrpKey,
        resource: Resource,
        placement_constraint: PlacementConstraint,
    ) -> Self {
        Self {
            instance_guid: instance_guid.to_string(),
            process_guid: key.process_guid.clone(),
            index: key.index,
            domain: key.domain.clone(),
            placement_constraint,
            resource,
            state: String::new(),
        }
    }

    /// `process_guid.index`, the auction's dedupe key.
    pub fn identifier(&self) -> String {
        format!("{}.{}", self.process_guid, self.index)
    }

    pub fn actual_lrp_key(&self) -> crate::ActualLrpKey {
        crate::ActualLrpKey {
            process_guid: self.process_guid.clone(),
            index: self.index,
            domain: self.domain.clone(),
        }
    }
}

/// The state a fresh `rep.Task` carries (`models.Task_Invalid`).
pub const TASK_STATE_INVALID: &str = "Invalid";

fn task_state_invalid() -> String {
    TASK_STATE_INVALID.to_string()
}

/// One task as the rep reports and accepts it (`rep.Task`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    #[serde(rename = "TaskGuid", default)]
    pub task_guid: String,
    #[serde(rename = "Domain", default)]
    pub domain: String,
    #[serde(flatten)]
    pub placement_constraint: PlacementConstraint,
    #[serde(flatten)]
    pub resource: Resource,
    /// The task state's name (`Invalid`, `Pending`, `Running`, ...).
    #[serde(default = "task_state_invalid")]
    pub state: String,
    #[serde(default)]
    pub failed: bool,
}

impl Default for Task {
    fn default() -> Self {
        Self {
            task_guid: String::new(),
            domain: String::new(),
            placement_constraint: PlacementConstraint::default(),
            resource: Resource::default(),
            state: task_state_invalid(),
            failed: false,
        }
    }
}

impl Task {
    pub fn new(
        task_guid: &str,
        domain: &str,
        resource: Resource,
        placement_constraint: PlacementConstraint,
    ) -> Self {
        Self {
            task_guid: task_guid.to_string(),
            domain: domain.to_string(),
            placement_constraint,
            resource,
            ..Default::default()
        }
    }

    pub fn identifier(&self) -> &str {
        &self.task_guid
    }
}

/// `POST /work` body and answer (the answer lists what did not fit).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Work {
    #[serde(rename = "LRPs", default, deserialize_with = "null_as_empty")]
    pub lrps: Vec<Lrp>,
    #[serde(rename = "Tasks", default, deserialize_with = "null_as_empty")]
    pub tasks: Vec<Task>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cell_id: String,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self.lrps.is_empty() && self.tasks.is_empty()
    }
}

/// How a cell provides root filesystems for one URL scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootFsProvider {
    /// `{"type":"arbitrary"}`: any rootfs of the scheme (e.g. `docker`).
    Arbitrary,
    /// `{"type":"fixed_set","set":{"name":{},...}}`: only these names
    /// (the URL's opaque part, e.g. `cflinuxfs4` of `preloaded:cflinuxfs4`).
    FixedSet(BTreeSet<String>),
}

impl RootFsProvider {
    pub fn fixed_set<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        RootFsProvider::FixedSet(names.into_iter().map(Into::into).collect())
    }
}

impl Serialize for RootFsProvider {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RootFsProvider::Arbitrary => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("type", "arbitrary")?;
                m.end()
            }
            RootFsProvider::FixedSet(set) => {
                let empty = serde_json::Map::new();
                let members: BTreeMap<&str, &serde_json::Map<String, serde_json::Value>> =
                    set.iter().map(|k| (k.as_str(), &empty)).collect();
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("set", &members)?;
                m.serialize_entry("type", "fixed_set")?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for RootFsProvider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type", default)]
            ty: String,
            #[serde(default)]
            set: Option<BTreeMap<String, serde_json::Value>>,
        }
        let raw = Raw::deserialize(d)?;
        match raw.ty.as_str() {
            "arbitrary" => Ok(RootFsProvider::Arbitrary),
            "fixed_set" => Ok(RootFsProvider::FixedSet(
                raw.set.unwrap_or_default().into_keys().collect(),
            )),
            // Diego keeps an unknown type as a nil provider, which matches
            // nothing; a fixed set with no members behaves the same.
            _ => Ok(RootFsProvider::FixedSet(BTreeSet::new())),
        }
    }
}

/// `scheme` → provider (`rep.RootFSProviders`).
pub type RootFsProviders = BTreeMap<String, RootFsProvider>;

/// The scheme and opaque part of a rootfs URL as Go's `url.Parse` splits
/// them (scheme lower-cased; opaque only when the rest does not start with
/// `/`; query and fragment excluded). None when there is no scheme.
pub fn split_rootfs_url(rootfs: &str) -> Option<(String, String)> {
    let colon = rootfs.find(':')?;
    let scheme = &rootfs[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let rest = &rest_without_fragment(&rootfs[colon + 1..]);
    let opaque = if rest.starts_with('/') {
        String::new()
    } else {
        rest.split('?').next().unwrap_or("").to_string()
    };
    Some((scheme.to_ascii_lowercase(), opaque))
}

fn rest_without_fragment(s: &str) -> String {
    s.split('#').next().unwrap_or("").to_string()
}

/// `GET /state` answer (`rep.CellState`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CellState {
    #[serde(default)]
    pub rep_url: String,
    #[serde(default)]
    pub cell_id: String,
    #[serde(default)]
    pub cell_index: i32,
    #[serde(rename = "RootFSProviders", default)]
    pub root_fs_providers: RootFsProviders,
    #[serde(rename = "AvailableResources", default)]
    pub available_resources: Resources,
    #[serde(rename = "TotalResources", default)]
    pub total_resources: Resources,
    #[serde(rename = "LRPs", default, deserialize_with = "null_as_empty")]
    pub lrps: Vec<Lrp>,
    #[serde(rename = "Tasks", default, deserialize_with = "null_as_empty")]
    pub tasks: Vec<Task>,
    #[serde(rename = "StartingContainerCount", default)]
    pub starting_container_count: i32,
    #[serde(rename = "Zone", default)]
    pub zone: String,
    #[serde(rename = "Evacuating", default)]
    pub evacuating: bool,
    #[serde(rename = "VolumeDrivers", default, deserialize_with = "null_as_empty")]
    pub volume_drivers: Vec<String>,
    #[serde(rename = "PlacementTags", default, deserialize_with = "null_as_empty")]
    pub placement_tags: Vec<String>,
    #[serde(
        rename = "OptionalPlacementTags",
        default,
        deserialize_with = "null_as_empty"
    )]
    pub optional_placement_tags: Vec<String>,
    #[serde(rename = "ProxyMemoryAllocationMB", default)]
    pub proxy_memory_allocation_mb: i32,
}

/// Which resources fell short (rep's `InsufficientResourcesError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InsufficientResources {
    pub disk: bool,
    pub memory: bool,
    pub containers: bool,
}

impl InsufficientResources {
    pub fn all() -> Self {
        Self {
            disk: true,
            memory: true,
            containers: true,
        }
    }

    pub fn any(&self) -> bool {
        self.disk || self.memory || self.containers
    }

    /// Keeps only the problems `other` also has (problems common to all).
    pub fn intersect(&mut self, other: &InsufficientResources) {
        self.disk &= other.disk;
        self.memory &= other.memory;
        self.containers &= other.containers;
    }
}

impl std::fmt::Display for InsufficientResources {
    /// `insufficient resources: containers, disk, memory` (sorted names),
    /// or `insufficient resources` with none.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names = Vec::new();
        if self.containers {
            names.push("containers");
        }
        if self.disk {
            names.push("disk");
        }
        if self.memory {
            names.push("memory");
        }
        if names.is_empty() {
            write!(f, "insufficient resources")
        } else {
            write!(f, "insufficient resources: {}", names.join(", "))
        }
    }
}

impl std::error::Error for InsufficientResources {}

impl CellState {
    /// Reserves `lrp` in this state (one more starting container).
    pub fn add_lrp(&mut self, lrp: &Lrp) {
        self.available_resources.subtract(&lrp.resource);
        self.starting_container_count += 1;
        self.lrps.push(lrp.clone());
    }

    pub fn add_task(&mut self, task: &Task) {
        self.available_resources.subtract(&task.resource);
        self.starting_container_count += 1;
        self.tasks.push(task.clone());
    }

    /// Whether `res` fits the available resources.
    pub fn resource_match(&self, res: &Resource) -> Result<(), InsufficientResources> {
        let p = InsufficientResources {
            disk: self.available_resources.disk_mb < res.disk_mb,
            memory: self.available_resources.memory_mb < res.memory_mb,
            containers: self.available_resources.containers < 1,
        };
        if p.any() {
            Err(p)
        } else {
            Ok(())
        }
    }

    /// Resource score after placing `res`, plus the starting-container term.
    pub fn compute_score(&self, res: &Resource, starting_container_weight: f64) -> f64 {
        let mut remaining = self.available_resources;
        remaining.subtract(res);
        remaining.compute_score(&self.total_resources)
            + f64::from(self.starting_container_count) * starting_container_weight
    }

    pub fn match_root_fs(&self, rootfs: &str) -> bool {
        self.match_root_fs_parts(split_rootfs_url(rootfs).as_ref())
    }

    /// [`CellState::match_root_fs`] on a URL split by [`split_rootfs_url`]
    /// (to split once when matching many cells).
    pub fn match_root_fs_parts(&self, parts: Option<&(String, String)>) -> bool {
        match parts {
            Some((scheme, opaque)) => match self.root_fs_providers.get(scheme) {
                Some(RootFsProvider::Arbitrary) => true,
                Some(RootFsProvider::FixedSet(set)) => set.contains(opaque),
                None => false,
            },
            None => self
                .root_fs_providers
                .get("")
                .is_some_and(|p| matches!(p, RootFsProvider::Arbitrary)),
        }
    }

    pub fn match_volume_drivers(&self, drivers: &[String]) -> bool {
        drivers.iter().all(|d| self.volume_drivers.contains(d))
    }

    /// The cell's required tags ⊆ desired ⊆ required ∪ optional.
    pub fn match_placement_tags(&self, desired: &[String]) -> bool {
        self.placement_tags.iter().all(|t| desired.contains(t))
            && desired.iter().all(|t| {
                self.placement_tags.contains(t) || self.optional_placement_tags.contains(t)
            })
    }
}

/// `PUT /v2/lrps/:process_guid/instances/:instance_guid` body (`rep.LRPUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LrpUpdate {
    pub instance_guid: String,
    pub process_guid: String,
    pub index: i32,
    pub domain: String,
    pub internal_routes: Option<Vec<InternalRoute>>,
    pub metric_tags: Option<BTreeMap<String, String>>,
}

/// One internal route (`internalroutes.InternalRoute`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InternalRoute {
    pub hostname: String,
}

#[cfg(test)]
mod tests;
