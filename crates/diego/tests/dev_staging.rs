//! Buildpack staging on the real stack, end to end: `diego dev` (a runc
//! cell offering `preloaded:cflinuxfs4`, the file server with the
//! lifecycle bundle and buildpacks, NATS, route-emitter, router) runs Cloud
//! Controller's staging Task (built by `recipes`) for a Python app, a static
//! site, a Node.js app and a binary app. Each droplet lands in the file server; the LRP
//! desired from it answers through the router with Cloud Foundry's
//! environment. A restage with a Procfile reuses the build cache and the
//! Procfile's command wins; an app no buildpack detects fails with exit
//! 222, Diego's text and Cloud Controller's NoAppDetectedError; a droplet
//! that cannot be uploaded fails staging. Prints staging times (cold and
//! cached), droplet sizes and push-to-first-response.
//!
//! Needs root, runc, nats-server and mmdebstrap (the stack is built once
//! per machine, minutes the first time); skips, saying why, otherwise.
//! `diego dev` listens on its fixed ports, so this cannot run beside
//! another `diego dev`.

mod dev_support;

use dev_support::*;
use prost::Message;
use recipes::{AppFacts, AppRequest, Buildpack, Download, StagingOutcome, StagingRequest};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const FILE_SERVER: &str = "http://127.0.0.1:8084";
const REP: &str = "http://127.0.0.1:1800";

/// The staging Task's end, from the completion callback.
struct Staged {
    outcome: StagingOutcome,
    log: String,
    elapsed: Duration,
}

struct Ctx {
    data: std::path::PathBuf,
    /// `diego dev`'s output, for what a failure shows.
    dev_log: std::path::PathBuf,
    http: reqwest::Client,
    callbacks: Callbacks,
}

fn app_facts(name: &str) -> AppFacts {
    AppFacts {
        app_guid: format!("{name}-guid"),
        app_name: name.into(),
        space_guid: "space-guid".into(),
        space_name: "dev".into(),
        organization_guid: "org-guid".into(),
        organization_name: "diego".into(),
        uris: vec![format!("{name}.localhost")],
        cf_api: "http://api.localhost".into(),
        memory_mb: 256,
        disk_mb: 1024,
        ..Default::default()
    }
}

fn published(data: &Path, relative: &str) -> Download {
    let sha256 = std::fs::read_to_string(data.join("static").join(format!("{relative}.sha256")))
        .unwrap_or_else(|e| panic!("{relative}.sha256: {e}"));
    Download {
        url: format!("{FILE_SERVER}/v1/static/{relative}"),
        sha256: sha256.trim().into(),
    }
}

