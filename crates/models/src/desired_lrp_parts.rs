//! Splitting a DesiredLRP into the parts Diego stores and serves separately
//! (scheduling info, run info), joining them back, and what a
//! DesiredLRPUpdate changes.

use std::collections::BTreeMap;

use crate::{
    DesiredLrp, DesiredLrpKey, DesiredLrpResource, DesiredLrpRunInfo, DesiredLrpSchedulingInfo,
    DesiredLrpUpdate, MetricTagValue, ModificationTag, ProtoRoutes, VolumePlacement,
};

impl ModificationTag {
    /// True when `other` is a later version than `self`: always when either
    /// epoch is empty or the epochs differ, else when the index grew.
    pub fn succeeded_by(&self, other: &ModificationTag) -> bool {
        if self.epoch.is_empty() || other.epoch.is_empty() {
            return true;
        }
        self.epoch != other.epoch || self.index < other.index
    }
}

impl DesiredLrp {
    pub fn desired_lrp_key(&self) -> DesiredLrpKey {
        DesiredLrpKey {
            process_guid: self.process_guid.clone(),
            domain: self.domain.clone(),
            log_guid: self.log_guid.clone(),
        }
    }

    pub fn desired_lrp_resource(&self) -> DesiredLrpResource {
        DesiredLrpResource {
            memory_mb: self.memory_mb,
            disk_mb: self.disk_mb,
            root_fs: self.root_fs.clone(),
            max_pids: self.max_pids,
        }
    }

    /// The volume drivers the LRP needs, one per mount (in mount order).
    pub fn volume_placement(&self) -> VolumePlacement {
        VolumePlacement {
            driver_names: self
                .volume_mounts
                .iter()
                .map(|m| m.driver.clone())
                .collect(),
        }
    }

    /// Diego's DesiredLRPSchedulingInfo(): every sub-message present
    /// (routes and modification tag default to empty).
    pub fn scheduling_info(&self) -> DesiredLrpSchedulingInfo {
        DesiredLrpSchedulingInfo {
            desired_lrp_key: Some(self.desired_lrp_key()),
            annotation: self.annotation.clone(),
            instances: self.instances,
            desired_lrp_resource: Some(self.desired_lrp_resource()),
            routes: Some(self.routes.clone().unwrap_or_default()),
            modification_tag: Some(self.modification_tag.clone().unwrap_or_default()),
            volume_placement: Some(self.volume_placement()),
            placement_tags: self.placement_tags.clone(),
        }
    }

    /// Diego's DesiredLRPRunInfo(createdAt): everything needed to run the
    /// LRP. Metric tags are not part of it (Diego keeps them apart), nor is
    /// the deprecated start timeout in seconds.
    pub fn run_info(&self, created_at_ns: i64) -> DesiredLrpRunInfo {
        DesiredLrpRunInfo {
            desired_lrp_key: Some(self.desired_lrp_key()),
            environment_variables: self.environment_variables.clone(),
            setup: self.setup.clone(),
            action: self.action.clone(),
            monitor: self.monitor.clone(),
            deprecated_start_timeout_s: 0,
            privileged: self.privileged,
            cpu_weight: self.cpu_weight,
            ports: self.ports.clone(),
            egress_rules: self.egress_rules.clone(),
            log_source: self.log_source.clone(),
            metrics_guid: self.metrics_guid.clone(),
            created_at: created_at_ns,
            cached_dependencies: self.cached_dependencies.clone(),
            legacy_download_user: self.legacy_download_user.clone(),
            trusted_system_certificates_path: self.trusted_system_certificates_path.clone(),
            volume_mounts: self.volume_mounts.clone(),
            network: self.network.clone(),
            start_timeout_ms: self.start_timeout_ms,
            certificate_properties: self.certificate_properties.clone(),
            image_username: self.image_username.clone(),
            image_password: self.image_password.clone(),
            check_definition: self.check_definition.clone(),
            image_layers: self.image_layers.clone(),
            metric_tags: BTreeMap::new(),
            sidecars: self.sidecars.clone(),
            log_rate_limit: self.log_rate_limit,
            volume_mounted_files: self.volume_mounted_files.clone(),
        }
    }

