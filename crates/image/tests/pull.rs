//! Pulling real images from a real registry: Debian's docker-registry on
//! loopback, images made with umoci and copied there with skopeo (see
//! testkit). Skipped (saying why) when those tools are missing; the
//! whiteout and ownership checks need root.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use image::{
    Credentials, IdShift, ImageError, ImageService, ImageServiceConfig, InsecureRegistries,
};
use testkit::oci_image::{ManifestFormat, OciLayout};
use testkit::registry::Registry;

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn service(store: &Path) -> ImageService {
    ImageService::open(ImageServiceConfig {
        store_dir: store.to_path_buf(),
        store_cap_bytes: None,
        insecure: InsecureRegistries::loopback(),
        max_image_bytes: Some(image::DEFAULT_MAX_IMAGE_BYTES),
    })
    .unwrap()
}

fn anon() -> Credentials {
    Credentials::default()
}

/// Two layers: busybox, then one removing /bin/vi (a whiteout) and
/// adding an app; a config with Entrypoint, User, ExposedPorts, Env.
fn app_image(layout: &OciLayout, tag: &str) {
    layout
        .busybox_image(tag)
        .add_layer(tag, |root| {
            std::fs::remove_file(root.join("bin/vi")).unwrap();
            std::fs::create_dir_all(root.join("app")).unwrap();
            std::fs::write(root.join("app/index.html"), "<h1>from an image</h1>\n").unwrap();
        })
        .config(
            tag,
            &[
                "--config.entrypoint=/bin/httpd",
                "--config.cmd=-f",
                "--config.user=vcap",
                "--config.workingdir=/app",
                "--config.exposedports=8080/tcp",
                "--config.env=GREETING=hello",
            ],
        );
}

