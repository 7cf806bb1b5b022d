//! The tags the rep puts on executor containers (Diego's names) and what
//! it reads back from them: which LRP instance or task a container is.

use executor::Tags;
use models::rep::{Lrp, PlacementConstraint, Task};
use models::{ActualLrpInstanceKey, ActualLrpKey};

pub const LIFECYCLE: &str = "lifecycle";
pub const RESULT_FILE: &str = "result-file";
pub const DOMAIN: &str = "domain";
pub const TASK_LIFECYCLE: &str = "task";
pub const LRP_LIFECYCLE: &str = "lrp";
pub const PROCESS_GUID: &str = "process-guid";
pub const INSTANCE_GUID: &str = "instance-guid";
pub const PROCESS_INDEX: &str = "process-index";
pub const VOLUME_DRIVERS: &str = "volume-drivers";
pub const PLACEMENT_TAGS: &str = "placement-tags";

fn placement_tags(tags: &mut Tags, pc: &PlacementConstraint) {
    // JSON arrays, as Diego stores them (`null` for none).
    let json = |v: &Vec<String>| {
        if v.is_empty() {
            "null".to_string()
        } else {
            serde_json::to_string(v).unwrap_or_default()
        }
    };
    tags.insert(PLACEMENT_TAGS.into(), json(&pc.placement_tags));
    tags.insert(VOLUME_DRIVERS.into(), json(&pc.volume_drivers));
}

pub fn lrp_tags(lrp: &Lrp, instance_guid: &str) -> Tags {
    let mut t = Tags::new();
    t.insert(DOMAIN.into(), lrp.domain.clone());
    t.insert(PROCESS_GUID.into(), lrp.process_guid.clone());
    t.insert(PROCESS_INDEX.into(), lrp.index.to_string());
    t.insert(LIFECYCLE.into(), LRP_LIFECYCLE.into());
    t.insert(INSTANCE_GUID.into(), instance_guid.into());
    placement_tags(&mut t, &lrp.placement_constraint);
    t
}

pub fn task_tags(task: &Task) -> Tags {
    let mut t = Tags::new();
    t.insert(LIFECYCLE.into(), TASK_LIFECYCLE.into());
    t.insert(DOMAIN.into(), task.domain.clone());
    placement_tags(&mut t, &task.placement_constraint);
    t
}

/// The placement tags and volume drivers recorded on a container.
pub fn placement_from_tags(tags: &Tags) -> (Vec<String>, Vec<String>) {
    let parse = |k: &str| {
        tags.get(k)
            .and_then(|s| serde_json::from_str::<Option<Vec<String>>>(s).ok())
            .flatten()
            .unwrap_or_default()
    };
    (parse(PLACEMENT_TAGS), parse(VOLUME_DRIVERS))
}

/// The ActualLRPKey a container's tags name; None when they don't name a
/// valid one (Diego's `ActualLRPKeyFromTags`).
pub fn actual_lrp_key(tags: &Tags) -> Option<ActualLrpKey> {
    let index: i32 = tags.get(PROCESS_INDEX)?.parse().ok()?;
    let process_guid = tags.get(PROCESS_GUID)?.clone();
    let domain = tags.get(DOMAIN)?.clone();
    if process_guid.is_empty() || domain.is_empty() || index < 0 {
        return None;
    }
    Some(ActualLrpKey {
        process_guid,
        index,
        domain,
    })
}

pub fn actual_lrp_instance_key(tags: &Tags, cell_id: &str) -> Option<ActualLrpInstanceKey> {
    let instance_guid = tags.get(INSTANCE_GUID)?.clone();
    if instance_guid.is_empty() || cell_id.is_empty() {
        return None;
    }
    Some(ActualLrpInstanceKey {
        instance_guid,
        cell_id: cell_id.to_string(),
    })
}

/// The container guid of an LRP instance: Diego uses the instance guid.
pub fn lrp_container_guid(_process_guid: &str, instance_guid: &str) -> String {
    instance_guid.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::rep::Resource;

    #[test]
    fn lrp_tags_round_trip() {
        let key = ActualLrpKey {
            process_guid: "pg".into(),
            index: 3,
            domain: "d".into(),
        };
        let lrp = Lrp::new(
            "",
            &key,
            Resource::new(128, 256, 0),
            PlacementConstraint::new("preloaded:cflinuxfs4", vec!["a".into()], vec![]),
        );
        let tags = lrp_tags(&lrp, "ig");
        assert_eq!(tags[PLACEMENT_TAGS], r#"["a"]"#);
        assert_eq!(tags[VOLUME_DRIVERS], "null");
        assert_eq!(actual_lrp_key(&tags), Some(key));
        assert_eq!(
            actual_lrp_instance_key(&tags, "cell")
                .unwrap()
                .instance_guid,
            "ig"
        );
        assert_eq!(placement_from_tags(&tags), (vec!["a".to_string()], vec![]));
        let task = task_tags(&Task::default());
        assert_eq!(task[LIFECYCLE], TASK_LIFECYCLE);
        assert_eq!(actual_lrp_key(&task), None);
    }
}