/// The app directory as a tgz in the file server's directory.
fn package(data: &Path, guid: &str, dir: &Path) -> Download {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let tgz = gz.finish().unwrap();
    let relative = format!("packages/{guid}.tgz");
    let path = data.join("static").join(&relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &tgz).unwrap();
    use sha2::Digest;
    Download {
        url: format!("{FILE_SERVER}/v1/static/{relative}"),
        sha256: hex(&sha2::Sha256::digest(&tgz)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Ctx {
    /// Stages `dir` as app `name` with the named buildpacks (detected in
    /// that order, or applied in order with `skip_detect`).
    async fn stage(
        &self,
        name: &str,
        build: &str,
        dir: &Path,
        buildpacks: &[&str],
        skip_detect: bool,
        droplet_upload_url: Option<String>,
    ) -> Staged {
        let app = app_facts(name);
        let cache = format!("build_artifacts/{}.tgz", app.app_guid);
        let build_cache = self
            .data
            .join("static")
            .join(&cache)
            .exists()
            .then(|| published(&self.data, &cache));
        let req = StagingRequest {
            staging_guid: build.into(),
            stack: "cflinuxfs4".into(),
            lifecycle_bundle_url: published(&self.data, "lifecycle/buildpack_app_lifecycle.tgz")
                .url,
            buildpacks: buildpacks
                .iter()
                .map(|b| {
                    let key = format!("{b}_buildpack");
                    let d = published(&self.data, &format!("buildpacks/{key}.zip"));
                    Buildpack {
                        name: key.clone(),
                        key,
                        url: d.url,
                        sha256: d.sha256,
                        skip_detect,
                    }
                })
                .collect(),
            package: package(&self.data, build, dir),
            build_cache,
            droplet_upload_url: droplet_upload_url
                .unwrap_or_else(|| format!("{FILE_SERVER}/v1/droplet/{build}")),
            build_artifacts_upload_url: format!(
                "{FILE_SERVER}/v1/build_artifacts/{}",
                app.app_guid
            ),
            completion_callback_url: self.callbacks.url(build),
            memory_mb: 1024,
            disk_mb: 4096,
            environment: recipes::env::staging_environment(&app, "cflinuxfs4", "", &[]),
            app,
            ..Default::default()
        };
        let started = Instant::now();
        let desire = recipes::staging::desire_staging_task(&req);
        bbs_post(&self.http, "/v1/tasks/desire.r2", desire.encode_to_vec()).await;
        let log = follow_task_log(build.to_string());
        let body = self.callbacks.wait(build, Duration::from_secs(600)).await;
        let elapsed = started.elapsed();
        let (guid, outcome) = StagingOutcome::from_callback(&body).unwrap();
        assert_eq!(guid, build);
        let log = tokio::time::timeout(Duration::from_secs(30), log)
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        Staged {
            outcome,
            log,
            elapsed,
        }
    }

    /// Desires the process from `build`'s droplet; the first response
    /// through the router, and when it came.
    async fn run(&self, name: &str, build: &str, start_command: &str) -> (String, Instant) {
        let app = AppFacts {
            process_guid: format!("{name}-web"),
            process_type: "web".into(),
            ..app_facts(name)
        };
        let req = AppRequest {
            process_guid: format!("{name}-{build}"),
            instances: 1,
            stack: "cflinuxfs4".into(),
            lifecycle_bundle_url: published(&self.data, "lifecycle/buildpack_app_lifecycle.tgz")
                .url,
            droplet: published(&self.data, &format!("droplets/{build}.tgz")),
            start_command: start_command.into(),
            routes: vec![format!("{name}.localhost")],
            environment: vec![("GREETING".into(), "hello from env".into())],
            app,
            ..Default::default()
        };
        let mut lrp = recipes::buildpack_desired_lrp(&req);
        // Not Cloud Controller's `cf-apps`: diego dev's api owns that
        // domain and, as Cloud Controller's sync does, removes the LRPs
        // in it that it did not desire.
        lrp.domain = "dev-staging".into();
        bbs_post(
            &self.http,
            "/v1/desired_lrp/desire.r2",
            models::DesireLrpRequest {
                desired_lrp: Some(lrp),
            }
            .encode_to_vec(),
        )
        .await;
        let host = format!("{name}.localhost");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{ROUTER}/"))
                .header("Host", &host)
                .send()
                .await
            {
                if r.status() == 200 {
                    let at = Instant::now();
                    return (r.text().await.unwrap(), at);
                }
            }
            if Instant::now() > deadline {
                let logs = reqwest::get(format!("{REP}/v1/lrps/{}/logs", req.process_guid))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let dev_log = std::fs::read_to_string(&self.dev_log).unwrap_or_default();
                let lines: Vec<&str> = dev_log
                    .lines()
                    .filter(|l| l.contains(&req.process_guid) || l.contains("ERROR"))
                    .collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                panic!(
                    "{host} did not answer through the router; its log:\n{logs}\n\
                     what diego dev said of it:\n{tail}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn remove(&self, process_guid: &str) {
        bbs_post(
            &self.http,
            "/v1/desired_lrp/remove",
            models::RemoveDesiredLrpRequest {
                process_guid: process_guid.into(),
            }
            .encode_to_vec(),
        )
        .await;
    }
}

/// A task's staging output from the rep, followed until its container goes.
fn follow_task_log(guid: String) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let url = format!("{REP}/v1/tasks/{guid}/logs?follow=true");
        for _ in 0..600 {
            if let Ok(r) = reqwest::Client::new().get(&url).send().await {
                if r.status() == 200 {
                    return r.text().await.unwrap_or_default();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        String::new()
    })
}

fn wheel(dir: &Path) {
    // A pure-Python wheel of our own, vendored as a CF user vendors theirs.
    let path = dir.join("vendor/greeting-1.0-py3-none-any.whl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for (name, body) in [
        ("greeting/__init__.py", "def hello():\n    return 'hello from a vendored wheel'\n"),
        ("greeting-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: greeting\nVersion: 1.0\n"),
        ("greeting-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: diego-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ("greeting-1.0.dist-info/RECORD", "greeting/__init__.py,,\ngreeting-1.0.dist-info/METADATA,,\ngreeting-1.0.dist-info/WHEEL,,\ngreeting-1.0.dist-info/RECORD,,\n"),
    ] {
        z.start_file(name, opts).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}

/// The app's recent log lines from diego dev's log component, rendered
/// as `cf logs` prints them, once `done` holds (or after 10 s).
async fn app_log_lines(source: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let reader = logs_client::Reader::new("http://127.0.0.1:8083").unwrap();
    let opts = logs_client::reader::ReadOptions {
        limit: Some(1000),
        envelope_types: vec!["LOG".into()],
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<String> = reader
            .recent(source, &opts)
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(logs_client::envelope::render_cf)
            .collect();
        if done(&lines) || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const PYTHON_APP: &str = r#"import json, os, http.server
import greeting

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "greeting": greeting.hello(),
            "source": os.environ.get("APP_SOURCE", "buildpack"),
            "port": os.environ.get("PORT"),
            "lang": os.environ.get("LANG"),
            "memory_limit": os.environ.get("MEMORY_LIMIT"),
            "home": os.environ.get("HOME"),
            "tmpdir": os.environ.get("TMPDIR"),
            "env_greeting": os.environ.get("GREETING"),
            "instance_index": os.environ.get("CF_INSTANCE_INDEX"),
            "vcap_application": json.loads(os.environ["VCAP_APPLICATION"]),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

print("python app listening on", os.environ["PORT"])
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_and_run_apps_on_cflinuxfs4() {
    testkit::skip_if!(staging_skip_reason());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dev = start_dev(&data, &[]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    wait_ready(&dev, Duration::from_secs(900), || {
        data.join("static/lifecycle/buildpack_app_lifecycle.tgz.sha256")
            .exists()
            && data
                .join("static/buildpacks/binary_buildpack.zip.sha256")
                .exists()
            && dev.log().contains("Ctrl-C stops everything")
    })
    .await;
    assert!(
        dev.log()
            .contains("preloaded:busybox, preloaded:cflinuxfs4"),
        "{}",
        dev.log()
    );
    let ctx = Ctx {
        data: data.clone(),
        dev_log: data.with_extension("log"),
        http: http.clone(),
        callbacks: Callbacks::start().await,
    };
    let all = ["staticfile", "nodejs", "python", "binary"];

    // A Python app: detected, its vendored wheel installed, run from the
    // droplet with Cloud Foundry's environment.
    let py = tmp.path().join("py");
    std::fs::create_dir_all(&py).unwrap();
    std::fs::write(py.join("app.py"), PYTHON_APP).unwrap();
    std::fs::write(py.join("requirements.txt"), "greeting==1.0\n").unwrap();
    wheel(&py);
    let pushed = Instant::now();
    let cold = ctx.stage("py", "py-build-1", &py, &all, false, None).await;
    let StagingOutcome::Staged(result) = &cold.outcome else {
        panic!("python staging failed: {:?}\n{}", cold.outcome, cold.log)
    };
    assert_eq!(result.lifecycle_metadata.detected_buildpack, "python");
    assert_eq!(result.lifecycle_metadata.buildpack_key, "python_buildpack");
    let web = result.process_types.as_ref().unwrap()["web"].clone();
    assert_eq!(web, "python app.py");
    for line in [
        "[STG/0] OUT Downloading app package...",
        "-----> Installing python 3.11",
        "Installing requirements.txt with pip",
        "Successfully installed greeting-1.0",
        "[STG/0] OUT Uploading droplet, build artifacts cache...",
        "[STG/0] OUT Uploading complete",
    ] {
        assert!(cold.log.contains(line), "{line:?} not in:\n{}", cold.log);
    }
    let droplet = data.join("static/droplets/py-build-1.tgz");
    let droplet_size = std::fs::metadata(&droplet).unwrap().len();
    let (body, answered) = ctx.run("py", "py-build-1", &web).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["greeting"], "hello from a vendored wheel");
    assert_eq!(v["source"], "buildpack");
    assert_eq!(v["port"], "8080");
    assert_eq!(v["lang"], "en_US.UTF-8");
    assert_eq!(v["memory_limit"], "256m");
    assert_eq!(v["home"], "/home/vcap/app");
    assert_eq!(v["tmpdir"], "/home/vcap/tmp");
    assert_eq!(v["env_greeting"], "hello from env");
    assert_eq!(v["instance_index"], "0");
    assert_eq!(v["vcap_application"]["application_name"], "py");
    assert_eq!(v["vcap_application"]["instance_index"], 0);
    assert_eq!(v["vcap_application"]["port"], 8080);
    // Staging's lines and the router's access line of that request are
    // in the app's logs on the log component (`diego logs py --recent`).
    let logged = app_log_lines("py-guid", |l| {
        l.iter().any(|l| l.contains("[RTR/0] OUT py.localhost"))
    })
    .await;
    for line in [
        "[STG/0] OUT Downloading app package...",
        "[STG/0] OUT Uploading complete",
        "[RTR/0] OUT py.localhost",
    ] {
        assert!(
            logged.iter().any(|l| l.contains(line)),
            "{line:?} not in:\n{}",
            logged.join("\n")
        );
    }
    let push_to_first_response = answered - pushed;

    // Restage with a Procfile: the build cache comes back (no pip this
    // time) and the Procfile's command replaces the buildpack's.
    std::fs::write(
        py.join("Procfile"),
        "web: APP_SOURCE=procfile python app.py\n",
    )
    .unwrap();
    let warm = ctx.stage("py", "py-build-2", &py, &all, false, None).await;
    let StagingOutcome::Staged(result) = &warm.outcome else {
        panic!("python restaging failed: {:?}\n{}", warm.outcome, warm.log)
    };
    let web = result.process_types.as_ref().unwrap()["web"].clone();
    assert_eq!(web, "APP_SOURCE=procfile python app.py");
    assert!(
        warm.log.contains("Downloading build artifacts cache..."),
        "{}",
        warm.log
    );
    assert!(
        warm.log
            .contains("Reusing the packages installed last time"),
        "{}",
        warm.log
    );
    assert!(!warm.log.contains("Installing requirements.txt with pip"));
    ctx.remove("py-py-build-1").await;
    let (body, _) = ctx.run("py", "py-build-2", &web).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["source"], "procfile");

    // A static site: the staticfile buildpack detects it; nginx serves it.
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("Staticfile"), "").unwrap();
    std::fs::write(site.join("index.html"), "<h1>static on cflinuxfs4</h1>\n").unwrap();
    let st = ctx
        .stage("site", "site-build-1", &site, &all, false, None)
        .await;
    let StagingOutcome::Staged(result) = &st.outcome else {
        panic!("static staging failed: {:?}\n{}", st.outcome, st.log)
    };
    assert_eq!(result.lifecycle_metadata.detected_buildpack, "staticfile");
    let web = result.process_types.as_ref().unwrap()["web"].clone();
    let (body, _) = ctx.run("site", "site-build-1", &web).await;
    assert_eq!(body, "<h1>static on cflinuxfs4</h1>\n");

    // A Node.js app: its start script from package.json.
    let node = tmp.path().join("node");
    std::fs::create_dir_all(&node).unwrap();
    std::fs::write(
        node.join("package.json"),
        r#"{"name":"hello-node","version":"1.0.0","scripts":{"start":"node server.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        node.join("server.js"),
        "require('http').createServer((req, res) => res.end('node ' + process.version + ' on ' + process.env.PORT + '\\n')).listen(process.env.PORT);\n",
    )
    .unwrap();
    let nd = ctx
        .stage("node", "node-build-1", &node, &all, false, None)
        .await;
    let StagingOutcome::Staged(result) = &nd.outcome else {
        panic!("node staging failed: {:?}\n{}", nd.outcome, nd.log)
    };
    assert_eq!(result.lifecycle_metadata.detected_buildpack, "nodejs");
    let web = result.process_types.as_ref().unwrap()["web"].clone();
    assert_eq!(web, "node server.js");
    let (body, _) = ctx.run("node", "node-build-1", &web).await;
    assert!(
        body.starts_with("node v18.") && body.ends_with(" on 8080\n"),
        "{body}"
    );

    // A binary app, the buildpack named: a static executable and its
    // Procfile.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // busybox picks its applet from argv[0]: it keeps its name.
    std::fs::copy("/usr/bin/busybox", bin.join("busybox")).unwrap();
    std::fs::write(bin.join("index.html"), "binary app\n").unwrap();
    std::fs::write(
        bin.join("Procfile"),
        "web: ./busybox httpd -f -p $PORT -h .\n",
    )
    .unwrap();
    let b = ctx
        .stage("bin", "bin-build-1", &bin, &["binary"], true, None)
        .await;
    let StagingOutcome::Staged(result) = &b.outcome else {
        panic!("binary staging failed: {:?}\n{}", b.outcome, b.log)
    };
    assert_eq!(result.lifecycle_metadata.buildpack_key, "binary_buildpack");
    let web = result.process_types.as_ref().unwrap()["web"].clone();
    let (body, _) = ctx.run("bin", "bin-build-1", &web).await;
    assert_eq!(body, "binary app\n");

    // Nothing detects a README: exit 222, Diego's text, Cloud Controller's
    // error; the running version of "site" keeps serving.
    let none = tmp.path().join("none");
    std::fs::create_dir_all(&none).unwrap();
    std::fs::write(none.join("README.txt"), "no app here\n").unwrap();
    let n = ctx
        .stage(
            "site",
            "site-build-2",
            &none,
            &["staticfile", "nodejs", "python"],
            false,
            None,
        )
        .await;
    let StagingOutcome::Failed(f) = &n.outcome else {
        panic!("{:?}", n.outcome)
    };
    assert!(f.reason.ends_with("222"), "{}", f.reason);
    assert_eq!(
        f.display(),
        "NoAppDetectedError - An app was not successfully detected by any available buildpack"
    );
    assert!(
        n.log
            .contains("None of the buildpacks detected a compatible application"),
        "{}",
        n.log
    );
    assert!(!data.join("static/droplets/site-build-2.tgz").exists());

    // A droplet that cannot be uploaded fails staging; nothing is stored.
    let u = ctx
        .stage(
            "site",
            "site-build-3",
            &site,
            &all,
            false,
            Some("http://127.0.0.1:9/v1/droplet/site-build-3".into()),
        )
        .await;
    let StagingOutcome::Failed(f) = &u.outcome else {
        panic!("{:?}", u.outcome)
    };
    assert_eq!(f.id, "StagingError", "{f:?}");
    assert!(u.log.contains("Uploading failed"), "{}", u.log);
    let r = http
        .get(format!("{ROUTER}/"))
        .header("Host", "site.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "<h1>static on cflinuxfs4</h1>\n");

    eprintln!(
        "FIGURES: python staging cold {:.1}s, with the build cache {:.1}s; \
         python droplet {:.1} MB; push to first response {:.1}s; \
         static site staging {:.1}s; node staging {:.1}s; binary staging {:.1}s",
        cold.elapsed.as_secs_f64(),
        warm.elapsed.as_secs_f64(),
        droplet_size as f64 / 1e6,
        push_to_first_response.as_secs_f64(),
        st.elapsed.as_secs_f64(),
        nd.elapsed.as_secs_f64(),
        b.elapsed.as_secs_f64(),
    );
}
