use super::*;
use models::validation::Validate;

fn request() -> StagingRequest {
    StagingRequest {
        staging_guid: "build-1".into(),
        app: AppFacts {
            app_guid: "app-1".into(),
            app_name: "dora".into(),
            memory_mb: 1024,
            disk_mb: 4096,
            ..Default::default()
        },
        stack: "cflinuxfs4".into(),
        lifecycle_bundle_url: "http://fs/v1/static/buildpack_app_lifecycle.tgz".into(),
        buildpacks: vec![
            Buildpack {
                name: "python_buildpack".into(),
                key: "python_buildpack".into(),
                url: "http://fs/v1/static/buildpacks/python.zip".into(),
                sha256: "ab".repeat(32),
                skip_detect: false,
            },
            Buildpack {
                name: "staticfile_buildpack".into(),
                key: "staticfile_buildpack".into(),
                url: "http://fs/v1/static/buildpacks/staticfile.zip".into(),
                sha256: String::new(),
                skip_detect: false,
            },
        ],
        package: Download {
            url: "http://fs/v1/static/packages/p.zip".into(),
            sha256: "cd".repeat(32),
        },
        build_cache: Some(Download {
            url: "http://fs/v1/static/build_artifacts/app-1.tgz".into(),
            sha256: "ef".repeat(32),
        }),
        droplet_upload_url: "http://fs/v1/droplet/build-1".into(),
        build_artifacts_upload_url: "http://fs/v1/build_artifacts/app-1".into(),
        completion_callback_url: "http://api/internal/v3/staging/build-1/build_completed".into(),
        memory_mb: 1024,
        disk_mb: 4096,
        environment: crate::env::staging_environment(&AppFacts::default(), "cflinuxfs4", "", &[]),
        ..Default::default()
    }
}

#[test]
fn the_staging_task_is_cloud_controllers() {
    let req = request();
    let task = staging_task(&req);
    assert_eq!(task.root_fs, "preloaded:cflinuxfs4");
    assert_eq!(task.log_source, "STG");
    assert_eq!(task.log_guid, "app-1");
    assert_eq!(task.result_file, "/tmp/result.json");
    assert_eq!(task.cpu_weight, 50);
    assert_eq!(task.legacy_download_user, "vcap");
    assert_eq!(
        task.completion_callback_url,
        "http://api/internal/v3/staging/build-1/build_completed"
    );
    assert_eq!(task.environment_variables, [var("LANG", "en_US.UTF-8")]);
    assert_eq!(
        task.certificate_properties
            .as_ref()
            .unwrap()
            .organizational_unit,
        ["app:app-1"]
    );

    // Lifecycle and buildpacks as cached dependencies.
    let deps = &task.cached_dependencies;
    assert_eq!(deps.len(), 3);
    assert_eq!(deps[0].to, "/tmp/lifecycle");
    assert_eq!(deps[0].cache_key, "buildpack-cflinuxfs4-lifecycle");
    assert_eq!(deps[1].name, "python_buildpack");
    assert_eq!(deps[1].cache_key, "python_buildpack");
    assert_eq!(
        deps[1].to,
        format!("/tmp/buildpacks/{}", key_hash("python_buildpack"))
    );
    assert_eq!(deps[1].checksum_algorithm, "sha256");
    assert_eq!(deps[2].checksum_algorithm, "");

    // timeout(serial[parallel[download, try(download)], run,
    // emit_progress(parallel[upload, upload])]).
    let t = task
        .action
        .as_ref()
        .unwrap()
        .timeout_action
        .as_ref()
        .unwrap();
    assert_eq!(t.timeout_ms, 900_000);
    let steps = &t
        .action
        .as_ref()
        .unwrap()
        .serial_action
        .as_ref()
        .unwrap()
        .actions;
    assert_eq!(steps.len(), 3);
    let downloads = &steps[0].parallel_action.as_ref().unwrap().actions;
    let app = downloads[0].download_action.as_ref().unwrap();
    assert_eq!(
        (app.artifact.as_str(), app.to.as_str(), app.user.as_str()),
        ("app package", "/tmp/app", "vcap")
    );
    assert_eq!(app.checksum_value, "cd".repeat(32));
    let cache = downloads[1]
        .try_action
        .as_ref()
        .unwrap()
        .action
        .as_ref()
        .unwrap();
    let cache = cache.download_action.as_ref().unwrap();
    assert_eq!(cache.to, "/tmp/cache");
    assert_eq!(cache.artifact, "build artifacts cache");

    let run = steps[1].run_action.as_ref().unwrap();
    assert_eq!(run.path, "/tmp/lifecycle/builder");
    assert_eq!(run.user, "vcap");
    assert_eq!(
        run.args,
        [
            "-buildpackOrder=python_buildpack,staticfile_buildpack",
            "-skipCertVerify=false",
            "-skipDetect=false",
            "-buildDir=/tmp/app",
            "-outputDroplet=/tmp/droplet",
            "-outputMetadata=/tmp/result.json",
            "-outputBuildArtifactsCache=/tmp/output-cache",
            "-buildpacksDir=/tmp/buildpacks",
            "-buildArtifactsCacheDir=/tmp/cache",
        ]
    );
    assert!(run.env.iter().any(|e| e.name == "CF_STACK"));

    let progress = steps[2].emit_progress_action.as_ref().unwrap();
    assert_eq!(
        progress.start_message,
        "Uploading droplet, build artifacts cache..."
    );
    assert_eq!(progress.success_message, "Uploading complete");
    assert_eq!(progress.failure_message_prefix, "Uploading failed");
    let uploads = &progress
        .action
        .as_ref()
        .unwrap()
        .parallel_action
        .as_ref()
        .unwrap()
        .actions;
    let droplet = uploads[0].upload_action.as_ref().unwrap();
    assert_eq!(
        (droplet.from.as_str(), droplet.to.as_str()),
        ("/tmp/droplet", "http://fs/v1/droplet/build-1")
    );
    let cache = uploads[1].upload_action.as_ref().unwrap();
    assert_eq!(cache.from, "/tmp/output-cache");

    // And the BBS takes it.
    let desire = desire_staging_task(&req);
    assert_eq!(desire.domain, "cf-app-staging");
    assert!(desire.validate().is_ok(), "{:?}", desire.validate());
}

