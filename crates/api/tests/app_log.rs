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
