//! `diego push` of source code, staged with buildpacks through the API, as
//! a Cloud Foundry user pushes: `diego dev` (a runc cell offering
//! cflinuxfs4, the file server with the lifecycle and buildpacks, the
//! api, routing) and the CLI only. The api uploads nothing itself: the
//! CLI uploads a package, the api runs Cloud Controller's staging Task on
//! the BBS, the CLI shows its output as it comes, the droplet runs under
//! the launcher and answers through the router. `diego buildpacks` and
//! `diego stacks` list what there is; `diego restage` stages again (from
//! the build cache); an app no buildpack detects fails with Cloud
//! Controller's NoAppDetectedError and leaves nothing behind. Prints the
//! time from push to the first response.
//!
//! Needs root, runc, nats-server and mmdebstrap (the stack is built once
//! per machine); skips, saying why, otherwise. `diego dev` listens on its
//! fixed ports, so this cannot run beside another `diego dev`.

mod dev_support;

use dev_support::*;
use std::time::{Duration, Instant};

const APP: &str = r#"import json, os, http.server

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "hello": "from python",
            "port": os.environ.get("PORT"),
            "home": os.environ.get("HOME"),
            "app": json.loads(os.environ["VCAP_APPLICATION"])["application_name"],
            "greeting": os.environ.get("GREETING"),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

print("python app listening on", os.environ["PORT"])
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// The first 200 answer for `host` through the router.
async fn first_answer(http: &reqwest::Client, host: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(r) = http
            .get(format!("{ROUTER}/"))
            .header("Host", host)
            .send()
            .await
        {
            if r.status() == 200 {
                return r.text().await.ok();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_stages_source_with_buildpacks_through_the_api() {
    testkit::skip_if!(staging_skip_reason());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dev = start_dev(&data, &[]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_ready(&dev, Duration::from_secs(600), || token_saved(&data)).await;

    let (ok, out) = diego_cli(&data, &["stacks"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("cflinuxfs4") && out.contains("(default)"),
        "{out}"
    );
    assert!(out.contains("busybox"), "{out}");
    let (ok, out) = diego_cli(&data, &["buildpacks"]);
    assert!(ok, "{out}");
    for bp in [
        "staticfile_buildpack",
        "nodejs_buildpack",
        "python_buildpack",
    ] {
        assert!(out.contains(bp), "{bp} not listed:\n{out}");
    }
    assert!(out.contains("READY"), "{out}");

    // A Python app: detected, staged, run, routed.
    let src = tmp.path().join("py");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("app.py"), APP).unwrap();
    std::fs::write(src.join("requirements.txt"), "").unwrap();
    let started = Instant::now();
    let (ok, out) = diego_cli(&data, &["push", "py", "-p", src.to_str().unwrap()]);
    let pushed = started.elapsed();
    assert!(ok, "push failed:\n{out}\n{}", dev.log());
    eprintln!("push:\n{out}");
    assert!(out.contains("Staging py..."), "{out}");
    // The staging Task's output reached the CLI: the builder's and the
    // buildpack's lines, and the upload's progress.
    assert!(
        out.contains("Uploading droplet"),
        "no staging output:\n{out}"
    );
    assert!(out.contains("is running"), "{out}");
    let body = first_answer(&http, "py.localhost", Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("py did not answer through the router:\n{}", dev.log()));
    let to_first_response = started.elapsed();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["hello"], "from python");
    assert_eq!(v["port"], "8080");
    assert_eq!(v["home"], "/home/vcap/app");
    assert_eq!(v["app"], "py");
    eprintln!(
        "buildpack push of a Python app: push command {pushed:.1?}, push to first response \
         through the router {to_first_response:.1?}"
    );
    let (ok, out) = diego_cli(&data, &["app", "py"]);
    assert!(ok, "{out}");

    // An environment variable, then a restage: staged again (with the
    // build cache), the new droplet runs.
    let (ok, out) = diego_cli(&data, &["set-env", "py", "GREETING", "restaged"]);
    assert!(ok, "{out}");
    let started = Instant::now();
    let (ok, out) = diego_cli(&data, &["restage", "py"]);
    assert!(ok, "restage failed:\n{out}");
    assert!(out.contains("Staging py..."), "{out}");
    eprintln!("restage: {:.1?}", started.elapsed());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = first_answer(&http, "py.localhost", Duration::from_secs(30))
            .await
            .unwrap();
        if body.contains("restaged") {
            break;
        }
        assert!(Instant::now() < deadline, "the restaged droplet: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Nothing detects a directory of plain text: Cloud Controller's
    // error, and no half-made app; py keeps serving.
    let junk = tmp.path().join("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("notes.txt"), "nothing to run").unwrap();
    let (ok, out) = diego_cli(&data, &["push", "junk", "-p", junk.to_str().unwrap()]);
    assert!(!ok, "a push nothing detects succeeded:\n{out}");
    assert!(out.contains("NoAppDetectedError"), "{out}");
    let (_, apps) = diego_cli(&data, &["apps"]);
    assert!(!apps.contains("junk"), "{apps}");
    assert!(first_answer(&http, "py.localhost", Duration::from_secs(5))
        .await
        .is_some());
    drop(dev);
}
