//! The DesiredLRP of a process, as Cloud Controller asks it of Diego:
//! download the droplet, run the start command inside a codependent
//! action (so a process that exits, even with status 0, ends the instance
//! at once: Diego reports "Codependent step exited"), check the port or
//! endpoint, route the app's hostnames.
//!
//! Droplets from bits without staging (until the buildpack lifecycle
//! lands) are the package itself, run with `sh -c` on the
//! `preloaded:<stack>` rootfs; docker droplets run the image
//! (`docker://...`).

use crate::image_config::{rootfs_url, ImageExecution};
use crate::store::{AppRec, DropletRec, ProcessRec, RevisionRec};
use models::capi::{health_check_type, DOCKER};
use models::{
    metric_tag_value::DynamicValue, Action, Check, CheckDefinition, CodependentAction, DesiredLrp,
    DownloadAction, EnvironmentVariable, HttpCheck, MetricTagValue, ProtoRoutes, RunAction,
    TcpCheck,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Cloud Controller's domain for app LRPs.
pub const DOMAIN: &str = "cf-apps";
pub const APP_PORT: u32 = 8080;
pub const APP_DIR: &str = "/home/vcap/app";
pub const USER: &str = "vcap";
/// The LRP's own log source (Cloud Controller's LRP_LOG_SOURCE).
pub use recipes::LRP_LOG_SOURCE;
pub const DEFAULT_HEALTH_CHECK_TIMEOUT_S: u32 = 60;
/// The command a droplet of plain files runs: busybox's web server on the
/// instance's port, serving the app directory.
pub const DEFAULT_START_COMMAND: &str = "busybox httpd -f -p $PORT -h .";

/// Everything an LRP is made from.
pub struct LrpInput<'a> {
    pub app: &'a AppRec,
    pub process: &'a ProcessRec,
    pub revision: &'a RevisionRec,
    pub droplet: &'a DropletRec,
    /// Where cells download the droplet.
    pub droplet_url: String,
    /// Staged droplets: the launcher's bundle on the file server.
    pub lifecycle_bundle_url: String,
    /// What VCAP_APPLICATION says (staged droplets).
    pub facts: recipes::AppFacts,
}

/// The command the process runs: the revision's for its type, else the
/// process's own, else the droplet's.
pub fn start_command(input: &LrpInput) -> String {
    input
        .revision
        .commands
        .get(&input.process.kind)
        .cloned()
        .flatten()
        .or_else(|| input.process.command.clone())
        .or_else(|| {
            input
                .droplet
                .process_types
                .get(&input.process.kind)
                .cloned()
        })
        .unwrap_or_default()
}

fn log_source(kind: &str) -> String {
    format!("APP/PROC/{}", kind.to_uppercase())
}

pub fn routes(hostnames: &[String]) -> ProtoRoutes {
    routes_on(hostnames, APP_PORT)
}

/// The route to `port` (an image's first exposed port).
pub fn routes_on(hostnames: &[String], port: u32) -> ProtoRoutes {
    let cf_router = serde_json::json!([{ "hostnames": hostnames, "port": port }]);
    ProtoRoutes {
        routes: BTreeMap::from([("cf-router".to_string(), cf_router.to_string().into_bytes())]),
    }
}

fn check_definition(p: &ProcessRec, port: u32) -> Option<CheckDefinition> {
    let invocation_ms = p
        .health_check
        .data
        .invocation_timeout
        .map_or(0, |s| u64::from(s) * 1000);
    let check = match p.health_check.kind.as_str() {
        health_check_type::PROCESS => return None,
        health_check_type::HTTP => Check {
            http_check: Some(HttpCheck {
                port,
                path: p
                    .health_check
                    .data
                    .endpoint
                    .clone()
                    .unwrap_or_else(|| "/".into()),
                request_timeout_ms: invocation_ms,
                ..Default::default()
            }),
            tcp_check: None,
        },
        _ => Check {
            tcp_check: Some(TcpCheck {
                port,
                connect_timeout_ms: invocation_ms,
                ..Default::default()
            }),
            http_check: None,
        },
    };
    Some(CheckDefinition {
        checks: vec![check],
        log_source: "HEALTH".into(),
        readiness_checks: vec![],
    })
}

