//! Containers whose root is a `docker://` image pulled from a real
//! registry (docker-registry on loopback, images built with umoci and
//! skopeo): the image's layers are the overlay's lower dirs, shared by
//! every container; its env is the container's; bad images fail the
//! create with a clear error and leave nothing. Needs root and runc.

mod common;

use common::*;
use garden::{Backend, ContainerSpec};
use testkit::oci_image::OciLayout;
use testkit::registry::Registry;

/// busybox, then a layer removing /bin/vi and adding /app; a config with
/// Env, User and WorkingDir.
fn app_image(layout: &OciLayout, tag: &str) {
    layout
        .busybox_image(tag)
        .add_layer(tag, |root| {
            std::fs::remove_file(root.join("bin/vi")).unwrap();
            std::fs::create_dir_all(root.join("app")).unwrap();
            std::fs::write(root.join("app/index.html"), "from the image\n").unwrap();
        })
        .config(
            tag,
            &[
                "--config.env=PATH=/bin:/usr/bin",
                "--config.env=GREETING=from-image",
                "--config.env=MODE=image",
                "--config.user=vcap",
                "--config.workingdir=/app",
            ],
        );
}

fn image_spec(handle: &str, uri: &str) -> ContainerSpec {
    ContainerSpec {
        handle: handle.into(),
        image: uri.into(),
        env: vec!["MODE=spec".into()],
        ..Default::default()
    }
}

async fn loopback_backend(n: u8) -> TestBackend {
    backend_custom(n, |cfg| {
        cfg.insecure_registries = image::LOOPBACK.iter().map(|s| s.to_string()).collect();
    })
    .await
}

