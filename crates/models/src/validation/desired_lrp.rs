//! DesiredLRP records: the full record, its update, its key, resource,
//! scheduling info and run info.
//!
//! Diego validates a DesiredLRP with its own checks and then with the checks
//! of the run info derived from it, so some problems (domain, volume-mounted
//! files, log rate limit) can appear twice, under two names.

use std::collections::BTreeMap;

use super::cached_dependencies::check_cached_dependencies;
use super::image_layers::check_image_layers;
use super::metric_tags::metric_tags_problems;
use super::rootfs_url::has_valid_scheme;
use super::rules::{
    is_valid_guid, routes_too_large, volume_mounted_files_too_large, INVALID_ACTION_TYPE,
    MAX_ANNOTATION_BYTES,
};
use super::sidecars::check_sidecars;
use super::{Validate, ValidationError};
use crate::desired_lrp_update::{OptionalImagePassword, OptionalImageUsername, OptionalInstances};
use crate::{
    Action, CachedDependency, CheckDefinition, DesiredLrp, DesiredLrpKey, DesiredLrpResource,
    DesiredLrpRunInfo, DesiredLrpSchedulingInfo, DesiredLrpUpdate, EnvironmentVariable, File,
    ImageLayer, LogRateLimit, ProtoRoutes, SecurityGroupRule, Sidecar, VolumeMount,
};

fn routes_exceed_limit(routes: Option<&ProtoRoutes>) -> bool {
    routes.is_some_and(|r| routes_too_large(r.routes.values()))
}

fn check_key(errs: &mut ValidationError, process_guid: &str, domain: &str) {
    if domain.is_empty() {
        errs.invalid_field("domain");
    }
    if !is_valid_guid(process_guid) {
        errs.invalid_field("process_guid");
    }
}

impl Validate for DesiredLrpKey {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_key(&mut errs, &self.process_guid, &self.domain);
        errs.into_result()
    }
}

impl Validate for DesiredLrpResource {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if !has_valid_scheme(&self.root_fs) {
            errs.invalid_field("rootfs");
        }
        if self.memory_mb < 0 {
            errs.invalid_field("memory_mb");
        }
        if self.disk_mb < 0 {
            errs.invalid_field("disk_mb");
        }
        if self.max_pids < 0 {
            errs.invalid_field("max_pids");
        }
        errs.into_result()
    }
}

impl Validate for ProtoRoutes {
    /// All route payloads together may not exceed 128 KiB.
    fn validate(&self) -> Result<(), ValidationError> {
        if routes_too_large(self.routes.values()) {
            return Err(ValidationError::single("Invalid field: routes"));
        }
        Ok(())
    }
}

impl Validate for DesiredLrpSchedulingInfo {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        errs.absorb(self.desired_lrp_key.clone().unwrap_or_default().validate());
        errs.absorb(
            self.desired_lrp_resource
                .clone()
                .unwrap_or_default()
                .validate(),
        );
        if let Some(routes) = &self.routes {
            errs.absorb(routes.validate());
        }
        if self.instances < 0 {
            errs.invalid_field("instances");
        }
        if self.annotation.len() > MAX_ANNOTATION_BYTES {
            errs.invalid_field("annotation");
        }
        errs.into_result()
    }
}

/// The run-info fields Diego checks, borrowed from either a DesiredLRP or a
/// DesiredLRPRunInfo.
struct RunInfoView<'a> {
    process_guid: &'a str,
    domain: &'a str,
    volume_mounted_files: &'a [File],
    setup: Option<&'a Action>,
    action: Option<&'a Action>,
    monitor: Option<&'a Action>,
    environment_variables: &'a [EnvironmentVariable],
    egress_rules: &'a [SecurityGroupRule],
    cached_dependencies: &'a [CachedDependency],
    image_layers: &'a [ImageLayer],
    legacy_download_user: &'a str,
    sidecars: &'a [Sidecar],
    volume_mounts: &'a [VolumeMount],
    image_username: &'a str,
    image_password: &'a str,
    check_definition: Option<&'a CheckDefinition>,
    log_rate_limit: Option<&'a LogRateLimit>,
}

impl RunInfoView<'_> {
    fn problems(&self) -> ValidationError {
        let mut errs = ValidationError::default();
        check_key(&mut errs, self.process_guid, self.domain);
        if volume_mounted_files_too_large(self.volume_mounted_files) {
            errs.invalid_field("volumeMountedFiles");
        }
        if let Some(setup) = self.setup {
            errs.nested("setup", setup.validate());
        }
        match self.action {
            None => errs.push(INVALID_ACTION_TYPE),
            Some(action) => errs.nested("action", action.validate()),
        }
        if let Some(monitor) = self.monitor {
            errs.nested("monitor", monitor.validate());
        }
        for env in self.environment_variables {
            errs.absorb(env.validate());
        }
        for rule in self.egress_rules {
            errs.nested("egress_rules", rule.validate());
        }
        check_cached_dependencies(&mut errs, self.cached_dependencies);
        check_image_layers(&mut errs, self.image_layers, self.legacy_download_user);
        check_sidecars(&mut errs, self.sidecars);
        for mount in self.volume_mounts {
            errs.absorb(mount.validate());
        }
        if self.image_username.is_empty() && !self.image_password.is_empty() {
            errs.invalid_field("image_username");
        }
        if !self.image_username.is_empty() && self.image_password.is_empty() {
            errs.invalid_field("image_password");
        }
        if let Some(check) = self.check_definition {
            errs.nested("check_definition", check.validate());
        }
        if self.log_rate_limit.is_some_and(|l| l.bytes_per_second < -1) {
            errs.invalid_field("log_rate_limit");
        }
        errs
    }
}