    /// Diego's NewDesiredLRP: the record joined from its stored parts plus
    /// the metric tags and update strategy kept beside them.
    pub fn from_parts(
        scheduling: DesiredLrpSchedulingInfo,
        run: DesiredLrpRunInfo,
        metric_tags: BTreeMap<String, MetricTagValue>,
        update_strategy: i32,
    ) -> DesiredLrp {
        let key = scheduling.desired_lrp_key.unwrap_or_default();
        let resource = scheduling.desired_lrp_resource.unwrap_or_default();
        DesiredLrp {
            process_guid: key.process_guid,
            domain: key.domain,
            log_guid: key.log_guid,
            root_fs: resource.root_fs,
            memory_mb: resource.memory_mb,
            disk_mb: resource.disk_mb,
            max_pids: resource.max_pids,
            instances: scheduling.instances,
            annotation: scheduling.annotation,
            routes: Some(scheduling.routes.unwrap_or_default()),
            modification_tag: Some(scheduling.modification_tag.unwrap_or_default()),
            placement_tags: scheduling.placement_tags,
            environment_variables: run.environment_variables,
            setup: run.setup,
            action: run.action,
            monitor: run.monitor,
            deprecated_start_timeout_s: 0,
            privileged: run.privileged,
            cpu_weight: run.cpu_weight,
            ports: run.ports,
            egress_rules: run.egress_rules,
            log_source: run.log_source,
            metrics_guid: run.metrics_guid,
            cached_dependencies: run.cached_dependencies,
            legacy_download_user: run.legacy_download_user,
            trusted_system_certificates_path: run.trusted_system_certificates_path,
            volume_mounts: run.volume_mounts,
            network: run.network,
            start_timeout_ms: run.start_timeout_ms,
            certificate_properties: run.certificate_properties,
            image_username: run.image_username,
            image_password: run.image_password,
            check_definition: run.check_definition,
            image_layers: run.image_layers,
            metric_tags,
            sidecars: run.sidecars,
            log_rate_limit: run.log_rate_limit,
            volume_mounted_files: run.volume_mounted_files,
            update_strategy,
        }
    }

    /// Diego's PopulateMetricsGuid (done on every DesiredLRP read): fills
    /// `metrics_guid` from the `source_id` tag, or the `source_id` tag from
    /// `metrics_guid`, whichever is missing.
    pub fn populate_metrics_guid(&mut self) {
        match (
            self.metric_tags.get("source_id"),
            self.metrics_guid.is_empty(),
        ) {
            (Some(source), true) => self.metrics_guid = source.r#static.clone(),
            (None, false) => {
                self.metric_tags.insert(
                    "source_id".to_string(),
                    MetricTagValue {
                        r#static: self.metrics_guid.clone(),
                        dynamic: 0,
                    },
                );
            }
            _ => {}
        }
    }
}

