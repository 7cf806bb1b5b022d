//! The DesiredLRP of a buildpack app's process (Cloud Controller's
//! `AppRecipeBuilder` with the buildpack `DesiredLrpBuilder` and
//! `MainLRPActionBuilder`): download the droplet into /home/vcap, run the
//! launcher with the start command, check the ports, route the hostnames.

use crate::actions::*;
use crate::constants::*;
use crate::env::{running_environment, var, AppFacts};
use crate::staging::Download;
use models::{
    metric_tag_value::DynamicValue, CachedDependency, CertificateProperties, Check,
    CheckDefinition, DesiredLrp, DownloadAction, HttpCheck, MetricTagValue, Network, ProtoRoutes,
    ResourceLimits, RunAction, TcpCheck,
};
use std::collections::BTreeMap;

/// How the cell decides an instance is healthy (Cloud Controller's
/// `health_check_type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HealthCheck {
    /// A TCP connection to each port (the default).
    #[default]
    Port,
    /// An HTTP GET of `endpoint` on the first port answering 200.
    Http { endpoint: String },
    /// Only that the process runs.
    Process,
}

/// One process of a staged app.
#[derive(Debug, Clone, Default)]
pub struct AppRequest {
    /// The LRP's guid (Cloud Controller: `<process guid>-<version>`).
    pub process_guid: String,
    /// The app, with `process_guid`/`process_type` set for this process.
    pub app: AppFacts,
    pub instances: i32,
    /// e.g. "cflinuxfs4".
    pub stack: String,
    /// `buildpack_app_lifecycle.tgz` on the file server.
    pub lifecycle_bundle_url: String,
    /// The droplet on the file server, with its SHA-256.
    pub droplet: Download,
    /// The command to run: the process's (from the Procfile, the push or
    /// result.json's `process_types`); empty: the droplet's
    /// staging_info.yml decides.
    pub start_command: String,
    /// result.json's `execution_metadata` (empty for buildpack apps).
    pub execution_metadata: String,
    /// Empty: [8080].
    pub ports: Vec<u32>,
    /// Hostnames routed to the first port by the HTTP router.
    pub routes: Vec<String>,
    pub health_check: HealthCheck,
    /// How long instances may take to become healthy; 0: 60 s.
    pub health_check_timeout_s: u64,
    /// A single check's timeout; 0: the cell's default.
    pub health_check_invocation_timeout_s: u64,
    /// VCAP_SERVICES JSON; empty: `{}`.
    pub vcap_services: String,
    /// The app's own variables.
    pub environment: Vec<(String, String)>,
    pub privileged: bool,
    /// 0: no limit.
    pub max_pids: i32,
    /// What instances may reach (Cloud Controller: the space's running
    /// security groups); the cell denies all other egress but DNS.
    pub egress_rules: Vec<models::SecurityGroupRule>,
    pub annotation: String,
}

impl AppRequest {
    fn ports(&self) -> Vec<u32> {
        if self.ports.is_empty() {
            vec![DEFAULT_APP_PORT]
        } else {
            self.ports.clone()
        }
    }

    fn process_type(&self) -> &str {
        if self.app.process_type.is_empty() {
            "web"
        } else {
            &self.app.process_type
        }
    }

    fn file_descriptors(&self) -> u64 {
        if self.app.file_descriptors > 0 {
            self.app.file_descriptors
        } else {
            DEFAULT_FILE_DESCRIPTOR_LIMIT
        }
    }
}

/// The DesiredLRP Cloud Controller desires for a buildpack app's process.
pub fn buildpack_desired_lrp(req: &AppRequest) -> DesiredLrp {
    let ports = req.ports();
    let (algorithm, value) = if req.droplet.sha256.is_empty() {
        (String::new(), String::new())
    } else {
        ("sha256".to_string(), req.droplet.sha256.clone())
    };
    let setup = serial(vec![download(DownloadAction {
        from: req.droplet.url.clone(),
        to: ".".into(),
        cache_key: format!("droplets-{}", req.process_guid),
        user: APP_USER.into(),
        checksum_algorithm: algorithm,
        checksum_value: value,
        ..Default::default()
    })]);
    let action = codependent(vec![run(RunAction {
        path: format!("{LIFECYCLE_DIR}/launcher"),
        args: vec![
            "app".into(),
            req.start_command.clone(),
            req.execution_metadata.clone(),
        ],
        user: APP_USER.into(),
        env: running_environment(&req.app, ports[0], &req.vcap_services, &req.environment),
        log_source: format!("APP/PROC/{}", req.process_type().to_uppercase()),
        resource_limits: Some(ResourceLimits {
            optional_nofile: Some(models::resource_limits::OptionalNofile::Nofile(
                req.file_descriptors(),
            )),
            ..Default::default()
        }),
        ..Default::default()
    })]);
    let timeout_s = if req.health_check_timeout_s > 0 {
        req.health_check_timeout_s
    } else {
        DEFAULT_HEALTH_CHECK_TIMEOUT_S
    };
    DesiredLrp {
        process_guid: req.process_guid.clone(),
        domain: APP_LRP_DOMAIN.into(),
        root_fs: format!("preloaded:{}", req.stack),
        instances: req.instances,
        environment_variables: vec![var("LANG", DEFAULT_LANG)],
        setup: Some(setup),
        action: Some(action),
        check_definition: check_definition(req, &ports),
        start_timeout_ms: (timeout_s * 1000) as i64,
        disk_mb: req.app.disk_mb,
        memory_mb: req.app.memory_mb,
        cpu_weight: cpu_weight(req.app.memory_mb),
        privileged: req.privileged,
        ports: ports.clone(),
        routes: Some(routes(&req.routes, ports[0])),
        log_source: LRP_LOG_SOURCE.into(),
        log_guid: req.app.app_guid.clone(),
        metrics_guid: req.app.app_guid.clone(),
        metric_tags: metric_tags(req),
        annotation: req.annotation.clone(),
        cached_dependencies: vec![CachedDependency {
            from: req.lifecycle_bundle_url.clone(),
            to: LIFECYCLE_DIR.into(),
            cache_key: format!("buildpack-{}-lifecycle", req.stack),
            ..Default::default()
        }],
        legacy_download_user: APP_USER.into(),
        trusted_system_certificates_path: TRUSTED_SYSTEM_CERT_PATH.into(),
        network: Some(network(req, &ports)),
        max_pids: req.max_pids,
        egress_rules: req.egress_rules.clone(),
        certificate_properties: Some(CertificateProperties {
            organizational_unit: vec![
                format!("organization:{}", req.app.organization_guid),
                format!("space:{}", req.app.space_guid),
                format!("app:{}", req.app.app_guid),
            ],
        }),
        ..Default::default()
    }
}

