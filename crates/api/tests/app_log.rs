//! Cloud Controller's `API` lines: what the API does to an app reaches a
//! real log component (gRPC ingress) as lines of the app, read back as
//! `diego logs APP --recent` reads them (`[API/0] OUT ...`).

mod support;

use logs_client::envelope::render_cf;
use logs_client::reader::ReadOptions;
use models::capi::*;
use support::{eventually, Db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_events_are_api_lines_in_the_apps_log() {
    let logs = logs::start(&logs::LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ingress = logs.ingress_addr.to_string();
    let Some(e) = support::env_with(Db::Sqlite, "api lines", |c| {
        c.logs_ingress_address = ingress;
    })
    .await
    else {
        return;
    };
    let app = e.push("hello", 1).await;
    let web = e.web(&app.guid).await;
    e.client
        .scale(
            &web[0].guid,
            &Scale {
                instances: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    e.client
        .update_app(
            &app.guid,
            &UpdateApp {
                name: Some("hello2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    e.client.app_action(&app.guid, "stop").await.unwrap();
    // A refused request logs nothing.
    assert!(e
        .client
        .update_app(
            &app.guid,
            &UpdateApp {
                name: Some("no spaces allowed".into()),
                ..Default::default()
            },
        )
        .await
        .is_err());

    let reader = logs_client::Reader::new(&format!("http://{}", logs.api_addr)).unwrap();
    let g = &app.guid;
    let want = [
        format!("Created app with guid {g}"),
        format!("Adding app package for app with guid {g}"),
        format!("Uploading app package for app with guid {g}"),
        format!("Creating build for app with guid {g}"),
        format!(r#"Updated app with guid {g} ({{"droplet_guid"=>"#),
        format!("Starting app with guid {g}"),
        r#"Updating process: "web""#.to_string(),
        r#"Scaling process: "web""#.to_string(),
        format!(r#"Updated app with guid {g} ({{"name"=>"hello2"}})"#),
        format!("Stopping app with guid {g}"),
    ];
    let lines = eventually("the API lines reach the log store", 10, || async {
        let envs = reader
            .recent(
                g,
                &ReadOptions {
                    envelope_types: vec!["LOG".into()],
                    ..Default::default()
                },
            )
            .await
            .ok()?;
        let lines: Vec<String> = envs.iter().filter_map(render_cf).collect();
        (lines.len() >= want.len()).then_some(lines)
    })
    .await;
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for (line, w) in lines.iter().zip(&want) {
        assert!(line.contains("[API/0] OUT "), "{line}");
        assert!(line.contains(w.as_str()), "{line} should say {w}");
    }
    logs.stop().await;
}

/// A drain in the app's environment (`SYSLOG_DRAIN_URL`, our stand-in for
/// a bound user-provided service's `syslog_drain_url`) reaches the log
/// component through the API's `/internal/v4/syslog_drain_urls`, beside a
/// `bind-drain` one, and the app's lines reach a real rsyslog through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_in_the_apps_env_gets_the_apps_lines() {
    let Some(syslog) = testkit::rsyslog::Rsyslog::start(None).await else {
        return;
    };
    let Some(e) = support::env(Db::Sqlite, "env drain").await else {
        return;
    };
    let drain = format!("syslog://127.0.0.1:{}", syslog.port);
    let env_with = |v: &str| CreateApp {
        name: "drained".into(),
        environment_variables: [("SYSLOG_DRAIN_URL".to_string(), v.to_string())].into(),
        ..Default::default()
    };
    let refused = e.client.create_app(&env_with("http://nope:1")).await;
    assert_eq!(refused.unwrap_err().status(), Some(422));
    let app = e.client.create_app(&env_with(&drain)).await.unwrap();

    let logs = logs::start(&logs::LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        bindings_api_url: format!("http://{}", e.api.addr),
        bindings_polling_interval: bbs::config::GoDuration(std::time::Duration::from_millis(100)),
        bindings_batch_size: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    // bind-drain's drains stay beside the app's own.
    logs.hub
        .drains
        .set(&app.guid, &["syslog://127.0.0.1:1".to_string()])
        .unwrap();
    let bound = |logs: &logs::RunningLogs| {
        let mut urls: Vec<String> = logs
            .hub
            .drains
            .list()
            .into_iter()
            .filter(|d| d.source_id == app.guid)
            .map(|d| d.url)
            .collect();
        urls.sort();
        urls
    };
    eventually("the env drain is bound", 10, || async {
        (bound(&logs).len() == 2).then_some(())
    })
    .await;
    assert!(bound(&logs).contains(&drain));

    let tags = [("app_name".to_string(), "drained".to_string())].into();
    logs.hub.accept(logs_client::envelope::log(
        &app.guid,
        "0",
        "APP/PROC/WEB",
        false,
        "hello through the env drain",
        &tags,
    ));
    let lines = syslog
        .wait_for(std::time::Duration::from_secs(10), |l| !l.is_empty())
        .await;
    assert!(
        lines[0].contains(&app.guid) && lines[0].ends_with("hello through the env drain"),
        "{lines:?}"
    );

    // Unset: only the bind-drain one is left.
    e.client
        .patch_env(
            &app.guid,
            &EnvVars {
                var: [("SYSLOG_DRAIN_URL".to_string(), None)].into(),
            },
        )
        .await
        .unwrap();
    eventually("the env drain is unbound", 10, || async {
        (bound(&logs) == ["syslog://127.0.0.1:1"]).then_some(())
    })
    .await;
    logs.stop().await;
}

/// Instance usage as Cloud Controller reads it from Log Cache: the latest
/// container metrics of the process's instances, from the gauges a cell
/// ships to the log component (here a logs-client sender playing the
/// cell, with Diego's metric tags).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_show_the_latest_container_metrics_in_the_log_store() {
    let logs = logs::start(&logs::LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let logs_url = format!("http://{}", logs.api_addr);
    let Some(e) = support::env_with(Db::Sqlite, "stats from logs", |c| {
        c.logs_api_url = logs_url;
    })
    .await
    else {
        return;
    };
    let app = e.push("measured", 2).await;
    let web = &e.web(&app.guid).await[0];
    e.run_instances(&web.lrp_process_guid).await;

    let cell = logs_client::Sender::start(logs_client::IngressConfig::new(
        &logs.ingress_addr.to_string(),
        "cell-1",
    ));
    let gauges = |process: &str, index: &str, cpu: f64, mem: f64| {
        let tags = [
            ("process_id".to_string(), process.to_string()),
            ("app_name".to_string(), "measured".to_string()),
        ]
        .into();
        logs_client::envelope::gauge(
            &app.guid,
            index,
            &[
                ("cpu", cpu, "percentage"),
                ("memory", mem, "bytes"),
                ("disk", 10.0 * 1048576.0, "bytes"),
                ("memory_quota", 64.0 * 1048576.0, "bytes"),
                ("disk_quota", 1024.0 * 1048576.0, "bytes"),
            ],
            &tags,
        )
    };
    cell.send(gauges(&web.guid, "0", 1.0, 1.0));
    // The newest sample wins; another process's (a deployment's) is not
    // this one's.
    cell.send(gauges(&web.guid, "0", 12.5, 20.0 * 1048576.0));
    cell.send(gauges(&web.guid, "1", 150.0, 30.0 * 1048576.0));
    cell.send(gauges("another-process", "1", 99.0, 1.0));
    assert!(cell.flush(std::time::Duration::from_secs(10)).await);

    let stats = eventually("usage from the log store", 10, || async {
        let s = e.client.stats(&web.guid).await.ok()?;
        (s.len() == 2 && s[1].usage.cpu > 1.0).then_some(s)
    })
    .await;
    assert_eq!(stats[0].usage.cpu, 0.125);
    assert_eq!(stats[0].usage.mem, 20 << 20);
    assert_eq!(stats[0].usage.disk, 10 << 20);
    assert_eq!(stats[0].mem_quota, 64 << 20);
    assert_eq!(stats[0].disk_quota, 1 << 30);
    assert_eq!(stats[1].usage.cpu, 1.5, "two busy cores read 150%");
    assert_eq!(stats[1].usage.mem, 30 << 20);
    logs.stop().await;
}
