//! LRPs with `docker://` root filesystems on a runc cell (root only): the
//! cell pulls the image from a real registry (docker-registry on loopback
//! behind basic auth, images built with umoci and skopeo) with the LRP's
//! image_username/password, and an image it cannot pull crashes the
//! instance with a reason that says why.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};
use support::runc_cell::{self, tcp_check};
use support::{eventually, running, sleeper_lrp, start_world, World};
use testkit::oci_image::OciLayout;
use testkit::registry::Registry;

fn lrp(guid: &str, uri: &str, user: &str, password: &str) -> models::DesiredLrp {
    let mut lrp = sleeper_lrp(guid, 1);
    lrp.root_fs = uri.into();
    lrp.image_username = user.into();
    lrp.image_password = password.into();
    lrp.action = Some(models::Action {
        run_action: Some(models::RunAction {
            path: "httpd".into(),
            args: vec![
                "-f".into(),
                "-p".into(),
                "8080".into(),
                "-h".into(),
                "/www".into(),
            ],
            user: "root".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    lrp.ports = vec![8080];
    lrp.start_timeout_ms = 30_000;
    lrp.check_definition = Some(tcp_check(8080));
    lrp
}

/// The instance's crash reason once it has crashed.
async fn crash_reason(world: &World, guid: &str) -> String {
    eventually(&format!("{guid} crashed with a reason"), 60, || async {
        world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process(guid))
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|l| l.crash_count >= 1 && !l.crash_reason.is_empty())
            .map(|l| l.crash_reason)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_lrps_run_from_a_private_registry_and_bad_images_crash_with_the_reason() {
    testkit::skip_if!(runc_cell::skip_reason());
    let (Some(reg), Some(layout)) = (Registry::start_with_auth("diego", "pw"), OciLayout::new())
    else {
        return;
    };
    layout.busybox_image("web").add_layer("web", |root| {
        std::fs::create_dir_all(root.join("www")).unwrap();
        std::fs::write(root.join("www/index.html"), "served from an image\n").unwrap();
    });
    layout.push("web", &reg, "apps/web:v1");
    let world = start_world().await;
    let host = reg.host();
    let cell = runc_cell::start_with(&world, "cell-img", "rim", (251, 31), (19320, 19339), |rc| {
        rc.insecure_registries = vec![host.clone()];
    })
    .await;

    let uri = format!("docker://{host}/apps/web#v1");
    world.desire_lrp(lrp("web", &uri, "diego", "pw")).await;
    let instance = eventually("the image's instance RUNNING", 60, || async {
        running(&world, "web").await.into_iter().next()
    })
    .await;
    let net = instance.actual_lrp_net_info.unwrap();
    let port = net.ports[0].host_port;
    let body = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(body.contains("served from an image"), "{body}");

    for (guid, uri, password, want) in [
        (
            "wrong-password",
            uri.clone(),
            "nope",
            "not authorized to pull",
        ),
        (
            "unknown-tag",
            format!("docker://{host}/apps/web#v9"),
            "pw",
            "no manifest v9",
        ),
        (
            "unknown-image",
            format!("docker://{host}/apps/nope#v1"),
            "pw",
            "no repository apps/nope",
        ),
    ] {
        world.desire_lrp(lrp(guid, &uri, "diego", password)).await;
        let reason = crash_reason(&world, guid).await;
        eprintln!("{guid}: {reason}");
        assert!(reason.contains(want), "{guid}: {reason}");
    }
    let store = cell.backend.images().store();
    assert_eq!(
        store.leased_handles().len(),
        1,
        "only the running instance's lease"
    );
    cell.rep.shutdown().await;
    world.shutdown().await;
}
