//! What the rep asks the executor to run for a desired LRP instance or a
//! task (Diego's `NewRunRequestFromDesiredLRP` / `NewRunRequestFromTask`).

use crate::tags;
use executor::{LogConfig, PortMapping, RunInfo, Tags};
use models::{ActualLrpInstanceKey, ActualLrpKey, DesiredLrp, Task};
use std::collections::BTreeMap;

fn env_pairs(vars: &[models::EnvironmentVariable]) -> Vec<(String, String)> {
    vars.iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

pub fn lrp_run_info(
    desired: &DesiredLrp,
    key: &ActualLrpKey,
    instance: &ActualLrpInstanceKey,
) -> RunInfo {
    let index = key.index.to_string();
    let mut env = vec![
        ("INSTANCE_GUID".to_string(), instance.instance_guid.clone()),
        ("INSTANCE_INDEX".to_string(), index.clone()),
        (
            "CF_INSTANCE_GUID".to_string(),
            instance.instance_guid.clone(),
        ),
        ("CF_INSTANCE_INDEX".to_string(), index),
    ];
    env.extend(env_pairs(&desired.environment_variables));
    let start_timeout_ms = if desired.start_timeout_ms > 0 {
        desired.start_timeout_ms as u64
    } else {
        u64::from(desired.deprecated_start_timeout_s) * 1000
    };
    RunInfo {
        rootfs: desired.root_fs.clone(),
        image_username: desired.image_username.clone(),
        image_password: desired.image_password.clone(),
        cpu_weight: desired.cpu_weight.max(1),
        ports: desired
            .ports
            .iter()
            .map(|p| PortMapping {
                container_port: *p as u16,
                host_port: 0,
            })
            .collect(),
        log_config: LogConfig {
            guid: desired.log_guid.clone(),
            index: key.index,
            source_name: desired.log_source.clone(),
            tags: metric_tags(desired, key, instance),
        },
        start_timeout_ms,
        privileged: desired.privileged,
        setup: desired.setup.clone(),
        action: desired.action.clone(),
        monitor: desired.monitor.clone(),
        check_definition: desired.check_definition.clone(),
        env,
        cached_dependencies: desired.cached_dependencies.clone(),
        egress_rules: desired.egress_rules.clone(),
        log_rate_limit: desired.log_rate_limit.map(|l| l.bytes_per_second),
    }
}

/// Tags (rep-internal) carrying what StartActualLRP reports besides the
/// net info: the instance's metric tags and internal routes, as JSON.
pub const METRIC_TAGS_TAG: &str = "rep-metric-tags";
pub const INTERNAL_ROUTES_TAG: &str = "rep-internal-routes";

/// Diego's `ConvertMetricTags`: static values as they are, dynamic ones
/// from the instance.
pub fn metric_tags(
    desired: &DesiredLrp,
    key: &ActualLrpKey,
    instance: &ActualLrpInstanceKey,
) -> BTreeMap<String, String> {
    use models::metric_tag_value::DynamicValue;
    desired
        .metric_tags
        .iter()
        .map(|(k, v)| {
            let value = match DynamicValue::try_from(v.dynamic) {
                Ok(DynamicValue::Index) => key.index.to_string(),
                Ok(DynamicValue::InstanceGuid) => instance.instance_guid.clone(),
                _ => v.r#static.clone(),
            };
            (k.clone(), value)
        })
        .collect()
}

/// Hostnames of the desired LRP's `internal-router` routes.
pub fn internal_routes(desired: &DesiredLrp) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Route {
        hostname: String,
    }
    desired
        .routes
        .as_ref()
        .and_then(|r| r.routes.get("internal-router"))
        .and_then(|b| serde_json::from_slice::<Vec<Route>>(b).ok())
        .map(|v| v.into_iter().map(|r| r.hostname).collect())
        .unwrap_or_default()
}

/// The tags an LRP container gets when it runs.
pub fn lrp_run_tags(
    desired: &DesiredLrp,
    key: &ActualLrpKey,
    instance: &ActualLrpInstanceKey,
) -> Tags {
    let mut tags = Tags::new();
    tags.insert(
        METRIC_TAGS_TAG.into(),
        serde_json::to_string(&metric_tags(desired, key, instance)).unwrap_or_default(),
    );
    tags.insert(
        INTERNAL_ROUTES_TAG.into(),
        serde_json::to_string(&internal_routes(desired)).unwrap_or_default(),
    );
    tags
}

/// The run info of a task and the tags it adds (its result file).
pub fn task_run_info(task: &Task) -> (RunInfo, Tags) {
    let def = task.task_definition.clone().unwrap_or_default();
    let mut tags = Tags::new();
    tags.insert(tags::RESULT_FILE.into(), def.result_file.clone());
    let info = RunInfo {
        rootfs: def.root_fs.clone(),
        image_username: def.image_username.clone(),
        image_password: def.image_password.clone(),
        cpu_weight: def.cpu_weight,
        ports: vec![],
        log_config: LogConfig {
            guid: def.log_guid.clone(),
            index: 0,
            source_name: def.log_source.clone(),
            tags: def
                .metric_tags
                .iter()
                .map(|(k, v)| (k.clone(), v.r#static.clone()))
                .collect(),
        },
        start_timeout_ms: 0,
        privileged: def.privileged,
        setup: None,
        action: def.action.clone(),
        monitor: None,
        check_definition: None,
        env: env_pairs(&def.environment_variables),
        cached_dependencies: def.cached_dependencies.clone(),
        egress_rules: def.egress_rules.clone(),
        log_rate_limit: def.log_rate_limit.map(|l| l.bytes_per_second),
    };
    (info, tags)
}