fn env(input: &LrpInput, port: u32) -> Vec<EnvironmentVariable> {
    let mut vars = vec![EnvironmentVariable {
        name: "PORT".into(),
        value: port.to_string(),
    }];
    if input.droplet.image.is_none() {
        vars.push(EnvironmentVariable {
            name: "MEMORY_LIMIT".into(),
            value: format!("{}m", input.process.memory_mb),
        });
    }
    vars.extend(input.revision.env.iter().map(|(k, v)| EnvironmentVariable {
        name: k.clone(),
        value: v.clone(),
    }));
    vars
}

fn metric_tags(input: &LrpInput) -> BTreeMap<String, MetricTagValue> {
    let fixed = |v: &str| MetricTagValue {
        r#static: v.to_string(),
        dynamic: 0,
    };
    BTreeMap::from([
        ("source_id".into(), fixed(&input.app.guid)),
        ("app_id".into(), fixed(&input.app.guid)),
        ("app_name".into(), fixed(&input.app.name)),
        ("process_id".into(), fixed(&input.process.guid)),
        ("process_type".into(), fixed(&input.process.kind)),
        (
            "instance_index".into(),
            MetricTagValue {
                r#static: String::new(),
                dynamic: DynamicValue::Index as i32,
            },
        ),
    ])
}