impl Validate for DesiredLrpRunInfo {
    fn validate(&self) -> Result<(), ValidationError> {
        let key = self.desired_lrp_key.as_ref();
        RunInfoView {
            process_guid: key.map_or("", |k| k.process_guid.as_str()),
            domain: key.map_or("", |k| k.domain.as_str()),
            volume_mounted_files: &self.volume_mounted_files,
            setup: self.setup.as_ref(),
            action: self.action.as_ref(),
            monitor: self.monitor.as_ref(),
            environment_variables: &self.environment_variables,
            egress_rules: &self.egress_rules,
            cached_dependencies: &self.cached_dependencies,
            image_layers: &self.image_layers,
            legacy_download_user: &self.legacy_download_user,
            sidecars: &self.sidecars,
            volume_mounts: &self.volume_mounts,
            image_username: &self.image_username,
            image_password: &self.image_password,
            check_definition: self.check_definition.as_ref(),
            log_rate_limit: self.log_rate_limit.as_ref(),
        }
        .problems()
        .into_result()
    }
}

impl Validate for DesiredLrp {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if volume_mounted_files_too_large(&self.volume_mounted_files) {
            errs.invalid_field("volumeMountedFiles");
        }
        if self.domain.is_empty() {
            errs.invalid_field("domain");
        }
        // An empty rootfs fails both the presence and the URL rule.
        if self.root_fs.is_empty() {
            errs.invalid_field("rootfs");
        }
        if !has_valid_scheme(&self.root_fs) {
            errs.invalid_field("rootfs");
        }
        if self.instances < 0 {
            errs.invalid_field("instances");
        }
        if self.memory_mb < 0 {
            errs.invalid_field("memory_mb");
        }
        if self.disk_mb < 0 {
            errs.invalid_field("disk_mb");
        }
        if self
            .log_rate_limit
            .as_ref()
            .is_some_and(|l| l.bytes_per_second < -1)
        {
            errs.invalid_field("log_rate_limit_bytes_per_second");
        }
        if self.annotation.len() > MAX_ANNOTATION_BYTES {
            errs.invalid_field("annotation");
        }
        if self.max_pids < 0 {
            errs.invalid_field("max_pids");
        }
        if routes_exceed_limit(self.routes.as_ref()) {
            errs.invalid_field("routes");
        }
        // Absent on the wire means no map at all, which Diego refuses.
        if self.metric_tags.is_empty() {
            errs.invalid_field("metric_tags");
        } else {
            errs.nested(
                "metric_tags",
                metric_tags_problems(&self.metric_tags, &self.metrics_guid).into_result(),
            );
        }
        errs.append(
            RunInfoView {
                process_guid: &self.process_guid,
                domain: &self.domain,
                volume_mounted_files: &self.volume_mounted_files,
                setup: self.setup.as_ref(),
                action: self.action.as_ref(),
                monitor: self.monitor.as_ref(),
                environment_variables: &self.environment_variables,
                egress_rules: &self.egress_rules,
                cached_dependencies: &self.cached_dependencies,
                image_layers: &self.image_layers,
                legacy_download_user: &self.legacy_download_user,
                sidecars: &self.sidecars,
                volume_mounts: &self.volume_mounts,
                image_username: &self.image_username,
                image_password: &self.image_password,
                check_definition: self.check_definition.as_ref(),
                log_rate_limit: self.log_rate_limit.as_ref(),
            }
            .problems(),
        );
        errs.into_result()
    }
}

/// Metric-tag problems of an update (no metrics guid to compare with).
fn update_metric_tags_problems(tags: &BTreeMap<String, crate::MetricTagValue>) -> ValidationError {
    metric_tags_problems(tags, "")
}

impl Validate for DesiredLrpUpdate {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if let Some(OptionalInstances::Instances(n)) = self.optional_instances {
            if n < 0 {
                errs.invalid_field("instances");
            }
        }
        let annotation_len = match &self.optional_annotation {
            Some(crate::desired_lrp_update::OptionalAnnotation::Annotation(a)) => a.len(),
            None => 0,
        };
        if annotation_len > MAX_ANNOTATION_BYTES {
            errs.invalid_field("annotation");
        }
        if routes_exceed_limit(self.routes.as_ref()) {
            errs.invalid_field("routes");
        }
        errs.nested(
            "metric_tags",
            update_metric_tags_problems(&self.metric_tags).into_result(),
        );
        let has_username = matches!(
            self.optional_image_username,
            Some(OptionalImageUsername::ImageUsername(_))
        );
        let has_password = matches!(
            self.optional_image_password,
            Some(OptionalImagePassword::ImagePassword(_))
        );
        if has_username && !has_password {
            errs.invalid_field("image_password");
        }
        if !has_username && has_password {
            errs.invalid_field("image_username");
        }
        errs.into_result()
    }
}
