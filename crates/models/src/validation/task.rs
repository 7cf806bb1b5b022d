//! Tasks and task definitions.

use super::cached_dependencies::check_cached_dependencies;
use super::image_layers::check_image_layers;
use super::rootfs_url::has_valid_scheme;
use super::rules::{is_valid_guid, INVALID_ACTION_TYPE, MAX_ANNOTATION_BYTES};
use super::{Validate, ValidationError};
use crate::{Task, TaskDefinition};

impl Validate for TaskDefinition {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if !has_valid_scheme(&self.root_fs) {
            errs.invalid_field("rootfs");
        }
        match &self.action {
            None => errs.push(INVALID_ACTION_TYPE),
            Some(action) => errs.nested("action", action.validate()),
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
            errs.invalid_field("log_rate_limit");
        }
        if self.max_pids < 0 {
            errs.invalid_field("max_pids");
        }
        if self.annotation.len() > MAX_ANNOTATION_BYTES {
            errs.invalid_field("annotation");
        }
        // Tasks report a bad egress rule by name only, without its problems.
        for rule in &self.egress_rules {
            if rule.validate().is_err() {
                errs.invalid_field("egress_rules");
            }
        }
        if self.image_username.is_empty() && !self.image_password.is_empty() {
            errs.invalid_field("image_username");
        }
        if !self.image_username.is_empty() && self.image_password.is_empty() {
            errs.invalid_field("image_password");
        }
        check_cached_dependencies(&mut errs, &self.cached_dependencies);
        check_image_layers(&mut errs, &self.image_layers, &self.legacy_download_user);
        errs.into_result()
    }
}

/// The checks shared by a Task record and a DesireTaskRequest, in the
/// order each of them makes them.
pub(crate) fn check_task_guid(errs: &mut ValidationError, task_guid: &str) {
    if !is_valid_guid(task_guid) {
        errs.invalid_field("task_guid");
    }
}

pub(crate) fn check_task_definition(errs: &mut ValidationError, def: Option<&TaskDefinition>) {
    match def {
        None => errs.invalid_field("task_definition"),
        Some(def) => errs.absorb(def.validate()),
    }
}

impl Validate for Task {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.domain.is_empty() {
            errs.invalid_field("domain");
        }
        check_task_guid(&mut errs, &self.task_guid);
        check_task_definition(&mut errs, self.task_definition.as_ref());
        errs.into_result()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::image_layer::{MediaType, Type as LayerType};
    use crate::validation::actions::tests::run;
    use crate::{CachedDependency, ImageLayer, LogRateLimit, SecurityGroupRule};

    pub fn task_definition() -> TaskDefinition {
        TaskDefinition {
            root_fs: "preloaded:cflinuxfs4".into(),
            action: Some(run("/bin/echo", "vcap")),
            memory_mb: 256,
            disk_mb: 1024,
            ..Default::default()
        }
    }

    fn msg(d: &TaskDefinition) -> String {
        d.validate().unwrap_err().to_string()
    }

    #[test]
    fn valid_definition() {
        assert!(task_definition().validate().is_ok());
        let mut d = task_definition();
        d.log_rate_limit = Some(LogRateLimit {
            bytes_per_second: -1,
        });
        d.image_username = "u".into();
        d.image_password = "p".into();
        assert!(d.validate().is_ok());
    }

    #[test]
    fn definition_rules_in_order() {
        let d = TaskDefinition {
            memory_mb: -1,
            disk_mb: -1,
            max_pids: -1,
            log_rate_limit: Some(LogRateLimit {
                bytes_per_second: -2,
            }),
            annotation: "a".repeat(MAX_ANNOTATION_BYTES + 1),
            egress_rules: vec![SecurityGroupRule::default()],
            image_password: "p".into(),
            cached_dependencies: vec![CachedDependency::default()],
            image_layers: vec![ImageLayer {
                url: "u".into(),
                destination_path: "/d".into(),
                layer_type: LayerType::Exclusive as i32,
                media_type: MediaType::Tgz as i32,
                digest_algorithm: 1,
                digest_value: "x".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            msg(&d),
            "Invalid field: rootfs, invalid action type, Invalid field: memory_mb, \
             Invalid field: disk_mb, Invalid field: log_rate_limit, Invalid field: max_pids, \
             Invalid field: annotation, Invalid field: egress_rules, \
             Invalid field: image_username, Invalid field: cached_dependency, \
             Invalid field: from, Invalid field: to, Invalid field: legacy_download_user"
        );
        let mut d = task_definition();
        d.image_password.clear();
        d.image_username = "u".into();
        d.action = Some(run("", "vcap"));
        d.root_fs = "cflinuxfs4".into();
        assert_eq!(
            msg(&d),
            "Invalid field: rootfs, Invalid field: action, Invalid field: path, \
             Invalid field: image_password"
        );
    }

    #[test]
    fn task_rules() {
        let ok = Task {
            task_guid: "task-1".into(),
            domain: "d".into(),
            task_definition: Some(task_definition()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        assert_eq!(
            Task::default().validate().unwrap_err().to_string(),
            "Invalid field: domain, Invalid field: task_guid, Invalid field: task_definition"
        );
        let bad = Task {
            task_guid: "bad guid".into(),
            domain: "d".into(),
            task_definition: Some(TaskDefinition::default()),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "Invalid field: task_guid, Invalid field: rootfs, invalid action type"
        );
    }
}