impl DesiredLrpUpdate {
    /// Diego's IsRoutesGroupUpdated: does this update change the routes of
    /// `router_group` (e.g. "internal-router") compared with `existing`?
    /// No routes in the update means no change; routes in the update but
    /// none existing means a change; otherwise the group's presence or bytes
    /// must differ (absent from both still counts as a change, as in Diego).
    pub fn is_routes_group_updated(
        &self,
        existing: Option<&ProtoRoutes>,
        router_group: &str,
    ) -> bool {
        let Some(new_routes) = &self.routes else {
            return false;
        };
        let Some(existing) = existing else {
            return true;
        };
        match (
            new_routes.routes.get(router_group),
            existing.routes.get(router_group),
        ) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        }
    }

    /// Diego's IsMetricTagsUpdated: the update carries tags that differ
    /// from `existing` (in keys, static or dynamic values).
    pub fn is_metric_tags_updated(&self, existing: &BTreeMap<String, MetricTagValue>) -> bool {
        if self.metric_tags.is_empty() {
            return false;
        }
        if self.metric_tags.len() != existing.len() {
            return true;
        }
        existing.iter().any(|(k, v)| match self.metric_tags.get(k) {
            None => true,
            Some(u) => u.r#static != v.r#static || u.dynamic != v.dynamic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, RunAction, VolumeMount};

    fn tag(v: &str) -> MetricTagValue {
        MetricTagValue {
            r#static: v.into(),
            dynamic: 0,
        }
    }

    fn full_lrp() -> DesiredLrp {
        let mut routes = ProtoRoutes::default();
        routes.routes.insert("cf-router".into(), b"[]".to_vec());
        DesiredLrp {
            process_guid: "pg".into(),
            domain: "d".into(),
            log_guid: "lg".into(),
            root_fs: "preloaded:cflinuxfs4".into(),
            instances: 2,
            memory_mb: 128,
            disk_mb: 256,
            max_pids: 10,
            annotation: "ann".into(),
            routes: Some(routes),
            modification_tag: Some(ModificationTag {
                epoch: "e".into(),
                index: 3,
            }),
            placement_tags: vec!["p".into()],
            volume_mounts: vec![VolumeMount {
                driver: "nfs".into(),
                ..Default::default()
            }],
            action: Some(Action {
                run_action: Some(RunAction {
                    path: "/x".into(),
                    user: "u".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            cpu_weight: 7,
            ports: vec![8080],
            metrics_guid: "pg".into(),
            metric_tags: [("source_id".to_string(), tag("pg"))].into(),
            image_username: "iu".into(),
            image_password: "ip".into(),
            start_timeout_ms: 60_000,
            update_strategy: 1,
            ..Default::default()
        }
    }

    #[test]
    fn split_and_join_round_trip() {
        let lrp = full_lrp();
        let s = lrp.scheduling_info();
        assert_eq!(s.volume_placement.as_ref().unwrap().driver_names, ["nfs"]);
        assert_eq!(s.desired_lrp_resource.as_ref().unwrap().memory_mb, 128);
        let r = lrp.run_info(42);
        assert_eq!(r.created_at, 42);
        assert!(r.metric_tags.is_empty());
        let joined = DesiredLrp::from_parts(s, r, lrp.metric_tags.clone(), lrp.update_strategy);
        assert_eq!(joined, lrp);
    }

    #[test]
    fn parts_of_a_sparse_record_have_every_submessage() {
        let s = DesiredLrp::default().scheduling_info();
        assert!(s.routes.is_some() && s.modification_tag.is_some());
        assert!(s.volume_placement.is_some());
        let joined = DesiredLrp::from_parts(
            DesiredLrpSchedulingInfo::default(),
            DesiredLrpRunInfo::default(),
            BTreeMap::new(),
            0,
        );
        assert_eq!(joined.routes, Some(ProtoRoutes::default()));
        assert_eq!(joined.modification_tag, Some(ModificationTag::default()));
    }

    #[test]
    fn populate_metrics_guid_both_ways() {
        let mut l = DesiredLrp {
            metric_tags: [("source_id".to_string(), tag("g"))].into(),
            ..Default::default()
        };
        l.populate_metrics_guid();
        assert_eq!(l.metrics_guid, "g");
        let mut l = DesiredLrp {
            metrics_guid: "m".into(),
            ..Default::default()
        };
        l.populate_metrics_guid();
        assert_eq!(l.metric_tags["source_id"].r#static, "m");
        let mut l = DesiredLrp::default();
        l.populate_metrics_guid();
        assert!(l.metric_tags.is_empty() && l.metrics_guid.is_empty());
    }

    #[test]
    fn update_change_detection() {
        let lrp = full_lrp();
        let mut u = DesiredLrpUpdate::default();
        assert!(!u.is_routes_group_updated(lrp.routes.as_ref(), "cf-router"));
        assert!(!u.is_metric_tags_updated(&lrp.metric_tags));

        u.routes = lrp.routes.clone();
        assert!(!u.is_routes_group_updated(lrp.routes.as_ref(), "cf-router"));
        assert!(u.is_routes_group_updated(lrp.routes.as_ref(), "internal-router"));
        assert!(u.is_routes_group_updated(None, "cf-router"));
        u.routes
            .as_mut()
            .unwrap()
            .routes
            .insert("cf-router".into(), b"[1]".to_vec());
        assert!(u.is_routes_group_updated(lrp.routes.as_ref(), "cf-router"));

        u.metric_tags = lrp.metric_tags.clone();
        assert!(!u.is_metric_tags_updated(&lrp.metric_tags));
        u.metric_tags.insert("x".into(), tag("y"));
        assert!(u.is_metric_tags_updated(&lrp.metric_tags));
    }

    #[test]
    fn modification_tags() {
        let a = ModificationTag {
            epoch: "e".into(),
            index: 1,
        };
        let mut b = a.clone();
        assert!(!a.succeeded_by(&b));
        b.index += 1;
        assert!(a.succeeded_by(&b));
        assert!(!b.succeeded_by(&a));
        let other = ModificationTag {
            epoch: "f".into(),
            index: 0,
        };
        assert!(b.succeeded_by(&other));
        assert!(ModificationTag::default().succeeded_by(&a));
    }
}