/// Checks on every port (HTTP on the first one for `Http`), none for
/// `Process`. The cell runs them itself, so no `monitor` action (and no
/// healthcheck binary in the lifecycle) is needed.
fn check_definition(req: &AppRequest, ports: &[u32]) -> Option<CheckDefinition> {
    if req.health_check == HealthCheck::Process {
        return None;
    }
    let timeout_ms = req.health_check_invocation_timeout_s * 1000;
    let checks = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| match &req.health_check {
            HealthCheck::Http { endpoint } if i == 0 => Check {
                http_check: Some(HttpCheck {
                    port,
                    path: endpoint.clone(),
                    request_timeout_ms: timeout_ms,
                    ..Default::default()
                }),
                tcp_check: None,
            },
            _ => Check {
                tcp_check: Some(TcpCheck {
                    port,
                    connect_timeout_ms: timeout_ms,
                    ..Default::default()
                }),
                http_check: None,
            },
        })
        .collect();
    Some(CheckDefinition {
        checks,
        log_source: HEALTH_LOG_SOURCE.into(),
        readiness_checks: vec![],
    })
}

/// Cloud Controller's `TaskCpuWeightCalculator`: memory between 128 MB and
/// 8 GB, as a percentage of 8 GB.
pub fn cpu_weight(memory_mb: i32) -> u32 {
    let m = memory_mb.clamp(128, 8192) as u32;
    (100 * m / 8192).max(1)
}

/// The router keys Cloud Controller fills: HTTP routes to `port`, no TCP or
/// internal routes.
pub fn routes(hostnames: &[String], port: u32) -> ProtoRoutes {
    let http: Vec<serde_json::Value> = hostnames
        .iter()
        .map(|h| {
            serde_json::json!({
                "hostnames": [h],
                "port": port,
                "route_service_url": null,
                "isolation_segment": null,
                "protocol": "http1",
            })
        })
        .collect();
    ProtoRoutes {
        routes: BTreeMap::from([
            (
                "cf-router".to_string(),
                serde_json::Value::Array(http).to_string().into_bytes(),
            ),
            ("tcp-router".to_string(), b"[]".to_vec()),
            ("internal-router".to_string(), b"[]".to_vec()),
        ]),
    }
}

fn metric_tags(req: &AppRequest) -> BTreeMap<String, MetricTagValue> {
    let fixed = |v: &str| MetricTagValue {
        r#static: v.to_string(),
        dynamic: 0,
    };
    let dynamic = |d: DynamicValue| MetricTagValue {
        r#static: String::new(),
        dynamic: d as i32,
    };
    let a = &req.app;
    BTreeMap::from([
        ("source_id".to_string(), fixed(&a.app_guid)),
        ("process_id".to_string(), fixed(&a.process_guid)),
        ("process_type".to_string(), fixed(req.process_type())),
        (
            "process_instance_id".to_string(),
            dynamic(DynamicValue::InstanceGuid),
        ),
        ("instance_id".to_string(), dynamic(DynamicValue::Index)),
        ("organization_id".to_string(), fixed(&a.organization_guid)),
        ("space_id".to_string(), fixed(&a.space_guid)),
        ("app_id".to_string(), fixed(&a.app_guid)),
        ("organization_name".to_string(), fixed(&a.organization_name)),
        ("space_name".to_string(), fixed(&a.space_name)),
        ("app_name".to_string(), fixed(&a.app_name)),
    ])
}

fn network(req: &AppRequest, ports: &[u32]) -> Network {
    let a = &req.app;
    let ports: Vec<String> = ports.iter().map(u32::to_string).collect();
    Network {
        properties: [
            ("policy_group_id", a.app_guid.as_str()),
            ("app_id", a.app_guid.as_str()),
            ("space_id", a.space_guid.as_str()),
            ("org_id", a.organization_guid.as_str()),
            ("ports", &ports.join(",")),
            ("container_workload", "app"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

#[cfg(test)]
mod tests;