/// The LRP for `input`, with a digest of what cannot change in place in
/// its annotation (so a sync sees when it must be replaced).
pub fn desired_lrp(input: &LrpInput) -> Result<DesiredLrp, String> {
    if input.droplet.staged() {
        return Ok(staged_lrp(input));
    }
    let command = start_command(input);
    let docker = input.app.lifecycle.kind == DOCKER || input.droplet.image.is_some();
    let (root_fs, setup, run, ports) = if docker {
        let image = input
            .droplet
            .image
            .clone()
            .ok_or("a docker droplet without an image")?;
        // The image's config as docker staging read it (Cloud Controller's
        // docker LRP: Entrypoint/Cmd unless a command is given, WorkingDir,
        // the image's user, its exposed TCP ports, its env).
        let exec = ImageExecution::parse(&input.droplet.execution_metadata).unwrap_or_default();
        let md = &exec.metadata;
        let argv = md
            .command(Some(command.as_str()))
            .map_err(|e| format!("{image}: {e} (-c)"))?;
        let ports: Vec<u32> = md.tcp_ports().into_iter().map(u32::from).collect();
        let mut vars: Vec<EnvironmentVariable> = exec
            .env
            .iter()
            .filter_map(|e| e.split_once('='))
            .filter(|(k, _)| *k != "PORT")
            .map(|(k, v)| EnvironmentVariable {
                name: k.into(),
                value: v.into(),
            })
            .collect();
        vars.extend(env(input, ports[0]));
        let run = RunAction {
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            dir: if md.workdir.is_empty() {
                "/".into()
            } else {
                md.workdir.clone()
            },
            user: md.user_or_root().into(),
            log_source: log_source(&input.process.kind),
            env: vars,
            ..Default::default()
        };
        (rootfs_url(&image), None, run, ports)
    } else {
        if command.is_empty() {
            return Err("no start command: the droplet names none; give one with -c".into());
        }
        let setup = Action {
            download_action: Some(DownloadAction {
                artifact: "app package".into(),
                from: input.droplet_url.clone(),
                to: APP_DIR.into(),
                cache_key: format!("droplets-{}", input.process.lrp_guid()),
                user: USER.into(),
                checksum_algorithm: input
                    .droplet
                    .sha256
                    .as_ref()
                    .map_or("", |_| "sha256")
                    .into(),
                checksum_value: input.droplet.sha256.clone().unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let run = RunAction {
            path: "sh".into(),
            args: vec!["-c".into(), command],
            dir: APP_DIR.into(),
            user: USER.into(),
            log_source: log_source(&input.process.kind),
            env: env(input, APP_PORT),
            ..Default::default()
        };
        (
            format!("preloaded:{}", input.droplet.stack),
            Some(setup),
            run,
            vec![APP_PORT],
        )
    };
    let user = run.user.clone();
    let action = Action {
        codependent_action: Some(CodependentAction {
            actions: vec![Action {
                run_action: Some(run),
                ..Default::default()
            }],
            log_source: String::new(),
        }),
        ..Default::default()
    };
    let timeout_s = input
        .process
        .health_check
        .data
        .timeout
        .unwrap_or(DEFAULT_HEALTH_CHECK_TIMEOUT_S);
    let is_web = input.process.kind == models::capi::WEB;
    let mut lrp = DesiredLrp {
        process_guid: input.process.lrp_guid(),
        domain: DOMAIN.into(),
        root_fs,
        instances: input.process.instances,
        setup,
        action: Some(action),
        check_definition: check_definition(input.process, ports[0]),
        start_timeout_ms: i64::from(timeout_s) * 1000,
        memory_mb: input.process.memory_mb,
        disk_mb: input.process.disk_mb,
        routes: Some(routes_on(
            if is_web { &input.app.routes } else { &[] },
            ports[0],
        )),
        ports,
        log_guid: input.app.guid.clone(),
        // The cell's own lines (container creation, downloads) are CELL,
        // as Cloud Controller sets it; the process's are APP/PROC/TYPE.
        log_source: LRP_LOG_SOURCE.into(),
        metrics_guid: input.app.guid.clone(),
        legacy_download_user: user,
        metric_tags: metric_tags(input),
        image_username: input.droplet.image_username.clone().unwrap_or_default(),
        image_password: input.droplet.image_password.clone().unwrap_or_default(),
        ..Default::default()
    };
    lrp.annotation = digest(&lrp);
    Ok(lrp)
}

/// A staged droplet's LRP: Cloud Controller's buildpack recipe
/// (`recipes`), the droplet run by the lifecycle's launcher with Cloud
/// Foundry's environment.
fn staged_lrp(input: &LrpInput) -> DesiredLrp {
    let p = input.process;
    let health_check = match p.health_check.kind.as_str() {
        health_check_type::PROCESS => recipes::HealthCheck::Process,
        health_check_type::HTTP => recipes::HealthCheck::Http {
            endpoint: p
                .health_check
                .data
                .endpoint
                .clone()
                .unwrap_or_else(|| "/".into()),
        },
        _ => recipes::HealthCheck::Port,
    };
    let is_web = p.kind == models::capi::WEB;
    let req = recipes::AppRequest {
        process_guid: p.lrp_guid(),
        app: input.facts.clone(),
        instances: p.instances,
        stack: input.droplet.stack.clone(),
        lifecycle_bundle_url: input.lifecycle_bundle_url.clone(),
        droplet: recipes::Download {
            url: input.droplet_url.clone(),
            sha256: input.droplet.sha256.clone().unwrap_or_default(),
        },
        start_command: start_command(input),
        execution_metadata: input.droplet.execution_metadata.clone(),
        routes: if is_web {
            input.app.routes.clone()
        } else {
            vec![]
        },
        health_check,
        health_check_timeout_s: u64::from(
            p.health_check
                .data
                .timeout
                .unwrap_or(DEFAULT_HEALTH_CHECK_TIMEOUT_S),
        ),
        health_check_invocation_timeout_s: u64::from(
            p.health_check.data.invocation_timeout.unwrap_or(0),
        ),
        environment: input
            .revision
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Default::default()
    };
    let mut lrp = recipes::buildpack_desired_lrp(&req);
    lrp.domain = DOMAIN.into();
    lrp.memory_mb = p.memory_mb;
    lrp.disk_mb = p.disk_mb;
    lrp.annotation = digest(&lrp);
    lrp
}

/// A digest of the LRP's fields an update cannot change.
pub fn digest(lrp: &DesiredLrp) -> String {
    use prost::Message;
    let mut fixed = lrp.clone();
    fixed.instances = 0;
    fixed.routes = None;
    fixed.annotation = String::new();
    fixed.image_username = String::new();
    fixed.image_password = String::new();
    let d = Sha256::digest(fixed.encode_to_vec());
    format!("api-definition:{}", crate::blobs::hex(&d[..12]))
}
