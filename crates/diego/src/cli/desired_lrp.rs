//! The DesiredLRP `diego push` desires: what Cloud Controller would ask of
//! Diego for a buildpack-less app, cut down to the dev system — download
//! the package, run the start command, TCP-check the port, route
//! `APP.localhost`.

use models::{
    metric_tag_value, Action, Check, CheckDefinition, DesiredLrp, DownloadAction,
    EnvironmentVariable, MetricTagValue, ProtoRoutes, RunAction, TcpCheck,
};
use std::collections::BTreeMap;

pub const ROOTFS: &str = "preloaded:busybox";
pub const APP_PORT: u32 = 8080;
pub const APP_DIR: &str = "/home/vcap/app";
pub const USER: &str = "vcap";
/// busybox's web server on the instance's port, serving the app directory
/// (relative, so it also works where a container is a host directory).
pub const DEFAULT_START_COMMAND: &str = "busybox httpd -f -p $PORT -h .";
pub const START_TIMEOUT_MS: i64 = 60_000;
pub const DEFAULT_MEMORY_MB: i32 = 64;
pub const DISK_MB: i32 = 128;
/// Cloud Foundry's log source for an app's web process.
pub const LOG_SOURCE: &str = "APP/PROC/WEB";

/// What the operator chose.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub name: String,
    pub instances: i32,
    pub start_command: String,
    pub memory_mb: i32,
    /// The package's full URL on the file server.
    pub package_url: String,
    /// Changes with the package, so a cell re-downloads a new one.
    pub package_cache_key: String,
}

/// Diego's guid rule for process guids (letters, digits, `-`, `_`); app
/// names double as hostnames, so they must also be a DNS label.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        models::validation::rules::is_valid_guid(name),
        "invalid app name {name:?}: use letters, digits, '-' and '_' only"
    );
    anyhow::ensure!(
        name.len() <= 63 && !name.contains('_') && !name.starts_with('-') && !name.ends_with('-'),
        "invalid app name {name:?}: it is also a hostname ({name}.localhost), so no '_', \
         no leading or trailing '-', at most 63 characters"
    );
    Ok(())
}

/// The `cf-router` routes: `APP.localhost` to the app's port.
pub fn routes(app: &str, port: u32) -> ProtoRoutes {
    let cf_router =
        serde_json::json!([{ "hostnames": [format!("{app}.localhost")], "port": port }]);
    ProtoRoutes {
        routes: BTreeMap::from([("cf-router".to_string(), cf_router.to_string().into_bytes())]),
    }
}

fn download(spec: &AppSpec) -> Action {
    Action {
        download_action: Some(DownloadAction {
            artifact: "app package".to_string(),
            from: spec.package_url.clone(),
            to: APP_DIR.to_string(),
            cache_key: spec.package_cache_key.clone(),
            user: USER.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn run(spec: &AppSpec) -> Action {
    Action {
        run_action: Some(RunAction {
            path: "sh".to_string(),
            args: vec!["-c".to_string(), spec.start_command.clone()],
            dir: APP_DIR.to_string(),
            user: USER.to_string(),
            log_source: LOG_SOURCE.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn tcp_check(port: u32) -> CheckDefinition {
    CheckDefinition {
        checks: vec![Check {
            tcp_check: Some(TcpCheck {
                port,
                ..Default::default()
            }),
            http_check: None,
        }],
        log_source: "HEALTH".to_string(),
        readiness_checks: vec![],
    }
}

/// Diego wants metric tags; `source_id` must match the metrics guid.
pub fn metric_tags(app: &str) -> BTreeMap<String, MetricTagValue> {
    BTreeMap::from([
        (
            "source_id".to_string(),
            MetricTagValue {
                r#static: app.to_string(),
                dynamic: 0,
            },
        ),
        (
            "instance_index".to_string(),
            MetricTagValue {
                r#static: String::new(),
                dynamic: metric_tag_value::DynamicValue::Index as i32,
            },
        ),
    ])
}

pub fn desired_lrp(spec: &AppSpec) -> DesiredLrp {
    DesiredLrp {
        process_guid: spec.name.clone(),
        domain: super::DOMAIN.to_string(),
        root_fs: ROOTFS.to_string(),
        instances: spec.instances,
        setup: Some(download(spec)),
        action: Some(run(spec)),
        check_definition: Some(tcp_check(APP_PORT)),
        start_timeout_ms: START_TIMEOUT_MS,
        memory_mb: spec.memory_mb,
        disk_mb: DISK_MB,
        ports: vec![APP_PORT],
        routes: Some(routes(&spec.name, APP_PORT)),
        log_guid: spec.name.clone(),
        log_source: LOG_SOURCE.to_string(),
        metrics_guid: spec.name.clone(),
        legacy_download_user: USER.to_string(),
        metric_tags: metric_tags(&spec.name),
        // Cloud Controller's part: the port to serve on.
        environment_variables: vec![EnvironmentVariable {
            name: "PORT".to_string(),
            value: APP_PORT.to_string(),
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::validation::Validate;

    fn spec() -> AppSpec {
        AppSpec {
            name: "hello".to_string(),
            instances: 2,
            start_command: DEFAULT_START_COMMAND.to_string(),
            memory_mb: DEFAULT_MEMORY_MB,
            package_url: "http://127.0.0.1:8084/v1/static/apps/hello-0123456789abcdef.tgz"
                .to_string(),
            package_cache_key: "hello-0123456789abcdef".to_string(),
        }
    }

    #[test]
    fn the_desired_lrp_passes_diegos_validation() {
        let lrp = desired_lrp(&spec());
        assert_eq!(lrp.validate(), Ok(()));
        let req = models::DesireLrpRequest {
            desired_lrp: Some(lrp),
        };
        assert_eq!(req.validate(), Ok(()));
    }

    #[test]
    fn the_desired_lrp_downloads_runs_checks_and_routes_the_app() {
        let lrp = desired_lrp(&spec());
        assert_eq!(lrp.process_guid, "hello");
        assert_eq!(lrp.domain, "diego-dev");
        assert_eq!(lrp.root_fs, "preloaded:busybox");
        assert_eq!((lrp.instances, lrp.memory_mb, lrp.disk_mb), (2, 64, 128));
        assert_eq!(lrp.ports, vec![8080]);
        assert_eq!(lrp.environment_variables[0].name, "PORT");
        assert_eq!(lrp.environment_variables[0].value, "8080");
        let dl = lrp.setup.unwrap().download_action.unwrap();
        assert_eq!(dl.from, spec().package_url);
        assert_eq!(
            (dl.to.as_str(), dl.user.as_str()),
            ("/home/vcap/app", "vcap")
        );
        let run = lrp.action.unwrap().run_action.unwrap();
        assert_eq!(run.path, "sh");
        assert_eq!(run.args, vec!["-c", "busybox httpd -f -p $PORT -h ."]);
        assert_eq!(
            (run.dir.as_str(), run.user.as_str()),
            ("/home/vcap/app", "vcap")
        );
        let check = &lrp.check_definition.unwrap().checks[0];
        assert_eq!(check.tcp_check.as_ref().unwrap().port, 8080);
        let routes = &lrp.routes.unwrap().routes["cf-router"];
        let routes: serde_json::Value = serde_json::from_slice(routes).unwrap();
        assert_eq!(
            routes,
            serde_json::json!([{"hostnames": ["hello.localhost"], "port": 8080}])
        );
    }

    #[test]
    fn names_follow_diegos_guid_rule_and_make_hostnames() {
        for ok in ["hello", "my-app", "a1"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "my app", "a/b", "é", "my_app", "-x", "x-"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