fn tmp_entries(store: &Path) -> usize {
    std::fs::read_dir(store.join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_oci_and_docker_manifests_and_unpacks_each_layer_once() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    app_image(&layout, "app");
    layout.push("app", &reg, "apps/web:v1");
    layout.push_as("app", &reg, "apps/web-docker:v1", ManifestFormat::DockerV2);
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());

    let uri = format!("docker://{}/apps/web#v1", reg.host());
    let img = svc.pull(&uri, &anon(), &IdShift::none()).await.unwrap();
    assert_eq!(img.layers.len(), 2);
    assert!(img.env().contains(&"GREETING=hello".to_string()));
    let (bottom, top) = (img.layers[0].path(), img.layers[1].path());
    assert!(bottom.join("bin/busybox").is_file());
    assert!(bottom.join("bin/vi").symlink_metadata().is_ok());
    assert_eq!(
        std::fs::read_to_string(top.join("app/index.html")).unwrap(),
        "<h1>from an image</h1>\n"
    );
    if is_root() {
        let wh = std::fs::symlink_metadata(top.join("bin/vi")).unwrap();
        assert!(
            wh.file_type().is_char_device() && wh.rdev() == 0,
            "a whiteout"
        );
        assert_eq!(
            std::fs::metadata(bottom.join("home/vcap")).unwrap().uid(),
            2000
        );
    }
    assert_eq!(
        img.lower_dirs(),
        vec![top.to_path_buf(), bottom.to_path_buf()]
    );

    // The same content as Docker schema 2: the same layers, already there.
    let docker = svc
        .pull(
            &format!("{}/apps/web-docker:v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap();
    assert_eq!(docker.lower_dirs(), img.lower_dirs());
    for d in layout.layer_digests("app") {
        assert_eq!(reg.blob_downloads(&d), 1, "layer {d} downloaded once");
    }
    assert_eq!(svc.store().usage().layers, 2);
    assert_eq!(tmp_entries(store.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_of_one_image_fetch_each_layer_once() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    app_image(&layout, "app");
    layout.push("app", &reg, "apps/web:v1");
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());
    let uri = format!("docker://{}/apps/web#v1", reg.host());
    let pulls = (0..4).map(|_| {
        let svc = svc.clone();
        let uri = uri.clone();
        tokio::spawn(async move { svc.pull(&uri, &anon(), &IdShift::none()).await })
    });
    let images: Vec<_> = futures::future::join_all(pulls).await;
    for i in &images {
        let i = i.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(
            i.lower_dirs(),
            images[0].as_ref().unwrap().as_ref().unwrap().lower_dirs()
        );
    }
    for d in layout.layer_digests("app") {
        assert_eq!(reg.blob_downloads(&d), 1, "layer {d} downloaded once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_yields_its_linux_amd64_image_and_other_platforms_are_refused() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    for (tag, arch) in [("amd", "amd64"), ("arm", "arm64"), ("s390", "s390x")] {
        layout
            .new_image(tag)
            .add_layer(tag, |root| std::fs::write(root.join("arch"), arch).unwrap())
            .config(tag, &[&format!("--architecture={arch}")]);
    }
    layout.index(
        "multi",
        &[("arm", "linux", "arm64"), ("amd", "linux", "amd64")],
    );
    layout.index(
        "foreign",
        &[("arm", "linux", "arm64"), ("s390", "linux", "s390x")],
    );
    layout.push("multi", &reg, "multi:v1");
    layout.push("foreign", &reg, "foreign:v1");
    layout.push("arm", &reg, "armonly:v1");
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());

    let img = svc
        .pull(
            &format!("{}/multi:v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(img.layers[0].path().join("arch")).unwrap(),
        "amd64"
    );

    let e = svc
        .pull(
            &format!("{}/foreign:v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(matches!(e, ImageError::Platform { .. }), "{e}");
    assert!(
        e.to_string().contains("linux/arm64, linux/s390x") && e.to_string().contains("linux/amd64"),
        "{e}"
    );
    let e = svc
        .pull(
            &format!("{}/armonly:v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(e.to_string().contains("is for linux/arm64"), "{e}");
    assert_eq!(svc.store().usage().layers, 1, "only the amd64 layer came");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_repositories_and_tags_say_which() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout.busybox_image("b");
    layout.push("b", &reg, "base:v1");
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());
    let e = svc
        .pull(
            &format!("docker://{}/nope#v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(matches!(e, ImageError::UnknownRepository { .. }), "{e}");
    assert!(e.to_string().contains("no repository nope"), "{e}");
    let e = svc
        .pull(
            &format!("docker://{}/base#v2", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(matches!(e, ImageError::UnknownManifest { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("no manifest v2 in base (its tags: v1)"),
        "{e}"
    );
    assert!(svc.store().usage().layers == 0 && tmp_entries(store.path()) == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_registries_want_the_right_credentials() {
    let (Some(reg), Some(layout)) = (
        Registry::start_with_auth("diego", "s3cret"),
        OciLayout::new(),
    ) else {
        return;
    };
    layout.busybox_image("b");
    layout.push("b", &reg, "private:v1");
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());
    let uri = format!("docker://{}/private#v1", reg.host());
    for creds in [
        anon(),
        Credentials::new("diego", "wrong"),
        Credentials::new("eve", "s3cret"),
    ] {
        let e = svc.pull(&uri, &creds, &IdShift::none()).await.unwrap_err();
        eprintln!("error: {e}");
        assert!(
            matches!(e, ImageError::Unauthorized { .. }),
            "{creds:?}: {e}"
        );
        assert!(
            e.to_string()
                .contains("check the image username and password"),
            "{e}"
        );
    }
    let img = svc
        .pull(&uri, &Credentials::new("diego", "s3cret"), &IdShift::none())
        .await
        .unwrap();
    assert!(img.layers[0].path().join("bin/busybox").is_file());
    // Cached layers do not let the wrong credentials in.
    let e = svc.pull(&uri, &anon(), &IdShift::none()).await.unwrap_err();
    eprintln!("error: {e}");
    assert!(matches!(e, ImageError::Unauthorized { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_down_is_unreachable_unless_the_image_was_resolved_before() {
    let (Some(mut reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout.busybox_image("b");
    layout.push("b", &reg, "base:v1");
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());
    let known = format!("docker://{}/base#v1", reg.host());
    svc.pull(&known, &anon(), &IdShift::none()).await.unwrap();
    reg.stop();
    let e = svc
        .pull(
            &format!("docker://{}/other#v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(matches!(e, ImageError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("registry {} unreachable", reg.host())),
        "{e}"
    );
    // Its layers are here and it was resolved: a new container still starts.
    let again = svc.pull(&known, &anon(), &IdShift::none()).await.unwrap();
    assert_eq!(again.layers.len(), 1);
    // Without it listed as insecure, a loopback registry is spoken TLS to.
    let strict = ImageService::open(ImageServiceConfig {
        store_dir: store.path().join("strict"),
        ..Default::default()
    })
    .unwrap();
    let e = strict
        .pull(&known, &anon(), &IdShift::none())
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(matches!(e, ImageError::Unreachable { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_only_for_listed_registries() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout.busybox_image("b");
    layout.push("b", &reg, "base:v1");
    let store = tempfile::tempdir().unwrap();
    let strict = ImageService::open(ImageServiceConfig {
        store_dir: store.path().to_path_buf(),
        insecure: InsecureRegistries::new(&["registry.example.com:5000"]).unwrap(),
        ..Default::default()
    })
    .unwrap();
    let e = strict
        .pull(
            &format!("{}/base:v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    // An HTTP server answering a TLS handshake: no image, a clear error.
    assert!(
        !matches!(
            e,
            ImageError::UnknownManifest { .. } | ImageError::Unauthorized { .. }
        ),
        "{e}"
    );
    assert_eq!(strict.store().usage().layers, 0);
    let listed = ImageService::open(ImageServiceConfig {
        store_dir: store.path().join("listed"),
        insecure: InsecureRegistries::new(&[reg.host()]).unwrap(),
        ..Default::default()
    })
    .unwrap();
    listed
        .pull(
            &format!("{}/base:v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_blob_is_refused_and_nothing_of_it_stays() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    app_image(&layout, "app");
    layout.push("app", &reg, "apps/web:v1");
    let digests = layout.layer_digests("app");
    // Flip one byte of the top layer where the registry keeps it.
    let data = reg.blob_data(&digests[1]);
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());
    let e = svc
        .pull(
            &format!("docker://{}/apps/web#v1", reg.host()),
            &anon(),
            &IdShift::none(),
        )
        .await
        .unwrap_err();
    eprintln!("error: {e}");
    assert!(
        matches!(
            e,
            ImageError::DigestMismatch { .. } | ImageError::BadLayer { .. }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(&digests[1]), "{e}");
    let corrupt_key = image::LayerKey::new(&digests[1], &IdShift::none());
    assert!(!svc.store().contains(&corrupt_key));
    assert_eq!(tmp_entries(store.path()), 0, "nothing half-pulled");
    assert!(!store.path().join("layers").join(corrupt_key.id()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_inflating_past_the_image_bound_stops_and_nothing_of_it_stays() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    // 64 MB of zeros gzip to about 64 KB: a small decompression bomb.
    layout.busybox_image("bomb").add_layer("bomb", |root| {
        use std::io::Read;
        let f = std::fs::File::create(root.join("zeros")).unwrap();
        std::io::copy(&mut std::io::repeat(0).take(64 << 20), &mut &f).unwrap();
    });
    layout.push("bomb", &reg, "apps/bomb:v1");
    let digests = layout.layer_digests("bomb");
    let compressed = std::fs::metadata(reg.blob_data(&digests[1])).unwrap().len();
    assert!(compressed < 1 << 20, "the bomb layer is {compressed} bytes");

    let store = tempfile::tempdir().unwrap();
    let svc = ImageService::open(ImageServiceConfig {
        store_dir: store.path().to_path_buf(),
        insecure: InsecureRegistries::loopback(),
        max_image_bytes: Some(16 << 20),
        ..Default::default()
    })
    .unwrap();
    let uri = format!("docker://{}/apps/bomb#v1", reg.host());
    let e = svc.pull(&uri, &anon(), &IdShift::none()).await.unwrap_err();
    eprintln!("error: {e}");
    assert!(
        matches!(e, ImageError::TooLarge { limit_mb: 16, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("more than the 16 MB"), "{e}");
    let bomb_key = image::LayerKey::new(&digests[1], &IdShift::none());
    assert!(!svc.store().contains(&bomb_key));
    assert_eq!(tmp_entries(store.path()), 0, "nothing half-unpacked");
    assert!(!store.path().join("layers").join(bomb_key.id()).exists());
    assert!(
        svc.store().usage().bytes < 16 << 20,
        "{:?}",
        svc.store().usage()
    );

    // The same image where the bound allows it.
    let roomy = ImageService::open(ImageServiceConfig {
        store_dir: store.path().join("roomy"),
        insecure: InsecureRegistries::loopback(),
        max_image_bytes: Some(128 << 20),
        ..Default::default()
    })
    .unwrap();
    let pulled = roomy.pull(&uri, &anon(), &IdShift::none()).await.unwrap();
    let zeros = pulled.layers[1].path().join("zeros");
    assert_eq!(std::fs::metadata(zeros).unwrap().len(), 64 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_unpack_once_per_id_shift() {
    testkit::skip_if!(testkit::skip::not_root());
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    app_image(&layout, "app");
    layout.push("app", &reg, "apps/web:v1");
    let store = tempfile::tempdir().unwrap();
    let svc = service(store.path());
    let uri = format!("docker://{}/apps/web#v1", reg.host());
    let plain = svc.pull(&uri, &anon(), &IdShift::none()).await.unwrap();
    let shift = IdShift::offset(100_000, 65536);
    let shifted = svc.pull(&uri, &anon(), &shift).await.unwrap();
    let again = svc.pull(&uri, &anon(), &shift).await.unwrap();
    assert_eq!(shifted.lower_dirs(), again.lower_dirs());
    assert_ne!(plain.lower_dirs(), shifted.lower_dirs());
    let owner = |p: &Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    let (pb, sb) = (plain.layers[0].path(), shifted.layers[0].path());
    assert_eq!(owner(&pb.join("bin/busybox")), (0, 0));
    assert_eq!(owner(&sb.join("bin/busybox")), (100_000, 100_000));
    assert_eq!(owner(&sb.join("home/vcap")), (102_000, 102_000));
    assert_eq!(svc.store().usage().layers, 4, "two layers, two shifts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_layers_go_least_recently_used_first_when_over_the_cap() {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout.busybox_image("a");
    layout.new_image("b").add_layer("b", |root| {
        std::fs::write(root.join("b"), vec![7u8; 1 << 20]).unwrap();
    });
    layout.push("a", &reg, "a:v1").push("b", &reg, "b:v1");
    let store = tempfile::tempdir().unwrap();
    // Room for about one image.
    let svc = ImageService::open(ImageServiceConfig {
        store_dir: store.path().to_path_buf(),
        store_cap_bytes: Some(3 << 20),
        insecure: InsecureRegistries::loopback(),
        max_image_bytes: None,
    })
    .unwrap();
    let a = svc
        .pull(&format!("{}/a:v1", reg.host()), &anon(), &IdShift::none())
        .await
        .unwrap();
    svc.lease("container-a", &a).unwrap();
    drop(a);
    let b = svc
        .pull(&format!("{}/b:v1", reg.host()), &anon(), &IdShift::none())
        .await
        .unwrap();
    svc.lease("container-b", &b).unwrap();
    drop(b);
    // Both leased: over the cap, nothing may go.
    assert!(svc.store().gc().await.removed_layers.is_empty());
    let report = svc.release("container-a").await.unwrap();
    assert_eq!(report.removed_layers.len(), 1, "{report:?}");
    assert_eq!(svc.store().usage().layers, 1);
    assert_eq!(
        svc.store().leased_handles(),
        vec!["container-b".to_string()]
    );
}