#[test]
fn named_buildpacks_skip_detection_and_custom_ones_are_fetched_by_the_builder() {
    let mut req = request();
    req.build_cache = None;
    for b in &mut req.buildpacks {
        b.skip_detect = true;
    }
    req.buildpacks.push(Buildpack {
        name: "custom".into(),
        key: "https://example.com/bp.zip".into(),
        url: "https://example.com/bp.zip".into(),
        sha256: String::new(),
        skip_detect: true,
    });
    // The builder fetches a custom buildpack from inside the container:
    // the staging security groups must let it out.
    req.egress_rules = vec![models::SecurityGroupRule {
        protocol: "tcp".into(),
        destinations: vec!["0.0.0.0-255.255.255.255".into()],
        ports: vec![443],
        ..Default::default()
    }];
    let task = staging_task(&req);
    assert_eq!(task.egress_rules, req.egress_rules);
    task.validate().unwrap();
    assert_eq!(
        task.cached_dependencies.len(),
        3,
        "no dependency for a custom buildpack"
    );
    let args = builder_args(&req);
    assert_eq!(args[2], "-skipDetect=true");
    assert!(args[0].ends_with(",https://example.com/bp.zip"));
    let t = task.action.unwrap().timeout_action.unwrap();
    let steps = t.action.unwrap().serial_action.unwrap().actions;
    assert_eq!(steps[0].parallel_action.as_ref().unwrap().actions.len(), 1);
}

#[test]
fn outcomes_read_as_cloud_controller_reads_them() {
    let staged = StagingOutcome::from_parts(
        false,
        "",
        r#"{"lifecycle_metadata":{"buildpack_key":"python_buildpack","detected_buildpack":"python","buildpacks":[{"key":"python_buildpack","name":"python"}]},"process_types":{"web":"python app.py"},"execution_metadata":"","lifecycle_type":"buildpack"}"#,
    );
    let StagingOutcome::Staged(r) = staged else {
        panic!("{staged:?}")
    };
    assert_eq!(r.process_types.unwrap()["web"], "python app.py");
    assert_eq!(r.lifecycle_metadata.detected_buildpack, "python");

    let cases = [
        ("STG: Exited with status 222", "NoAppDetectedError", 170003),
        (
            "STG: Exited with status 223",
            "BuildpackCompileFailed",
            170004,
        ),
        (
            "STG: Exited with status 224",
            "BuildpackReleaseFailed",
            170005,
        ),
        (
            "insufficient resources: memory",
            "InsufficientResources",
            170008,
        ),
        ("found no compatible cell", "NoCompatibleCell", 170009),
        (
            "Uploading failed: Failed to upload payload for droplet",
            "StagingError",
            170001,
        ),
    ];
    for (reason, id, code) in cases {
        let StagingOutcome::Failed(f) = StagingOutcome::from_parts(true, reason, "") else {
            panic!("{reason}")
        };
        assert_eq!((f.id.as_str(), f.code), (id, code), "{reason}");
        assert_eq!(f.reason, reason);
    }
    let StagingOutcome::Failed(f) =
        StagingOutcome::from_parts(true, "STG: Exited with status 222", "")
    else {
        unreachable!()
    };
    assert_eq!(
        f.display(),
        "NoAppDetectedError - An app was not successfully detected by any available buildpack"
    );
    let StagingOutcome::Failed(f) = StagingOutcome::from_parts(true, "boom", "") else {
        unreachable!()
    };
    assert_eq!(f.description, "Staging error: staging failed");

    let (guid, outcome) = StagingOutcome::from_callback(
        br#"{"task_guid":"build-1","failed":true,"failure_reason":"STG: Exited with status 223","result":"","created_at":1}"#,
    )
    .unwrap();
    assert_eq!(guid, "build-1");
    assert!(matches!(outcome, StagingOutcome::Failed(f) if f.id == "BuildpackCompileFailed"));
}
