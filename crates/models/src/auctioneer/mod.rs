//! What the BBS POSTs to the auctioneer (Diego's `auctioneer` package):
//! `POST /v1/lrps` takes a JSON array of [`LrpStartRequest`], `POST
//! /v1/tasks` a JSON array of [`TaskStartRequest`]; both answer 202.

use crate::rep::{PlacementConstraint, Resource, Task};
use serde::{Deserialize, Serialize};

/// Start these indices of one desired LRP (`auctioneer.LRPStartRequest`:
/// snake_case key fields plus the embedded placement constraint and
/// resource under their Go names).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LrpStartRequest {
    #[serde(default)]
    pub process_guid: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub indices: Vec<i32>,
    #[serde(flatten)]
    pub placement_constraint: PlacementConstraint,
    #[serde(flatten)]
    pub resource: Resource,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    Ok(Option::<Vec<i32>>::deserialize(d)?.unwrap_or_default())
}

impl LrpStartRequest {
    pub fn new(
        process_guid: &str,
        domain: &str,
        indices: Vec<i32>,
        resource: Resource,
        placement_constraint: PlacementConstraint,
    ) -> Self {
        Self {
            process_guid: process_guid.to_string(),
            domain: domain.to_string(),
            indices,
            placement_constraint,
            resource,
        }
    }

    /// Diego's validation; the error texts are Diego's (typo included).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.process_guid.is_empty() {
            Err("proccess guid is empty")
        } else if self.domain.is_empty() {
            Err("domain is empty")
        } else if self.indices.is_empty() {
            Err("indices must not be empty")
        } else if !self.resource.valid() {
            Err("resources cannot be less than 0")
        } else if !self.placement_constraint.valid() {
            Err("placement constraint cannot be empty")
        } else {
            Ok(())
        }
    }
}

/// Start one task (`auctioneer.TaskStartRequest`, an embedded `rep.Task`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskStartRequest {
    #[serde(flatten)]
    pub task: Task,
}

impl TaskStartRequest {
    pub fn new(task: Task) -> Self {
        Self { task }
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        if self.task.task_guid.is_empty() {
            Err("task guid is empty")
        } else if !self.task.resource.valid() {
            Err("resources cannot be less than zero")
        } else if !self.task.placement_constraint.valid() {
            Err("placement constraint cannot be empty")
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lrp_start_request_from_diego_json() {
        let body = r#"[{"process_guid":"pg","domain":"d","indices":[0,2],
            "PlacementTags":["a"],"VolumeDrivers":null,"RootFs":"preloaded:cflinuxfs4",
            "MemoryMB":128,"DiskMB":256,"MaxPids":10}]"#;
        let v: Vec<LrpStartRequest> = serde_json::from_str(body).unwrap();
        assert_eq!(
            v[0],
            LrpStartRequest::new(
                "pg",
                "d",
                vec![0, 2],
                Resource::new(128, 256, 10),
                PlacementConstraint::new("preloaded:cflinuxfs4", vec!["a".into()], vec![]),
            )
        );
        assert_eq!(v[0].validate(), Ok(()));
        let back = serde_json::to_value(&v[0]).unwrap();
        assert_eq!(
            back,
            json!({"process_guid":"pg","domain":"d","indices":[0,2],"PlacementTags":["a"],
                   "VolumeDrivers":[],"RootFs":"preloaded:cflinuxfs4","MemoryMB":128,
                   "DiskMB":256,"MaxPids":10})
        );
    }

    #[test]
    fn lrp_start_request_validation_strings() {
        let mut r = LrpStartRequest::default();
        assert_eq!(r.validate(), Err("proccess guid is empty"));
        r.process_guid = "p".into();
        assert_eq!(r.validate(), Err("domain is empty"));
        r.domain = "d".into();
        assert_eq!(r.validate(), Err("indices must not be empty"));
        r.indices = vec![0];
        r.resource.memory_mb = -1;
        assert_eq!(r.validate(), Err("resources cannot be less than 0"));
        r.resource.memory_mb = 1;
        assert_eq!(r.validate(), Err("placement constraint cannot be empty"));
    }

    #[test]
    fn task_start_request_is_a_flat_rep_task() {
        let body = r#"{"TaskGuid":"tg","Domain":"d","PlacementTags":null,"VolumeDrivers":["nfs"],
            "RootFs":"docker:///busybox","MemoryMB":64,"DiskMB":32,"MaxPids":0,
            "state":"Invalid","failed":false}"#;
        let t: TaskStartRequest = serde_json::from_str(body).unwrap();
        assert_eq!(t.task.task_guid, "tg");
        assert_eq!(t.task.placement_constraint.volume_drivers, vec!["nfs"]);
        assert_eq!(t.task.resource, Resource::new(64, 32, 0));
        assert_eq!(t.validate(), Ok(()));
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["TaskGuid"], "tg");
        assert_eq!(v["state"], "Invalid");
        assert_eq!(v["RootFs"], "docker:///busybox");
        let again: TaskStartRequest = serde_json::from_value(v).unwrap();
        assert_eq!(again, t);
        assert_eq!(
            TaskStartRequest::default().validate(),
            Err("task guid is empty")
        );
    }
}
