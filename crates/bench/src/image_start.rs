//! `bench image`: how long a container takes to start from a `docker://`
//! image on the runc backend, cold (layers pulled from a registry and
//! unpacked) and warm (layers in the store), beside bare `runc create` +
//! `runc start` of a bundle and a `preloaded:` container, in one run. The
//! backend's containers are isolated as by default (user namespace,
//! seccomp, pids limit, firewall chain); the bare bundle has none of it.
//!
//! The image has 3 layers (busybox; shared libraries; documentation and
//! locale files from the host, about `--mb` MB in all), built with umoci,
//! copied with skopeo into docker-registry on loopback. Also measured: the
//! registry transfer alone (blobs to nowhere) and unpacking alone (from
//! local blobs), to read the cold start against. Needs root, runc,
//! docker-registry, umoci and skopeo.

use crate::report::{fmt_duration, table, Measure};
use anyhow::Context as _;
use garden::{Backend, ContainerSpec, RuncBackend, RuncConfig};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::oci_image::{busybox_rootfs, OciLayout};
use testkit::registry::Registry;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Cold and warm starts (and bare runc starts) to time.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// About how many MB of files the image's layers hold.
    #[arg(long, default_value_t = 50)]
    pub mb: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(why) = garden::runc_unavailable() {
        anyhow::bail!("bench image needs runc containers: {why}");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

/// Copies regular files from `from` (recursively) into `to` until `budget`
/// bytes are copied.
fn copy_files(from: &Path, to: &Path, budget: u64) -> u64 {
    let mut copied = 0;
    let mut stack = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if copied >= budget {
                return copied;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                // Whole files only, none past the budget (some libraries
                // are over 100 MB).
                let len = e.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
                if copied + len > budget {
                    continue;
                }
                let rel = e.path().strip_prefix("/").unwrap().to_path_buf();
                let dest = to.join(rel);
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                if let Ok(n) = std::fs::copy(e.path(), &dest) {
                    copied += n;
                }
            }
        }
    }
    copied
}

struct BareRunc {
    bundle: PathBuf,
    root: PathBuf,
}

impl BareRunc {
    /// `runc spec`'s bundle, running `sleep` in a busybox rootfs.
    fn new(dir: &Path) -> anyhow::Result<Self> {
        let bundle = dir.join("bare-bundle");
        busybox_rootfs(&bundle.join("rootfs"));
        let out = Command::new("runc")
            .arg("spec")
            .current_dir(&bundle)
            .output()?;
        anyhow::ensure!(out.status.success(), "runc spec failed");
        let path = bundle.join("config.json");
        let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(["/bin/sleep", "600"]);
        std::fs::write(&path, serde_json::to_vec(&spec)?)?;
        Ok(BareRunc {
            bundle,
            root: dir.join("bare-runc-state"),
        })
    }

    fn runc(&self, args: &[&str]) -> anyhow::Result<()> {
        let st = Command::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(st.success(), "runc {args:?} failed");
        Ok(())
    }

    /// create + start (timed), then delete.
    fn start(&self, id: &str) -> anyhow::Result<Duration> {
        let bundle = self.bundle.display().to_string();
        let t = Instant::now();
        self.runc(&["create", "--bundle", &bundle, id])?;
        self.runc(&["start", id])?;
        let took = t.elapsed();
        self.runc(&["delete", "--force", id])?;
        Ok(took)
    }
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    let (Some(reg), Some(layout)) = (Registry::start(), OciLayout::new()) else {
        anyhow::bail!("bench image needs docker-registry, htpasswd, umoci and skopeo");
    };
    let work = tempfile::tempdir()?;
    let half = (args.mb.saturating_sub(2) / 2) << 20;
    let mut content = 0;
    layout
        .busybox_image("big")
        .add_layer("big", |root| {
            content += copy_files(Path::new("/usr/lib/x86_64-linux-gnu"), root, half);
        })
        .add_layer("big", |root| {
            content += copy_files(Path::new("/usr/share/doc"), root, half / 2);
            content += copy_files(Path::new("/usr/share/locale"), root, half / 2);
        })
        .push("big", &reg, "bench/big:v1");
    let digests = layout.layer_digests("big");
    let blobs: Vec<PathBuf> = digests
        .iter()
        .map(|d| {
            layout
                .path()
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:"))
        })
        .collect();
    let compressed: u64 = blobs
        .iter()
        .map(|b| std::fs::metadata(b).map(|m| m.len()).unwrap_or(0))
        .sum();

    let busybox = work.path().join("busybox");
    garden::rootfs::build_busybox_rootfs(&busybox)?;
    let mut cfg = RuncConfig::new(work.path().join("depot"));
    cfg.rootfs.insert("busybox".into(), busybox);
    cfg.tag = "bim".into();
    cfg.subnet = Ipv4Addr::new(10, 249, 0, 0);
    cfg.subnet_prefix = 24;
    cfg.port_range = (44000, 44099);
    cfg.insecure_registries = vec![reg.host()];
    let backend = RuncBackend::new(cfg).await?;
    let _teardown = garden::DestroyOnDrop(backend.clone());
    let uri = format!("docker://{}/bench/big#v1", reg.host());
    let spec = |handle: String, image: &str| ContainerSpec {
        handle,
        image: image.into(),
        ..Default::default()
    };
    let bare = BareRunc::new(work.path())?;
    let images = backend.images().clone();
    // The containers are unprivileged: their layers are unpacked shifted
    // into the backend's user namespace map, and so are those timed alone.
    let map = backend.id_map();
    let shift = image::IdShift::offset(map.host_base, map.size);

