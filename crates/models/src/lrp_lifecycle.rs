//! ActualLRP state rules: which transitions are legal, group resolution,
//! and the small helpers every component needs.

use crate::actual_lrp_state::*;
use crate::pb::actual_lrp::{OptionalRoutable, Presence};
use crate::pb::{
    ActualLrp, ActualLrpGroup, ActualLrpInfo, ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo,
    ModificationTag,
};

impl ActualLrpKey {
    pub fn new(process_guid: impl Into<String>, index: i32, domain: impl Into<String>) -> Self {
        Self {
            process_guid: process_guid.into(),
            index,
            domain: domain.into(),
        }
    }
}

impl ActualLrpInstanceKey {
    pub fn new(instance_guid: impl Into<String>, cell_id: impl Into<String>) -> Self {
        Self {
            instance_guid: instance_guid.into(),
            cell_id: cell_id.into(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.instance_guid.is_empty() && self.cell_id.is_empty()
    }
}

impl ActualLrp {
    pub fn key(&self) -> ActualLrpKey {
        self.actual_lrp_key.clone().unwrap_or_default()
    }
    pub fn instance_key(&self) -> ActualLrpInstanceKey {
        self.actual_lrp_instance_key.clone().unwrap_or_default()
    }
    pub fn process_guid(&self) -> &str {
        self.actual_lrp_key
            .as_ref()
            .map(|k| k.process_guid.as_str())
            .unwrap_or("")
    }
    pub fn index(&self) -> i32 {
        self.actual_lrp_key.as_ref().map(|k| k.index).unwrap_or(0)
    }
    pub fn cell_id(&self) -> &str {
        self.actual_lrp_instance_key
            .as_ref()
            .map(|k| k.cell_id.as_str())
            .unwrap_or("")
    }

    /// A new UNCLAIMED instance, with every always-present (non-nullable
    /// in Diego) sub-message set so encodings match Diego's.
    pub fn new_unclaimed(key: ActualLrpKey, since: i64) -> Self {
        Self {
            actual_lrp_key: Some(key),
            actual_lrp_instance_key: Some(ActualLrpInstanceKey::default()),
            actual_lrp_net_info: Some(ActualLrpNetInfo::default()),
            state: UNCLAIMED.to_string(),
            since,
            modification_tag: Some(ModificationTag::default()),
            ..Default::default()
        }
    }

    pub fn routable(&self) -> Option<bool> {
        self.optional_routable
            .map(|OptionalRoutable::Routable(r)| r)
    }
    pub fn set_routable(&mut self, routable: bool) {
        self.optional_routable = Some(OptionalRoutable::Routable(routable));
    }

    /// Diego's AllowsTransitionTo: may this record move to `new_state` on
    /// behalf of the caller identified by (`key`, `instance_key`)?
    pub fn allows_transition_to(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        new_state: &str,
    ) -> bool {
        if self.key() != *key {
            return false;
        }
        let same_instance = self.instance_key() == *instance_key;
        match self.state.as_str() {
            UNCLAIMED => matches!(new_state, UNCLAIMED | CLAIMED | RUNNING),
            CLAIMED => match new_state {
                UNCLAIMED => instance_key.is_empty(),
                CLAIMED | CRASHED => same_instance,
                RUNNING => true,
                _ => false,
            },
            RUNNING => match new_state {
                UNCLAIMED => instance_key.is_empty(),
                CLAIMED | RUNNING | CRASHED => same_instance,
                _ => false,
            },
            CRASHED => match new_state {
                UNCLAIMED => instance_key.is_empty(),
                CLAIMED | RUNNING => same_instance,
                _ => false,
            },
            _ => false,
        }
    }

    pub fn should_restart_crash(&self, now_ns: i64, calc: &crate::RestartCalculator) -> bool {
        self.state == CRASHED && calc.should_restart(now_ns, self.since, self.crash_count)
    }

    /// The event view of an instance (everything but its keys).
    pub fn to_info(&self) -> ActualLrpInfo {
        ActualLrpInfo {
            actual_lrp_net_info: Some(self.actual_lrp_net_info.clone().unwrap_or_default()),
            crash_count: self.crash_count,
            crash_reason: self.crash_reason.clone(),
            state: self.state.clone(),
            placement_error: self.placement_error.clone(),
            since: self.since,
            modification_tag: Some(self.modification_tag.clone().unwrap_or_default()),
            presence: self.presence,
            optional_routable: self
                .routable()
                .map(crate::pb::actual_lrp_info::OptionalRoutable::Routable),
            availability_zone: self.availability_zone.clone(),
        }
    }

    /// The deprecated group view of one record.
    pub fn to_group(&self) -> ActualLrpGroup {
        if self.presence() == Presence::Evacuating {
            ActualLrpGroup {
                instance: None,
                evacuating: Some(self.clone()),
            }
        } else {
            ActualLrpGroup {
                instance: Some(self.clone()),
                evacuating: None,
            }
        }
    }
}

/// Does `a` take precedence over `b` as the instance of a group?
fn has_higher_priority(a: &ActualLrp, b: Option<&ActualLrp>) -> bool {
    let Some(b) = b else { return true };
    match a.presence() {
        Presence::Ordinary => match a.state.as_str() {
            RUNNING => true,
            CLAIMED => b.state != RUNNING && b.state != CLAIMED,
            _ => false,
        },
        Presence::Suspect => match a.state.as_str() {
            RUNNING | CLAIMED => b.state != RUNNING,
            _ => false,
        },
        Presence::Evacuating => false,
    }
}

/// Folds instance rows into deprecated groups (instance + evacuating), in
/// first-seen order of their keys. A running SUSPECT wins over a
/// non-running ORDINARY.
pub fn resolve_actual_lrp_groups(lrps: &[ActualLrp]) -> Vec<ActualLrpGroup> {
    let mut order: Vec<ActualLrpKey> = Vec::new();
    let mut groups: std::collections::HashMap<(String, i32, String), ActualLrpGroup> =
        Default::default();
    for lrp in lrps {
        let k = lrp.key();
        let id = (k.process_guid.clone(), k.index, k.domain.clone());
        let group = groups.entry(id).or_insert_with(|| {
            order.push(k.clone());
            ActualLrpGroup::default()
        });
        if lrp.presence() == Presence::Evacuating {
            group.evacuating = Some(lrp.clone());
        } else if has_higher_priority(lrp, group.instance.as_ref()) {
            group.instance = Some(lrp.clone());
        }
    }
    order
        .into_iter()
        .map(|k| groups.remove(&(k.process_guid, k.index, k.domain)).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lrp(state: &str, instance: &str) -> ActualLrp {
        let mut l = ActualLrp::new_unclaimed(ActualLrpKey::new("pg", 0, "d"), 1);
        l.state = state.into();
        l.actual_lrp_instance_key = Some(if instance.is_empty() {
            ActualLrpInstanceKey::default()
        } else {
            ActualLrpInstanceKey::new(instance, "cell-1")
        });
        l
    }

    #[test]
    fn transition_table_matches_diego() {
        let key = ActualLrpKey::new("pg", 0, "d");
        let same = ActualLrpInstanceKey::new("ig", "cell-1");
        let other = ActualLrpInstanceKey::new("other", "cell-2");
        let empty = ActualLrpInstanceKey::default();
        // (from, caller instance key, to, allowed)
        let cases: &[(&str, &ActualLrpInstanceKey, &str, bool)] = &[
            (UNCLAIMED, &empty, UNCLAIMED, true),
            (UNCLAIMED, &other, CLAIMED, true),
            (UNCLAIMED, &other, RUNNING, true),
            (UNCLAIMED, &other, CRASHED, false),
            (CLAIMED, &empty, UNCLAIMED, true),
            (CLAIMED, &same, UNCLAIMED, false),
            (CLAIMED, &same, CLAIMED, true),
            (CLAIMED, &other, CLAIMED, false),
            (CLAIMED, &other, RUNNING, true),
            (CLAIMED, &same, CRASHED, true),
            (CLAIMED, &other, CRASHED, false),
            (RUNNING, &empty, UNCLAIMED, true),
            (RUNNING, &same, CLAIMED, true),
            (RUNNING, &other, CLAIMED, false),
            (RUNNING, &same, RUNNING, true),
            (RUNNING, &other, RUNNING, false),
            (RUNNING, &same, CRASHED, true),
            (RUNNING, &other, CRASHED, false),
            (CRASHED, &empty, UNCLAIMED, true),
            (CRASHED, &same, CLAIMED, true),
            (CRASHED, &other, CLAIMED, false),
            (CRASHED, &same, RUNNING, true),
            (CRASHED, &other, RUNNING, false),
            (CRASHED, &same, CRASHED, false),
        ];
        for (from, ik, to, want) in cases {
            let before = lrp(from, if *from == UNCLAIMED { "" } else { "ig" });
            assert_eq!(
                before.allows_transition_to(&key, ik, to),
                *want,
                "{from} -> {to} by {ik:?}"
            );
        }
        // A different LRP key never transitions.
        let before = lrp(UNCLAIMED, "");
        assert!(!before.allows_transition_to(&ActualLrpKey::new("pg", 1, "d"), &same, CLAIMED));
    }

    #[test]
    fn groups_prefer_running_suspect_and_keep_evacuating_apart() {
        let mut ordinary = lrp(CLAIMED, "ig");
        let mut suspect = lrp(RUNNING, "ig2");
        suspect.presence = Presence::Suspect as i32;
        let mut evac = lrp(RUNNING, "ig3");
        evac.presence = Presence::Evacuating as i32;
        let groups = resolve_actual_lrp_groups(&[ordinary.clone(), suspect.clone(), evac.clone()]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].instance.as_ref(), Some(&suspect));
        assert_eq!(groups[0].evacuating.as_ref(), Some(&evac));
        // A running ordinary always wins.
        ordinary.state = RUNNING.into();
        let groups = resolve_actual_lrp_groups(&[suspect.clone(), ordinary.clone()]);
        assert_eq!(groups[0].instance.as_ref(), Some(&ordinary));
    }
}
