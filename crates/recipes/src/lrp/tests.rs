use super::*;
use crate::staging::Download;
use models::validation::Validate;

fn request() -> AppRequest {
    AppRequest {
        process_guid: "proc-1-v1".into(),
        app: AppFacts {
            app_guid: "app-1".into(),
            app_name: "dora".into(),
            space_guid: "space-1".into(),
            space_name: "dev".into(),
            organization_guid: "org-1".into(),
            organization_name: "acme".into(),
            uris: vec!["dora.localhost".into()],
            memory_mb: 256,
            disk_mb: 1024,
            process_guid: "proc-1".into(),
            process_type: "web".into(),
            ..Default::default()
        },
        instances: 2,
        stack: "cflinuxfs4".into(),
        lifecycle_bundle_url: "http://fs/v1/static/buildpack_app_lifecycle.tgz".into(),
        droplet: Download {
            url: "http://fs/v1/static/droplets/build-1.tgz".into(),
            sha256: "ab".repeat(32),
        },
        start_command: "python app.py".into(),
        routes: vec!["dora.localhost".into()],
        vcap_services: r#"{"pg":[{"credentials":{"uri":"postgres://db/x"}}]}"#.into(),
        environment: vec![("GREETING".into(), "hi".into())],
        ..Default::default()
    }
}

#[test]
fn the_lrp_downloads_the_droplet_and_runs_the_launcher() {
    let lrp = buildpack_desired_lrp(&request());
    assert_eq!(lrp.domain, "cf-apps");
    assert_eq!(lrp.root_fs, "preloaded:cflinuxfs4");
    assert_eq!(lrp.log_source, "CELL");
    assert_eq!(lrp.log_guid, "app-1");
    assert_eq!(lrp.ports, [8080]);
    assert_eq!(lrp.start_timeout_ms, 60_000);
    assert_eq!(lrp.cpu_weight, 3);
    assert_eq!(lrp.environment_variables, [var("LANG", "en_US.UTF-8")]);
    assert_eq!(lrp.cached_dependencies[0].to, "/tmp/lifecycle");
    assert_eq!(
        lrp.cached_dependencies[0].cache_key,
        "buildpack-cflinuxfs4-lifecycle"
    );

    let setup = lrp.setup.as_ref().unwrap().serial_action.as_ref().unwrap();
    let d = setup.actions[0].download_action.as_ref().unwrap();
    assert_eq!(d.to, ".");
    assert_eq!(d.cache_key, "droplets-proc-1-v1");
    assert_eq!(d.user, "vcap");
    assert_eq!(d.checksum_algorithm, "sha256");

    let run = lrp
        .action
        .as_ref()
        .unwrap()
        .codependent_action
        .as_ref()
        .unwrap()
        .actions[0]
        .run_action
        .clone()
        .unwrap();
    assert_eq!(run.path, "/tmp/lifecycle/launcher");
    assert_eq!(run.args, ["app", "python app.py", ""]);
    assert_eq!(run.log_source, "APP/PROC/WEB");
    let names: Vec<&str> = run.env.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[..3], ["PORT", "VCAP_APP_PORT", "VCAP_APP_HOST"]);
    for n in [
        "VCAP_APPLICATION",
        "VCAP_SERVICES",
        "MEMORY_LIMIT",
        "DATABASE_URL",
        "GREETING",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }

    let routes = &lrp.routes.as_ref().unwrap().routes;
    let http: serde_json::Value = serde_json::from_slice(&routes["cf-router"]).unwrap();
    assert_eq!(http[0]["hostnames"], serde_json::json!(["dora.localhost"]));
    assert_eq!(http[0]["port"], 8080);
    let check = &lrp.check_definition.as_ref().unwrap().checks[0];
    assert_eq!(check.tcp_check.as_ref().unwrap().port, 8080);
    assert_eq!(lrp.metric_tags["source_id"].r#static, "app-1");
    assert_eq!(
        lrp.metric_tags["instance_id"].dynamic,
        DynamicValue::Index as i32
    );
    assert!(lrp.validate().is_ok(), "{:?}", lrp.validate());
}

#[test]
fn health_check_types() {
    let mut req = request();
    req.health_check = HealthCheck::Http {
        endpoint: "/health".into(),
    };
    req.ports = vec![8080, 9090];
    req.health_check_invocation_timeout_s = 2;
    let checks = buildpack_desired_lrp(&req).check_definition.unwrap().checks;
    let http = checks[0].http_check.as_ref().unwrap();
    assert_eq!(
        (http.port, http.path.as_str(), http.request_timeout_ms),
        (8080, "/health", 2000)
    );
    assert_eq!(checks[1].tcp_check.as_ref().unwrap().port, 9090);

    req.health_check = HealthCheck::Process;
    assert!(buildpack_desired_lrp(&req).check_definition.is_none());
    assert_eq!(cpu_weight(64), 1);
    assert_eq!(cpu_weight(16384), 100);
}
