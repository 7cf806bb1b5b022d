//! Peas on the runc backend (a host test: root, runc, netns; run under
//! `flock -o /tmp/diego-host-tests.lock`): a process with an image and
//! bind mounts of its own, as Diego's executor runs its health checks,
//! shares its container's network but not its filesystem, reports its
//! exit status, and leaves nothing behind when it exits or its container
//! is destroyed.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{leftovers, sh, skip_unless_able, Buf};
use garden::{Backend, BindMount, Limits, ProcessIo, ProcessSpec};

fn pea(script: &str, assets: &Path, override_limits: Option<Limits>) -> ProcessSpec {
    ProcessSpec {
        path: "sh".into(),
        args: vec!["-c".into(), script.into()],
        image: "preloaded:busybox".into(),
        bind_mounts: vec![BindMount {
            src_path: assets.display().to_string(),
            dst_path: "/etc/cf-assets".into(),
            read_only: true,
        }],
        override_limits,
        ..Default::default()
    }
}

/// Mount points whose path mentions `what`.
fn mounts_of(what: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(what))
        .map(String::from)
        .collect()
}

/// Cgroup directories named `name` under any hierarchy's `garden-TAG`.
fn cgroup_dirs(tag: &str, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path().join(format!("garden-{tag}")))
        .chain([PathBuf::from(format!("/sys/fs/cgroup/garden-{tag}"))])
        .filter(|p| p.is_dir())
        .collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if e.file_name().to_string_lossy() == name {
                    found.push(e.path());
                }
                stack.push(e.path());
            }
        }
    }
    found
}

/// The pea's runtime container, mounts, cgroup and directory: what must
/// be gone once it is.
fn pea_leftovers(t: &common::TestBackend, handle: &str, id: &str) -> Vec<String> {
    let mut left: Vec<String> = mounts_of(id)
        .into_iter()
        .map(|m| format!("mount {m}"))
        .collect();
    let state = t.cfg.depot.join("runtime").join(id);
    if state.exists() {
        left.push(format!("runtime state {}", state.display()));
    }
    let dir = t.backend.container_dir(handle).join("peas").join(id);
    if dir.exists() {
        left.push(format!("directory {}", dir.display()));
    }
    for d in cgroup_dirs(&t.cfg.tag, id) {
        left.push(format!("cgroup {}", d.display()));
    }
    left
}

async fn run_pea(
    t: &common::TestBackend,
    handle: &str,
    spec: ProcessSpec,
) -> (Box<dyn garden::Process>, Buf, Buf) {
    common::spawn(&t.backend, handle, spec).await
}

#[tokio::test]
async fn a_pea_shares_the_network_not_the_filesystem_and_goes_when_done() {
    skip_unless_able!();
    let t = common::backend(81).await;
    let h = "pea-1";
    t.backend.create(common::spec(h)).await.unwrap();
    // The parent serves on its loopback only and has a file of its own.
    let (code, _, err) = sh(
        &t.backend,
        h,
        "echo parent-only > /tmp/parent-file; mkdir -p /www; echo hello-from-parent > /www/index.html; \
         httpd -p 127.0.0.1:8080 -h /www",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("healthcheck"), "asset\n").unwrap();

    let script = "cat /etc/cf-assets/healthcheck; \
        touch /etc/cf-assets/x 2>/dev/null && echo writable || echo read-only; \
        wget -q -O - http://127.0.0.1:8080/; \
        test -e /tmp/parent-file && echo sees-parent-file || echo own-rootfs; \
        grep -qsx httpd /proc/[0-9]*/comm && echo sees-parent-processes || echo own-pids; awk '{print $2, $3}' /proc/self/uid_map; exit 7";
    let (p, out, err) = run_pea(&t, h, pea(script, assets.path(), None)).await;
    let id = p.id();
    let status = tokio::time::timeout(Duration::from_secs(30), p.wait())
        .await
        .expect("pea exits")
        .unwrap();
    // The parent's user namespace: its ids map as the parent's.
    let map = t.backend.id_map();
    assert_eq!(
        (status, out.text()),
        (
            7,
            format!(
                "asset\nread-only\nhello-from-parent\nown-rootfs\nsees-parent-processes\n{} {}\n",
                map.host_base, map.size
            )
        ),
        "stderr: {}",
        err.text()
    );
    // Gone by the time its exit status is known.
    assert_eq!(pea_leftovers(&t, h, &id), Vec::<String>::new());
    assert!(!assets.path().join("x").exists());

    // The parent's processes still run (the pea took none of them along).
    let (code, out, _) = sh(&t.backend, h, "wget -q -O - http://127.0.0.1:8080/").await;
    assert_eq!((code, out.as_str()), (0, "hello-from-parent\n"));

    // TERM ends a pea's process that has no handler for it (in the
    // parent's pid namespace it is not an init that ignores it).
    let (p, _, _) = run_pea(&t, h, pea("sleep 60", assets.path(), None)).await;
    p.signal(garden::Signal::Terminate).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("a TERMed pea exits")
        .unwrap();
    assert_eq!(status, 143);

    // Bind mounts without an image, and an image no one has, are refused.
    let mut bad = pea("true", assets.path(), None);
    bad.image.clear();
    let e = t.backend.run(h, bad, ProcessIo::default()).await.err();
    assert!(
        matches!(e, Some(garden::GardenError::InvalidSpec(_))),
        "{e:?}"
    );
    let mut bad = pea("true", assets.path(), None);
    bad.image = "preloaded:nope".into();
    let e = t.backend.run(h, bad, ProcessIo::default()).await.err();
    assert!(
        matches!(e, Some(garden::GardenError::InvalidSpec(_))),
        "{e:?}"
    );

    t.backend.destroy(h).await.unwrap();
    assert_eq!(leftovers(&t, h).await, Vec::<String>::new());
}