    let mut m_bare = Measure::new("bare runc create+start");
    let mut m_pre = Measure::new("garden create, preloaded:busybox");
    let mut m_cold = Measure::new("garden create, image cold (pull+unpack)");
    let mut m_warm = Measure::new("garden create, image warm (layers cached)");
    let mut m_pull_cold = Measure::new("image pull alone, cold");
    let mut m_pull_warm = Measure::new("image pull alone, warm (manifest check)");
    let mut m_transfer = Measure::new("registry transfer alone (3 blobs)");
    let mut m_unpack = Measure::new("unpack alone (3 local blobs)");
    let mut unpacked_bytes = 0u64;

    for i in 0..args.runs {
        m_bare.samples.push(bare.start(&format!("bare-{i}"))?);

        let t = Instant::now();
        backend
            .create(spec(format!("pre-{i}"), "preloaded:busybox"))
            .await?;
        m_pre.samples.push(t.elapsed());
        backend.destroy(&format!("pre-{i}")).await?;

        // Cold: nothing in the store.
        images.store().gc_to(0).await;
        let t = Instant::now();
        backend.create(spec(format!("cold-{i}"), &uri)).await?;
        m_cold.samples.push(t.elapsed());
        let t = Instant::now();
        backend.create(spec(format!("warm-{i}"), &uri)).await?;
        m_warm.samples.push(t.elapsed());
        for h in [format!("cold-{i}"), format!("warm-{i}")] {
            backend.destroy(&h).await?;
        }

        images.store().gc_to(0).await;
        let t = Instant::now();
        let pulled = images.pull(&uri, &Default::default(), &shift).await?;
        m_pull_cold.samples.push(t.elapsed());
        drop(pulled);
        let t = Instant::now();
        drop(images.pull(&uri, &Default::default(), &shift).await?);
        m_pull_warm.samples.push(t.elapsed());
        unpacked_bytes = images.store().usage().bytes;

        let resolved = images.resolve(&uri, &Default::default()).await?;
        let t = Instant::now();
        for layer in &resolved.layers {
            images
                .registry()
                .pull_blob(
                    &resolved.reference,
                    &Default::default(),
                    layer,
                    tokio::io::sink(),
                )
                .await?;
        }
        m_transfer.samples.push(t.elapsed());

        let dest = work.path().join(format!("unpack-{i}"));
        let (blobs, shift) = (blobs.clone(), shift.clone());
        let took = tokio::task::spawn_blocking(move || -> anyhow::Result<Duration> {
            let t = Instant::now();
            for (n, b) in blobs.iter().enumerate() {
                let d = dest.join(n.to_string());
                std::fs::create_dir_all(&d)?;
                let mut r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(b)?);
                image::unpack::unpack(&mut r, &d, &shift, None)
                    .with_context(|| format!("unpacking {}", b.display()))?;
            }
            let took = t.elapsed();
            std::fs::remove_dir_all(&dest)?;
            Ok(took)
        })
        .await??;
        m_unpack.samples.push(took);
    }
    backend.teardown_host().await;

    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    let rate = |m: &Measure| mb(unpacked_bytes) / m.median().as_secs_f64();
    m_unpack.rows = format!("{:.0} MB/s", rate(&m_unpack));
    m_pull_cold.rows = format!("{:.0} MB/s", rate(&m_pull_cold));
    m_transfer.rows = format!(
        "{:.0} MB/s compressed",
        mb(compressed) / m_transfer.median().as_secs_f64()
    );
    println!(
        "image: 3 layers, {:.1} MB of files ({:.1} MB on disk unpacked, {:.1} MB compressed); \
         runc backend, cgroup {:?}; {} runs",
        mb(content),
        mb(unpacked_bytes),
        mb(compressed),
        backend.cgroup_version(),
        args.runs
    );
    print!(
        "{}",
        table(&[
            m_bare.clone(),
            m_pre.clone(),
            m_warm.clone(),
            m_cold.clone(),
            m_pull_warm.clone(),
            m_pull_cold.clone(),
            m_transfer.clone(),
            m_unpack.clone(),
        ])
    );
    let ratio = |a: &Measure, b: &Measure| a.median().as_secs_f64() / b.median().as_secs_f64();
    println!(
        "warm image start / bare runc: {:.2}x (image-specific part, warm pull: {}); \
         warm image start / preloaded start: {:.2}x",
        ratio(&m_warm, &m_bare),
        fmt_duration(m_pull_warm.median()),
        ratio(&m_warm, &m_pre),
    );
    println!(
        "cold pull {} vs transfer {} + unpack {} (pipelined: bounded by their sum)",
        fmt_duration(m_pull_cold.median()),
        fmt_duration(m_transfer.median()),
        fmt_duration(m_unpack.median()),
    );
    Ok(())
}
