//! The API against a real BBS, on both stores (SQLite and PostgreSQL):
//! auth, apps and their LRPs, bad input, the sync, concurrent pushes,
//! environment, scaling, deletion, and crashes as audit events.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};
use models::capi::*;
use support::{eventually, Db};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Db::Sqlite, concat!(stringify!($name), " sqlite")).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Db::Postgres, concat!(stringify!($name), " postgres")).await
            }
        }
    };
}

both!(refuses_requests_without_the_token);
async fn refuses_requests_without_the_token(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    assert_eq!(
        e.client.status_without_token("/v3/apps").await.unwrap(),
        401
    );
    let wrong = api_client::ApiClient::new(e.client.url(), "not-the-token").unwrap();
    let err = wrong.apps().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.to_string().contains("token"), "{err}");
    // The info route and the cells' droplet downloads need none.
    assert_eq!(e.client.info().await.unwrap().app_domain, "localhost");
    assert!(e.client.apps().await.unwrap().is_empty());
}

both!(push_desires_the_lrp_and_scale_stop_delete_follow);
async fn push_desires_the_lrp_and_scale_stop_delete_follow(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("hello", 2).await;
    assert_eq!(app.state, STARTED);
    assert_eq!(app.routes, ["hello.localhost"]);
    assert_eq!(app.revision, Some(1));
    let web = e.web(&app.guid).await;
    assert_eq!(web.len(), 1);
    let lrp = e
        .lrp(&web[0].lrp_process_guid)
        .await
        .expect("the LRP is desired");
    assert_eq!(lrp.domain, "cf-apps");
    assert_eq!(lrp.instances, 2);
    assert_eq!(lrp.root_fs, "preloaded:busybox");
    let routes: serde_json::Value =
        serde_json::from_slice(&lrp.routes.as_ref().unwrap().routes["cf-router"]).unwrap();
    assert_eq!(
        routes,
        serde_json::json!([{"hostnames": ["hello.localhost"], "port": 8080}])
    );
    // Cloud Controller's shape: the start command in a codependent action,
    // so an exit (even 0) ends the instance at once.
    let codependent = lrp
        .action
        .as_ref()
        .unwrap()
        .codependent_action
        .as_ref()
        .unwrap();
    let run = codependent.actions[0].run_action.as_ref().unwrap();
    assert_eq!(run.args, ["-c", "busybox httpd -f -p $PORT -h ."]);
    // The droplet is downloadable by cells, without a token, checksum given.
    let dl = lrp
        .setup
        .as_ref()
        .unwrap()
        .download_action
        .as_ref()
        .unwrap();
    assert_eq!(dl.checksum_algorithm, "sha256");
    let bits = reqwest::get(&dl.from).await.unwrap();
    assert_eq!(bits.status(), 200);
    assert_eq!(&bits.bytes().await.unwrap()[..2], &[0x1f, 0x8b]);

    // The instances as the API reports them (no cell: starting).
    let stats = e.client.stats(&web[0].guid).await.unwrap();
    assert_eq!(stats.len(), 2);
    assert!(stats.iter().all(|s| s.state == "STARTING"), "{stats:?}");
    e.run_instances(&web[0].lrp_process_guid).await;
    let stats = e.client.stats(&web[0].guid).await.unwrap();
    assert!(
        stats.iter().all(|s| s.state == "RUNNING" && s.routable),
        "{stats:?}"
    );
    assert_eq!(stats[1].port, 60001);

    // Scale in place (same LRP), memory by restart (a new LRP).
    e.client
        .scale(
            &web[0].guid,
            &Scale {
                instances: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(e.lrp(&web[0].lrp_process_guid).await.unwrap().instances, 3);
    let p = e
        .client
        .scale(
            &web[0].guid,
            &Scale {
                memory_in_mb: Some(128),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_ne!(p.lrp_process_guid, web[0].lrp_process_guid);
    assert!(
        e.lrp(&web[0].lrp_process_guid).await.is_none(),
        "old LRP removed"
    );
    assert_eq!(e.lrp(&p.lrp_process_guid).await.unwrap().memory_mb, 128);

    // Stop removes it; start brings a new one.
    e.client.app_action(&app.guid, "stop").await.unwrap();
    assert!(e.lrp(&p.lrp_process_guid).await.is_none());
    e.client.app_action(&app.guid, "start").await.unwrap();
    let p = e.web(&app.guid).await.remove(0);
    assert_eq!(e.lrp(&p.lrp_process_guid).await.unwrap().instances, 3);

    // Delete takes everything away (the audit trail stays).
    e.client.delete_app(&app.guid).await.unwrap();
    assert!(e.lrp(&p.lrp_process_guid).await.is_none());
    assert!(e.client.app(&app.guid).await.unwrap_err().is_not_found());
    assert!(e.client.apps().await.unwrap().is_empty());
    let kinds: Vec<String> = e
        .client
        .events(&app.guid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"audit.app.create".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"audit.app.delete-request".to_string()),
        "{kinds:?}"
    );
}

both!(an_lrp_removed_behind_its_back_comes_back);
async fn an_lrp_removed_behind_its_back_comes_back(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("comeback", 1).await;
    let guid = e.web(&app.guid).await[0].lrp_process_guid.clone();
    e.internal.remove_desired_lrp(&guid).await.unwrap();
    eventually("the sync to desire it again", 10, || async {
        e.lrp(&guid).await
    })
    .await;
    // And one nobody wants in the API's domain goes.
    let mut stray = e.lrp(&guid).await.unwrap();
    stray.process_guid = "stray-lrp".into();
    e.internal.desire_lrp(stray).await.unwrap();
    eventually("the sync to remove the stray", 10, || async {
        e.lrp("stray-lrp").await.is_none().then_some(())
    })
    .await;
}

both!(bad_input_is_refused_with_nothing_made);
async fn bad_input_is_refused_with_nothing_made(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let bad = |name: &str, s: ProcessSettings| CreateApp {
        name: name.into(),
        process: Some(s),
        ..Default::default()
    };
    for (req, want) in [
        (bad("my_app", Default::default()), "invalid app name"),
        (
            bad(
                "ok",
                ProcessSettings {
                    memory_in_mb: Some(0),
                    ..Default::default()
                },
            ),
            "memory 0 MB",
        ),
        (
            bad(
                "ok",
                ProcessSettings {
                    instances: Some(-1),
                    ..Default::default()
                },
            ),
            "instances -1",
        ),
        (
            bad(
                "ok",
                ProcessSettings {
                    health_check: Some(HealthCheck {
                        kind: "tcp".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
            "health check type",
        ),
    ] {
        let err = e.client.create_app(&req).await.unwrap_err();
        assert_eq!(err.status(), Some(422), "{err}");
        assert!(err.to_string().contains(want), "{err}");
    }
    let env = CreateApp {
        name: "ok".into(),
        environment_variables: [("PORT".to_string(), "1".to_string())].into(),
        ..Default::default()
    };
    assert_eq!(
        e.client.create_app(&env).await.unwrap_err().status(),
        Some(422)
    );
    assert!(
        e.client.apps().await.unwrap().is_empty(),
        "no half-made app"
    );

    // Malformed JSON is a 400 with Cloud Controller's parse error.
    let resp = reqwest::Client::new()
        .post(format!("{}/v3/apps", e.client.url()))
        .bearer_auth(support::TOKEN)
        .body("{\"name\": 3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.errors[0].title, "CF-MessageParseError");

    // Names are unique; unknown apps are 404.
    let app = e
        .client
        .create_app(&CreateApp {
            name: "one".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let dup = e
        .client
        .create_app(&CreateApp {
            name: "one".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(dup.status(), Some(422));
    assert!(dup.to_string().contains("exists already"), "{dup}");
    assert_eq!(e.client.app("nope").await.unwrap_err().status(), Some(404));
    // Starting without a droplet says what to do.
    let err = e.client.app_action(&app.guid, "start").await.unwrap_err();
    assert!(err.to_string().contains("push its bits"), "{err}");
    assert_eq!(e.client.app(&app.guid).await.unwrap().state, STOPPED);
    // Bits that are not a gzipped tar are refused.
    let pkg = e
        .client
        .create_package(&CreatePackage {
            kind: BITS.into(),
            relationships: PackageRelationships {
                app: ToOne::to(&app.guid),
            },
            data: None,
        })
        .await
        .unwrap();
    let err = e
        .client
        .upload(&pkg.guid, b"not a tarball".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(
        e.client.package(&pkg.guid).await.unwrap().state,
        package_state::AWAITING_UPLOAD
    );
}

both!(concurrent_pushes_of_one_app_are_refused);
async fn concurrent_pushes_of_one_app_are_refused(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e
        .client
        .create_app(&CreateApp {
            name: "busy".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pkg = || CreatePackage {
        kind: BITS.into(),
        relationships: PackageRelationships {
            app: ToOne::to(&app.guid),
        },
        data: None,
    };
    let (p1, p2) = (pkg(), pkg());
    let (a, b) = tokio::join!(e.client.create_package(&p1), e.client.create_package(&p2));
    let (ok, refused) = match (a, b) {
        (Ok(p), Err(err)) | (Err(err), Ok(p)) => (p, err),
        other => panic!("one of two concurrent pushes must be refused: {other:?}"),
    };
    assert_eq!(refused.status(), Some(409), "{refused}");
    assert!(
        refused.to_string().contains("another push of busy"),
        "{refused}"
    );
    // Once the first push has built, the next may go.
    e.client.upload(&ok.guid, support::tgz("x")).await.unwrap();
    e.client.create_build(&ok.guid).await.unwrap();
    e.client.create_package(&pkg()).await.unwrap();
}

both!(environment_variables_reach_the_next_revision);
async fn environment_variables_reach_the_next_revision(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("envy", 1).await;
    let set = EnvVars {
        var: [("GREETING".to_string(), Some("hi".to_string()))].into(),
    };
    e.client.patch_env(&app.guid, &set).await.unwrap();
    assert_eq!(
        e.client.env(&app.guid).await.unwrap().var["GREETING"],
        Some("hi".into())
    );
    // Running instances keep theirs until a restart.
    let before = e.web(&app.guid).await[0].lrp_process_guid.clone();
    let lrp = e.lrp(&before).await.unwrap();
    let run = |l: &models::DesiredLrp| {
        l.action
            .as_ref()
            .unwrap()
            .codependent_action
            .as_ref()
            .unwrap()
            .actions[0]
            .run_action
            .clone()
            .unwrap()
    };
    assert!(!run(&lrp).env.iter().any(|v| v.name == "GREETING"));
    e.client.app_action(&app.guid, "restart").await.unwrap();
    let after = e.web(&app.guid).await[0].lrp_process_guid.clone();
    let lrp = e.lrp(&after).await.unwrap();
    assert!(run(&lrp)
        .env
        .iter()
        .any(|v| v.name == "GREETING" && v.value == "hi"));
    let revs = e.client.revisions(&app.guid).await.unwrap();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1].description, "New environment variables deployed.");
    let unset = EnvVars {
        var: [("GREETING".to_string(), None)].into(),
    };
    assert!(e
        .client
        .patch_env(&app.guid, &unset)
        .await
        .unwrap()
        .var
        .is_empty());
}

both!(crashes_are_audit_events_and_instance_state);
async fn crashes_are_audit_events_and_instance_state(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("crashy", 1).await;
    let web = e.web(&app.guid).await.remove(0);
    e.run_instances(&web.lrp_process_guid).await;
    e.crash(
        &web.lrp_process_guid,
        0,
        "APP/PROC/WEB: Exited with status 3",
    )
    .await;
    let ev = eventually("the crash event", 10, || async {
        e.client
            .events(&app.guid)
            .await
            .unwrap()
            .into_iter()
            .find(|ev| ev.kind == "audit.app.process.crash")
    })
    .await;
    assert_eq!(
        ev.data["exit_description"],
        "APP/PROC/WEB: Exited with status 3"
    );
    assert_eq!(ev.data["index"], 0);
    assert_eq!(ev.data["crash_count"], 1);
    let stats = e.client.stats(&web.guid).await.unwrap();
    assert_eq!(stats[0].crash_count, 1);
    assert_eq!(stats[0].crash_reason, "APP/PROC/WEB: Exited with status 3");
    let _ = e
        .internal
        .actual_lrps(&ActualLrpFilter::process(&web.lrp_process_guid))
        .await
        .unwrap();
}

/// The API serves through the shared server (httpserve): a package
/// declared larger than `max_package_mb` is refused before it is read, in
/// Cloud Controller's error form, and a stalled request head is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_server_refuses_too_large_and_stalled_requests() {
    let Some(e) = support::env_with(Db::Sqlite, "api httpserve", |c| {
        c.max_package_mb = 1;
        c.server.header_read_timeout =
            bbs::config::GoDuration(std::time::Duration::from_millis(500));
    })
    .await
    else {
        return;
    };
    let app = e
        .client
        .create_app(&CreateApp {
            name: "big".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pkg = e
        .client
        .create_package(&CreatePackage {
            kind: BITS.into(),
            relationships: PackageRelationships {
                app: ToOne::to(&app.guid),
            },
            data: None,
        })
        .await
        .unwrap();
    let err = e
        .client
        .upload(&pkg.guid, vec![0u8; 2 << 20])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    assert!(err.to_string().contains("limit of 1048576 bytes"), "{err}");

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stalled = tokio::net::TcpStream::connect(e.api.addr).await.unwrap();
    stalled
        .write_all(b"GET /v3/apps HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let t = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stalled.read_to_end(&mut buf),
    )
    .await
    .expect("the stalled head is closed");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
    assert!(e.client.apps().await.is_ok());
}