#[tokio::test]
async fn destroying_the_parent_removes_its_running_peas() {
    skip_unless_able!();
    let t = common::backend(82).await;
    let h = "pea-2";
    t.backend.create(common::spec(h)).await.unwrap();
    let assets = tempfile::tempdir().unwrap();
    // One pea under the parent's limits, one with limits of its own.
    let mut peas = Vec::new();
    for limits in [
        None,
        Some(Limits {
            memory_bytes: 64 << 20,
            ..Default::default()
        }),
    ] {
        let (p, out, _) = run_pea(
            &t,
            h,
            pea("echo up; exec sleep 1000", assets.path(), limits.clone()),
        )
        .await;
        let id = p.id();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while out.text() != "up\n" {
            assert!(tokio::time::Instant::now() < deadline, "pea {id} started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pid_file = t
            .backend
            .container_dir(h)
            .join("peas")
            .join(&id)
            .join("init.pid");
        let pid: u32 = std::fs::read_to_string(pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let cgroups = cgroup_dirs(&t.cfg.tag, &id);
        assert!(!cgroups.is_empty(), "pea {id} has a cgroup");
        let under_parent = cgroups
            .iter()
            .all(|d| d.parent().and_then(Path::file_name).is_some_and(|n| n == h));
        assert_eq!(under_parent, limits.is_none(), "{cgroups:?}");
        if limits.is_some() {
            let limit = cgroups
                .iter()
                .find_map(|d| std::fs::read_to_string(d.join("memory.limit_in_bytes")).ok())
                .or_else(|| {
                    cgroups
                        .iter()
                        .find_map(|d| std::fs::read_to_string(d.join("memory.max")).ok())
                })
                .unwrap();
            assert_eq!(limit.trim(), (64u64 << 20).to_string());
        }
        peas.push((p, id, pid));
    }

    t.backend.destroy(h).await.unwrap();
    for (p, id, pid) in peas {
        let status = tokio::time::timeout(Duration::from_secs(10), p.wait())
            .await
            .expect("a destroyed pea's status")
            .unwrap();
        assert_eq!(status, 128 + 9, "{id} killed");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pea {id}'s process {pid} is gone"
        );
        assert_eq!(pea_leftovers(&t, h, &id), Vec::<String>::new());
    }
    assert_eq!(leftovers(&t, h).await, Vec::<String>::new());
}

/// A backend restarted on the same depot no longer waits for the peas
/// the last one started: it removes them (their process, runtime
/// container, mounts and cgroup), and keeps their parent.
#[tokio::test]
async fn a_restarted_backend_removes_the_peas_it_was_left() {
    skip_unless_able!();
    let t = common::backend(83).await;
    let h = "pea-3";
    t.backend.create(common::spec(h)).await.unwrap();
    let assets = tempfile::tempdir().unwrap();
    let (p, out, _) = run_pea(&t, h, pea("echo up; exec sleep 1000", assets.path(), None)).await;
    let id = p.id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.text() != "up\n" {
        assert!(tokio::time::Instant::now() < deadline, "pea started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!mounts_of(&id).is_empty());

    let restarted = garden::RuncBackend::new(t.cfg.clone()).await.unwrap();
    assert_eq!(pea_leftovers(&t, h, &id), Vec::<String>::new());
    let status = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("the old backend's waiter sees the pea go")
        .unwrap();
    assert_eq!(status, 128 + 9);
    let (code, out, _) = sh(&restarted, h, "echo still-here").await;
    assert_eq!((code, out.as_str()), (0, "still-here\n"));
    restarted.destroy(h).await.unwrap();
    assert_eq!(leftovers(&t, h).await, Vec::<String>::new());
}

/// A pea's image may be a `docker://` one, pulled into the layer store:
/// its layers and env are the pea's, leased while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pea_runs_on_a_pulled_image() {
    use testkit::oci_image::OciLayout;
    use testkit::registry::Registry;
    skip_unless_able!();
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        return;
    };
    layout
        .busybox_image("side")
        .add_layer("side", |root| {
            std::fs::create_dir_all(root.join("sidecar")).unwrap();
            std::fs::write(root.join("sidecar/file"), "from the image\n").unwrap();
        })
        .config("side", &["--config.env=GREETING=from-image"]);
    layout.push("side", &reg, "sidecars/check:v1");
    let t = common::backend_custom(84, |cfg| {
        cfg.insecure_registries = image::LOOPBACK.iter().map(|s| s.to_string()).collect();
    })
    .await;
    let h = "pea-4";
    t.backend.create(common::spec(h)).await.unwrap();
    let assets = tempfile::tempdir().unwrap();
    let mut spec = pea(
        "cat /sidecar/file; echo $GREETING; cat /etc/cf-assets/* 2>/dev/null; exit 3",
        assets.path(),
        Some(Limits::default()),
    );
    spec.image = format!("docker://{}/sidecars/check#v1", reg.host());
    let (p, out, err) = run_pea(&t, h, spec).await;
    let id = p.id();
    let status = tokio::time::timeout(Duration::from_secs(30), p.wait())
        .await
        .expect("pea exits")
        .unwrap();
    assert_eq!(
        (status, out.text().as_str()),
        (3, "from the image\nfrom-image\n"),
        "stderr: {}",
        err.text()
    );
    assert_eq!(pea_leftovers(&t, h, &id), Vec::<String>::new());
    assert!(
        t.backend.images().store().leased_handles().is_empty(),
        "the pea's lease went with it"
    );
    t.backend.destroy(h).await.unwrap();
    assert_eq!(leftovers(&t, h).await, Vec::<String>::new());
}

/// A privileged container's peas (no user namespace to join) share its
/// network too, as its user ids: the host's. The image may be named by
/// the preloaded rootfs's path.
#[tokio::test]
async fn a_privileged_containers_pea_shares_its_network() {
    skip_unless_able!();
    let t = common::backend_custom(85, |cfg| cfg.allow_privileged = true).await;
    let h = "pea-5";
    let mut spec = common::spec(h);
    spec.privileged = true;
    t.backend.create(spec).await.unwrap();
    let (code, _, err) = sh(
        &t.backend,
        h,
        "mkdir -p /www; echo privileged-parent > /www/index.html; httpd -p 127.0.0.1:8080 -h /www",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let assets = tempfile::tempdir().unwrap();
    let mut spec = pea(
        "wget -q -O - http://127.0.0.1:8080/; awk '{print $3}' /proc/self/uid_map",
        assets.path(),
        None,
    );
    // Named by its directory, as Diego's rep names a preloaded rootfs.
    spec.image = t.cfg.rootfs["busybox"].display().to_string();
    let (p, out, err) = run_pea(&t, h, spec).await;
    let status = tokio::time::timeout(Duration::from_secs(30), p.wait())
        .await
        .expect("pea exits")
        .unwrap();
    assert_eq!(
        (status, out.text().as_str()),
        (0, "privileged-parent\n4294967295\n"),
        "stderr: {}",
        err.text()
    );
    t.backend.destroy(h).await.unwrap();
    assert_eq!(leftovers(&t, h).await, Vec::<String>::new());
}
