//! An image app end to end with the real binary: a registry on loopback
//! (docker-registry behind basic auth) holding an image built with umoci
//! and skopeo; `diego dev`; `diego push web -o REF --docker-username U`
//! (CF_DOCKER_PASSWORD) answering through the router with what the image's
//! config says (Entrypoint, Cmd, WorkingDir, User, ExposedPorts, Env);
//! scaled to 3 with each layer pulled from the registry once; an image
//! whose layer is corrupt in the registry crashes its instances with the
//! reason in `diego apps` and in the BBS's ActualLRPs (what `cfdot
//! actual-lrps` prints); delete.
//!
//! Runs `diego dev` on its fixed ports: not alongside another `diego dev`
//! (see dev_push.rs). Needs root, runc, nats-server, docker-registry,
//! umoci and skopeo; skipped otherwise.

mod dev_support;

use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient};
use dev_support::{
    dev_skip_reason, diego, diego_status, diego_with_env, start_dev, wait_ready, BBS,
};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use testkit::oci_image::OciLayout;
use testkit::registry::Registry;

const HOST: &str = "web.localhost";

async fn get(http: &reqwest::Client, path: &str) -> reqwest::Result<reqwest::Response> {
    dev_support::get(http, HOST, path).await
}

/// The app: busybox httpd serving its working dir /www as vcap; a second layer removes
/// /bin/vi (a whiteout) and adds the pages and a CGI script naming the
/// instance.
fn web_image(layout: &OciLayout) {
    layout
        .busybox_image("web")
        .add_layer("web", |root| {
            std::fs::remove_file(root.join("bin/vi")).unwrap();
            std::fs::create_dir_all(root.join("www/cgi-bin")).unwrap();
            std::fs::write(
                root.join("www/index.html"),
                "<h1>Hello from an image</h1>\n",
            )
            .unwrap();
            std::fs::copy(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../examples/hello/cgi-bin/instance"
                ),
                root.join("www/cgi-bin/instance"),
            )
            .unwrap();
            std::fs::write(
                root.join("www/cgi-bin/env"),
                "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n\
                 echo \"user=$(id -un) greeting=$GREETING port=$PORT\"\nls /bin/vi 2>&1\n",
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                root.join("www/cgi-bin/env"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        })
        .config(
            "web",
            &[
                "--config.entrypoint=/bin/httpd",
                "--config.cmd=-f",
                "--config.cmd=-p",
                "--config.cmd=8080",
                // Relative: the page is found only if WorkingDir is honoured.
                "--config.cmd=-h",
                "--config.cmd=.",
                "--config.user=vcap",
                "--config.workingdir=/www",
                "--config.exposedports=8080/tcp",
                "--config.env=PATH=/bin",
                "--config.env=GREETING=from-the-image",
            ],
        );
}

async fn instances_answering(http: &reqwest::Client, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        let resp = get(http, "/cgi-bin/instance").await.unwrap();
        assert_eq!(resp.status(), 200);
        seen.insert(
            resp.headers()["x-instance-index"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    seen
}

/// The apps' instances as the BBS has them (what cfdot actual-lrps
/// lists): Cloud Controller's domain, where the API desires them (under
/// process guids of its own).
async fn actual_lrps() -> Vec<models::ActualLrp> {
    HttpBbsClient::plain(BBS)
        .unwrap()
        .actual_lrps(&ActualLrpFilter {
            domain: "cf-apps".into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_an_image_reach_it_scale_it_and_delete_it() {
    testkit::skip_if!(dev_skip_reason());
    let (Some(reg), Some(layout)) = (
        Registry::start_with_auth("diego", "s3cret"),
        OciLayout::new(),
    ) else {
        return;
    };
    web_image(&layout);
    layout.push("web", &reg, "apps/web:v1");
    // A second image whose top layer is corrupt where the registry keeps it.
    layout.busybox_image("bad").add_layer("bad", |root| {
        std::fs::write(root.join("payload"), vec![42u8; 64 * 1024]).unwrap();
    });
    layout.config("bad", &["--config.cmd=/bin/sh"]);
    layout.push("bad", &reg, "apps/bad:v1");
    let bad_layer = layout.layer_digests("bad")[1].clone();
    let data = reg.blob_data(&bad_layer);
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dev = start_dev(&data, &["--busybox-only"]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_ready(&dev, Duration::from_secs(60), || {
        dev_support::token_saved(&data)
    })
    .await;

    let image = format!("{}/apps/web:v1", reg.host());
    let creds = [("CF_DOCKER_PASSWORD", "s3cret")];
    let t = Instant::now();
    let out = diego_with_env(
        &data,
        &["push", "web", "-o", &image, "--docker-username", "diego"],
        &creds,
    );
    eprintln!("push -o to 1 running: {:?}\n{out}", t.elapsed());
    assert!(out.contains("http://web.localhost:8080"), "{out}");
    assert!(out.contains("user vcap, ports [8080]"), "{out}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let page = loop {
        let resp = get(&http, "/").await.unwrap();
        if resp.status() == 200 {
            break resp.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no route: {}", resp.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains("Hello from an image"), "{page}");
    // The image's user, working dir and env; PORT; the whiteout.
    let env = get(&http, "/cgi-bin/env")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        env.contains("user=vcap greeting=from-the-image port=8080"),
        "{env}"
    );
    assert!(env.contains("/bin/vi: No such file"), "{env}");

    let t = Instant::now();
    diego(&data, &["scale", "web", "3"]);
    eprintln!("scale 1 -> 3 running: {:?}", t.elapsed());
    let deadline = Instant::now() + Duration::from_secs(15);
    while instances_answering(&http, 25).await.len() < 3 {
        assert!(Instant::now() < deadline, "not all 3 instances routed");
    }
    for d in layout.layer_digests("web") {
        assert_eq!(
            reg.blob_downloads(&d),
            1,
            "layer {d} pulled once for 3 instances"
        );
    }
    let apps = diego(&data, &["apps"]);
    assert!(apps.contains("web") && apps.contains("3/3"), "{apps}");

    // The corrupt image: the CLI reads only the config, so the LRP is
    // desired; the cell refuses the layer, and says so.
    let bad = format!("{}/apps/bad:v1", reg.host());
    let (ok, out) = diego_status(
        &data,
        &[
            "push",
            "broken",
            "-o",
            &bad,
            "--docker-username",
            "diego",
            "--timeout-secs",
            "20",
        ],
        &creds,
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("corrupt blob") && out.contains(&bad_layer),
        "{out}"
    );
    let apps = diego(&data, &["apps"]);
    eprintln!("diego apps:\n{apps}");
    assert!(
        apps.contains("broken") && apps.contains("corrupt blob"),
        "{apps}"
    );
    let crashed = actual_lrps().await;
    assert!(
        crashed
            .iter()
            .any(|l| l.crash_reason.contains("corrupt blob")),
        "{crashed:?}"
    );
    // A wrong password is caught by the CLI already.
    let (ok, out) = diego_status(
        &data,
        &["push", "nope", "-o", &image, "--docker-username", "diego"],
        &[("CF_DOCKER_PASSWORD", "wrong")],
    );
    assert!(!ok && out.contains("not authorized"), "{out}");
    let (ok, out) = diego_status(
        &data,
        &["push", "nope", "-o", &image, "--docker-username", "diego"],
        &[],
    );
    assert!(!ok && out.contains("CF_DOCKER_PASSWORD"), "{out}");

    diego(&data, &["delete", "broken"]);
    diego(&data, &["delete", "web"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = get(&http, "/").await.unwrap().status();
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still routed after delete: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The instances' containers are gone, and with them their leases.
    let leases = data.join("cell/runc/images/leases");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_dir(&leases).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(
            Instant::now() < deadline,
            "leases left in {}",
            leases.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(dev);
}
