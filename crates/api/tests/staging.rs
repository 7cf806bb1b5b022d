//! Buildpack staging through the API, against a real BBS and a real file
//! server, with the test playing the cell: a build on a stack with a
//! lifecycle desires Cloud Controller's staging Task (the package from
//! this API, the buildpacks from the file server, the completion callback
//! to this API); the droplet uploaded to the file server and the callback
//! make it STAGED, and the app's LRP runs it under the launcher; a failed
//! staging carries Cloud Controller's error. The real containers'
//! version of this is the diego crate's dev_push_buildpack.

mod support;

use bbs_client::{BbsClient, InternalBbsClient};
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

/// A file server whose directory holds a published python buildpack.
async fn file_server(dir: &std::path::Path) -> String {
    let statics = dir.join("static");
    std::fs::create_dir_all(statics.join("buildpacks")).unwrap();
    std::fs::write(statics.join("buildpacks/python_buildpack.zip"), b"zip").unwrap();
    std::fs::write(
        statics.join("buildpacks/python_buildpack.zip.sha256"),
        "ab".repeat(32),
    )
    .unwrap();
    let running = file_server::start(
        &file_server::FileServerConfig {
            server_address: "127.0.0.1:0".into(),
            static_directory: statics.display().to_string(),
            ..Default::default()
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    format!("http://{}", running.addr)
}

async fn build_of(e: &support::Env, app: &str) -> Build {
    let pkg = e
        .client
        .create_package(&CreatePackage {
            kind: BITS.into(),
            relationships: PackageRelationships {
                app: ToOne::to(app),
            },
            data: None,
        })
        .await
        .unwrap();
    e.client
        .upload(&pkg.guid, support::tgz("print('hi')"))
        .await
        .unwrap();
    e.client.create_build(&pkg.guid).await.unwrap()
}

/// What the BBS would post to the task's completion callback.
async fn complete(task: &models::Task, failed: bool, reason: &str, result: &str) {
    let body = serde_json::json!({
        "task_guid": task.task_guid, "failed": failed,
        "failure_reason": reason, "result": result,
    });
    let url = &task
        .task_definition
        .as_ref()
        .unwrap()
        .completion_callback_url;
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

both!(a_build_stages_on_the_bbs_and_its_droplet_runs_under_the_launcher);
async fn a_build_stages_on_the_bbs_and_its_droplet_runs_under_the_launcher(db: Db, test: &str) {
    let fs_dir = tempfile::tempdir().unwrap();
    let fs = file_server(fs_dir.path()).await;
    let fs_url = fs.clone();
    let Some(e) = support::env_with(db, test, move |c| {
        c.file_server_url = fs_url;
        c.buildpacks = vec!["python".into()];
        c.default_stack = "cflinuxfs4".into();
    })
    .await
    else {
        return;
    };
    let bps = e.client.buildpacks().await.unwrap();
    assert_eq!(bps.len(), 1);
    assert_eq!(
        (bps[0].name.as_str(), bps[0].state.as_str()),
        ("python_buildpack", "READY")
    );

    let app = e
        .client
        .create_app(&CreateApp {
            name: "py".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(app.lifecycle.data.stack, "cflinuxfs4");
    let build = build_of(&e, &app.guid).await;
    assert_eq!(build.state, build_state::STAGING);
    assert_eq!(build.droplet_guid, None);
    // A second push while this one stages is refused.
    let err = e
        .client
        .create_package(&CreatePackage {
            kind: BITS.into(),
            relationships: PackageRelationships {
                app: ToOne::to(&app.guid),
            },
            data: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");

    // Cloud Controller's staging Task, on the BBS.
    let task = e.internal.task_by_guid(&build.guid).await.unwrap().unwrap();
    assert_eq!(task.domain, "cf-app-staging");
    let def = task.task_definition.clone().unwrap();
    assert_eq!(def.root_fs, "preloaded:cflinuxfs4");
    assert_eq!(def.log_source, "STG");
    assert_eq!(def.log_guid, app.guid);
    let deps: Vec<&str> = def
        .cached_dependencies
        .iter()
        .map(|d| d.from.as_str())
        .collect();
    assert_eq!(
        deps,
        [
            format!("{fs}/v1/static/lifecycle/buildpack_app_lifecycle.tgz"),
            format!("{fs}/v1/static/buildpacks/python_buildpack.zip"),
        ]
    );
    // The package comes from this API, without a token.
    let serial = &def
        .action
        .as_ref()
        .unwrap()
        .timeout_action
        .as_ref()
        .unwrap();
    let text = format!("{serial:?}");
    let package_url = format!("http://{}/internal/v3/packages/", e.api.addr);
    assert!(text.contains(&package_url), "{text}");
    let pkg_guid = text
        .split(&package_url)
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let bits = reqwest::get(format!("{package_url}{pkg_guid}/download"))
        .await
        .unwrap();
    assert_eq!(bits.status(), 200);
    assert_eq!(
        bits.bytes().await.unwrap().len(),
        support::tgz("print('hi')").len()
    );

    // The cell uploads the droplet to the file server and the BBS calls
    // back with result.json.
    let droplet = b"a droplet".to_vec();
    let r = reqwest::Client::new()
        .post(format!("{fs}/v1/droplet/{}", build.guid))
        .body(droplet.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let result = serde_json::json!({
        "lifecycle_metadata": {"buildpack_key": "python_buildpack",
            "detected_buildpack": "python",
            "buildpacks": [{"key": "python_buildpack", "name": "python_buildpack", "version": "1.0.0"}]},
        "process_types": {"web": "python app.py"},
        "execution_metadata": "",
        "lifecycle_type": "buildpack",
    });
    complete(&task, false, "", &result.to_string()).await;
    let staged = e.client.build(&build.guid).await.unwrap();
    assert_eq!(staged.state, build_state::STAGED, "{:?}", staged.error);
    let droplet_guid = staged.droplet_guid.unwrap();
    let d = e.client.droplet(&droplet_guid).await.unwrap();
    assert_eq!(d.process_types["web"], "python app.py");
    assert_eq!(d.buildpacks, ["python_buildpack"]);
    // A repeated callback changes nothing.
    complete(&task, true, "late", "").await;
    assert_eq!(
        e.client.build(&build.guid).await.unwrap().state,
        build_state::STAGED
    );

    // Run: the droplet from the file server, under the launcher.
    e.client
        .set_current_droplet(&app.guid, &droplet_guid)
        .await
        .unwrap();
    e.client.app_action(&app.guid, "start").await.unwrap();
    let web = e.web(&app.guid).await.pop().unwrap();
    let lrp = eventually("the LRP", 10, || async {
        e.lrp(&web.lrp_process_guid).await
    })
    .await;
    assert_eq!(lrp.root_fs, "preloaded:cflinuxfs4");
    let setup = format!("{:?}", lrp.setup);
    assert!(
        setup.contains(&format!("{fs}/v1/static/droplets/{droplet_guid}.tgz")),
        "{setup}"
    );
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
    assert_eq!(
        run.args[..2],
        ["app".to_string(), "python app.py".to_string()]
    );
    assert!(run
        .env
        .iter()
        .any(|v| v.name == "VCAP_APPLICATION" && v.value.contains("\"py\"")));

    // A staging nothing detects: Cloud Controller's error on the build.
    let build = build_of(&e, &app.guid).await;
    let task = e.internal.task_by_guid(&build.guid).await.unwrap().unwrap();
    complete(&task, true, "Exited with status 222", "").await;
    let failed = e.client.build(&build.guid).await.unwrap();
    assert_eq!(failed.state, build_state::FAILED);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or("")
            .starts_with("NoAppDetectedError"),
        "{:?}",
        failed.error
    );
    assert_eq!(failed.droplet_guid, None);
}

both!(a_named_buildpack_must_exist);
async fn a_named_buildpack_must_exist(db: Db, test: &str) {
    let fs_dir = tempfile::tempdir().unwrap();
    let fs = file_server(fs_dir.path()).await;
    let Some(e) = support::env_with(db, test, move |c| {
        c.file_server_url = fs;
        c.default_stack = "cflinuxfs4".into();
    })
    .await
    else {
        return;
    };
    let app = e
        .client
        .create_app(&CreateApp {
            name: "odd".into(),
            lifecycle: Some(Lifecycle {
                kind: BUILDPACK.into(),
                data: LifecycleData {
                    buildpacks: vec!["cobol".into()],
                    stack: String::new(),
                },
            }),
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
    e.client.upload(&pkg.guid, support::tgz("x")).await.unwrap();
    let err = e.client.create_build(&pkg.guid).await.unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("diego buildpacks"), "{err}");
}

/// A STAGING build as the API writes one, straight into its store.
async fn staging_build(e: &support::Env, app: &str) -> String {
    let guid = uuid::Uuid::new_v4().to_string();
    let build = api::store::BuildRec {
        guid: guid.clone(),
        app_guid: app.into(),
        package_guid: "pkg".into(),
        state: build_state::STAGING.into(),
        error: None,
        droplet_guid: None,
        created_at: api::clock::now_ns(),
    };
    e.api
        .api
        .repo
        .store
        .apply(&[api::store::put(&build)])
        .await
        .unwrap();
    guid
}

both!(a_build_whose_callback_never_came_is_finished_by_the_sync);
async fn a_build_whose_callback_never_came_is_finished_by_the_sync(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e
        .client
        .create_app(&CreateApp {
            name: "lost".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Its task completed on the BBS, but no callback came (here: none was
    // asked for).
    let completed = staging_build(&e, &app.guid).await;
    e.internal
        .desire_task(
            &completed,
            "cf-app-staging",
            Some(testkit::control_plane::work::task_definition()),
        )
        .await
        .unwrap();
    assert!(e.internal.start_task(&completed, "cell-1").await.unwrap());
    e.internal
        .complete_task(
            &completed,
            "cell-1",
            true,
            "Failed to detect: exit status 222",
            "",
        )
        .await
        .unwrap();
    // Its task never reached the BBS.
    let missing = staging_build(&e, &app.guid).await;
    // Its task still runs.
    let running = staging_build(&e, &app.guid).await;
    e.internal
        .desire_task(
            &running,
            "cf-app-staging",
            Some(testkit::control_plane::work::task_definition()),
        )
        .await
        .unwrap();

    // Builds younger than the grace are left alone.
    let api = &e.api.api;
    assert_eq!(
        api.reconcile_builds(api::service::STAGING_GRACE)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        api.reconcile_builds(std::time::Duration::ZERO)
            .await
            .unwrap(),
        2
    );
    let client = &e.client;
    let error = |guid: String| async move {
        let b = client.build(&guid).await.unwrap();
        (b.state, b.error.unwrap_or_default())
    };
    let (state, err) = error(completed).await;
    assert_eq!(state, build_state::FAILED);
    assert!(err.starts_with("NoAppDetectedError"), "{err}");
    let (state, err) = error(missing).await;
    assert_eq!(state, build_state::FAILED);
    assert!(
        err.starts_with("StagingError") && err.contains("not in Diego"),
        "{err}"
    );
    assert_eq!(
        error(running.clone()).await,
        (build_state::STAGING.into(), String::new())
    );
    // Finished builds are not finished again.
    assert_eq!(
        api.reconcile_builds(std::time::Duration::ZERO)
            .await
            .unwrap(),
        0
    );
}