fn leases(t: &TestBackend) -> Vec<String> {
    t.backend.images().store().leased_handles()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_run_on_a_pulled_image_sharing_its_layers() {
    skip_unless_able!();
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    app_image(&layout, "app");
    layout.push("app", &reg, "apps/web:v1");
    let t = loopback_backend(61).await;
    let b = &t.backend;
    let uri = format!("docker://{}/apps/web#v1", reg.host());

    b.create(image_spec("img-a", &uri)).await.unwrap();
    b.create(image_spec("img-b", &uri)).await.unwrap();
    for d in layout.layer_digests("app") {
        assert_eq!(reg.blob_downloads(&d), 1, "layer {d} pulled once for both");
    }
    assert_eq!(leases(&t), vec!["img-a", "img-b"]);

    let (status, out, err) = sh(
        b,
        "img-a",
        "cat /app/index.html; ls /bin/vi 2>&1; echo $GREETING $MODE; ls /bin/busybox",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("from the image"), "{out}");
    assert!(
        out.contains("/bin/vi: No such file"),
        "the whiteout hides vi: {out}"
    );
    assert!(
        out.contains("from-image spec"),
        "image env, the spec's wins: {out}"
    );
    // The image's user, with its own home from the image's /etc/passwd.
    let (status, out, _) = sh_as(b, "img-a", "vcap:vcap", "id -u; id -g; echo $HOME").await;
    assert_eq!((status, out.as_str()), (0, "2000\n2000\n/home/vcap\n"));

    // Writes go to the container's own upper dir (counted as its disk use),
    // never into the shared layers.
    let (status, _, err) = sh(
        b,
        "img-a",
        "head -c 3000000 /dev/zero > /app/big; rm /bin/ls",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    let (_, out, _) = sh(b, "img-b", "ls /app; ls /bin/ls").await;
    assert_eq!(
        out, "index.html\n/bin/ls\n",
        "img-b sees the image as it is"
    );
    let m = b.metrics("img-a").await.unwrap();
    assert!(m.disk_usage_bytes >= 3_000_000, "{m:?}");
    assert!(b.metrics("img-b").await.unwrap().disk_usage_bytes < 100_000);

    b.destroy("img-a").await.unwrap();
    assert_eq!(leases(&t), vec!["img-b"]);
    b.destroy("img-b").await.unwrap();
    assert!(leases(&t).is_empty());
    for h in ["img-a", "img-b"] {
        let left = leftovers(&t, h).await;
        assert!(left.is_empty(), "{left:?}");
    }
    assert_eq!(
        b.images().store().usage().layers,
        2,
        "no cap: layers stay cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_images_fail_the_create_and_leave_nothing() {
    skip_unless_able!();
    let (Some(mut reg), Some(layout)) =
        (Registry::start_with_auth("diego", "pw"), OciLayout::new())
    else {
        return;
    };
    layout.busybox_image("b");
    layout.push("b", &reg, "base:v1");
    let arm = "arm";
    layout
        .new_image(arm)
        .add_layer(arm, |root| std::fs::write(root.join("x"), "x").unwrap())
        .config(arm, &["--architecture=arm64"]);
    layout.push(arm, &reg, "arm:v1");
    let t = loopback_backend(62).await;
    let b = &t.backend;
    let host = reg.host();
    let with_creds = |handle: &str, uri: &str, user: &str, pw: &str| ContainerSpec {
        image_username: user.into(),
        image_password: pw.into(),
        ..image_spec(handle, uri)
    };
    let cases = [
        (
            with_creds("bad-1", &format!("docker://{host}/nope#v1"), "diego", "pw"),
            "no repository nope",
        ),
        (
            with_creds("bad-2", &format!("docker://{host}/base#v9"), "diego", "pw"),
            "no manifest v9",
        ),
        (
            with_creds(
                "bad-3",
                &format!("docker://{host}/base#v1"),
                "diego",
                "nope",
            ),
            "check the image username and password",
        ),
        (
            with_creds("bad-4", &format!("docker://{host}/arm#v1"), "diego", "pw"),
            "is for linux/arm64",
        ),
        (
            with_creds("bad-5", &format!("docker://{host}/Upper"), "", ""),
            "invalid image reference",
        ),
    ];
    for (spec, want) in cases {
        let handle = spec.handle.clone();
        let e = b.create(spec).await.unwrap_err();
        eprintln!("{handle}: {e}");
        assert!(e.to_string().contains(want), "{handle}: {e}");
        assert!(leftovers(&t, &handle).await.is_empty());
        assert!(b.containers(&Default::default()).await.unwrap().is_empty());
    }
    reg.stop();
    let e = b
        .create(with_creds(
            "bad-6",
            &format!("docker://{host}/base#v1"),
            "diego",
            "pw",
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unreachable"), "{e}");
    assert!(leases(&t).is_empty());
    let store = b.images().store().root().to_path_buf();
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_backend_keeps_image_containers_and_their_leases() {
    skip_unless_able!();
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout.busybox_image("b");
    layout.push("b", &reg, "base:v1");
    let t = loopback_backend(63).await;
    let uri = format!("docker://{}/base#v1", reg.host());
    t.backend.create(image_spec("kept", &uri)).await.unwrap();
    // A lease whose container is gone (a crash between unmount and release).
    let stale = t
        .backend
        .images()
        .pull(&uri, &Default::default(), &image::IdShift::none())
        .await
        .unwrap();
    t.backend.images().lease("gone", &stale).unwrap();
    drop(stale);

    let again = garden::RuncBackend::new(t.cfg.clone()).await.unwrap();
    assert_eq!(again.images().store().leased_handles(), vec!["kept"]);
    let (status, out, _) = sh(&again, "kept", "echo alive").await;
    assert_eq!((status, out.as_str()), (0, "alive\n"));
    again.destroy("kept").await.unwrap();
    assert!(again.images().store().leased_handles().is_empty());
    assert!(leftovers(&t, "kept").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_containers_layers_go_when_the_store_is_over_its_cap() {
    skip_unless_able!();
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout.busybox_image("a");
    layout.busybox_image("b").add_layer("b", |root| {
        std::fs::write(root.join("extra"), vec![1u8; 1 << 20]).unwrap();
    });
    layout.push("a", &reg, "a:v1").push("b", &reg, "b:v1");
    let t = backend_custom(64, |cfg| {
        cfg.insecure_registries = vec![reg.host()];
        cfg.image_store_cap_bytes = Some(2 << 20);
    })
    .await;
    let b = &t.backend;
    b.create(image_spec(
        "cap-b",
        &format!("docker://{}/b#v1", reg.host()),
    ))
    .await
    .unwrap();
    // b's two layers are over the cap, but leased.
    assert_eq!(b.images().store().usage().layers, 2);
    b.destroy("cap-b").await.unwrap();
    let usage = b.images().store().usage();
    assert!(usage.bytes <= 2 << 20, "{usage:?}");
    assert_eq!(usage.leased_layers, 0);
}

/// busybox, then a layer with files of vcap's (uid 2000) and root's.
fn owners_image(layout: &OciLayout, tag: &str) {
    use std::os::unix::fs::{chown, PermissionsExt};
    layout.busybox_image(tag).add_layer(tag, |root| {
        let data = root.join("data");
        std::fs::create_dir_all(data.join("vcap-dir")).unwrap();
        std::fs::write(data.join("vcap-owned"), "vcap's\n").unwrap();
        std::fs::write(data.join("root-owned"), "root's\n").unwrap();
        for f in ["vcap-owned", "root-owned"] {
            std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        chown(data.join("vcap-owned"), Some(2000), Some(2000)).unwrap();
        chown(data.join("vcap-dir"), Some(2000), Some(2000)).unwrap();
    });
    layout.config(tag, &["--config.user=vcap"]);
}

fn host_owner(t: &TestBackend, handle: &str, path: &str) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(t.backend.container_dir(handle).join("rootfs").join(path))
        .unwrap();
    (m.uid(), m.gid())
}

/// Unprivileged containers run in the backend's user namespace: their
/// image's layers are unpacked shifted by its map, so files keep their
/// owners inside (vcap's are vcap's, root's root's) while the host sees
/// unprivileged ids; a privileged container of the same image gets the
/// layers unshifted. An image container's writes count against its disk
/// limit as a preloaded one's do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_layers_are_shifted_into_the_user_namespace() {
    skip_unless_able!();
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    owners_image(&layout, "own");
    layout.push("own", &reg, "apps/owners:v1");
    let t = backend_custom(65, |cfg| {
        cfg.insecure_registries = image::LOOPBACK.iter().map(|s| s.to_string()).collect();
        cfg.allow_privileged = true;
    })
    .await;
    let b = &t.backend;
    let map = b.id_map();
    let uri = format!("docker://{}/apps/owners#v1", reg.host());

    let mut spec = image_spec("shift-u", &uri);
    spec.limits.disk_bytes = 32 << 20;
    b.create(spec).await.unwrap();
    let (status, out, err) = sh(
        b,
        "shift-u",
        "cat /proc/self/uid_map; stat -c %u:%g /data/vcap-owned /data/vcap-dir /data/root-owned /bin/busybox /home/vcap",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words[..3],
        [
            "0".to_string(),
            map.host_base.to_string(),
            map.size.to_string()
        ],
        "{out}"
    );
    assert_eq!(
        &words[3..],
        ["2000:2000", "2000:2000", "0:0", "0:0", "2000:2000"],
        "owners as the image has them: {out}"
    );
    // The image's user owns its files, and only those.
    let (status, out, err) = sh_as(
        b,
        "shift-u",
        "vcap",
        "id -u; echo more >> /data/vcap-owned && touch /data/vcap-dir/new && echo wrote; \
         echo no >> /data/root-owned",
    )
    .await;
    assert_ne!(status, 0, "vcap wrote root's file: {out}");
    assert_eq!(out, "2000\nwrote\n");
    assert!(err.contains("Permission denied"), "{err}");
    let (status, _, err) = sh(b, "shift-u", "echo root >> /data/root-owned").await;
    assert_eq!(status, 0, "container root writes root's files: {err}");
    // On the host: the map's ids, both in the layers and in what was
    // copied up.
    let host = |id: u32| (map.to_host(id), map.to_host(id));
    assert_eq!(host_owner(&t, "shift-u", "bin/busybox"), host(0));
    assert_eq!(host_owner(&t, "shift-u", "data/root-owned"), host(0));
    assert_eq!(host_owner(&t, "shift-u", "data/vcap-owned"), host(2000));
    assert_eq!(host_owner(&t, "shift-u", "data/vcap-dir/new"), host(2000));
    // The disk limit holds the container's writes to the image.
    let (status, _, err) = sh_as(
        b,
        "shift-u",
        "vcap",
        "dd if=/dev/zero of=/data/vcap-dir/fill bs=1M count=256",
    )
    .await;
    assert_ne!(status, 0);
    assert!(err.contains("No space left"), "{err}");
    let info = b.info("shift-u").await.unwrap();
    assert_eq!(info.events, vec![garden::DISK_QUOTA_EXCEEDED.to_string()]);

    // Privileged: no user namespace, the layers as the image has them (a
    // second, unshifted copy in the store).
    let mut spec = image_spec("shift-p", &uri);
    spec.privileged = true;
    b.create(spec).await.unwrap();
    let (status, out, err) = sh(
        b,
        "shift-p",
        "stat -c %u:%g /data/vcap-owned /data/root-owned",
    )
    .await;
    assert_eq!((status, out.as_str()), (0, "2000:2000\n0:0\n"), "{err}");
    assert_eq!(host_owner(&t, "shift-p", "data/vcap-owned"), (2000, 2000));
    assert_eq!(host_owner(&t, "shift-p", "bin/busybox"), (0, 0));
    assert_eq!(b.images().store().usage().layers, 4, "2 layers, 2 shifts");

    for h in ["shift-u", "shift-p"] {
        b.destroy(h).await.unwrap();
    }
    for h in ["shift-u", "shift-p"] {
        assert_eq!(leftovers(&t, h).await, Vec::<String>::new());
    }
    assert!(leases(&t).is_empty());
}
