//! Images built the way image authors do, with real tools: an OCI layout
//! where `umoci` makes images layer by layer (unpack, change the rootfs,
//! repack: deletions become whiteouts) and sets their config, and
//! `skopeo` copies them to a registry (as OCI or Docker schema 2). Root
//! filesystems come from the host's static busybox.
//! None (the test recorded as skipped, see [`crate::skip`]) when umoci or
//! skopeo is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::registry::Registry;

pub struct OciLayout {
    dir: tempfile::TempDir,
}

/// How skopeo writes the manifest to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Oci,
    DockerV2,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl OciLayout {
    pub fn new() -> Option<OciLayout> {
        if let Some(why) = crate::skip::missing_programs(&["umoci", "skopeo"]) {
            crate::skip::skip(&why);
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        run(Command::new("umoci")
            .args(["init", "--layout"])
            .arg(dir.path().join("oci")));
        Some(OciLayout { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("oci")
    }

    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.path().display())
    }

    /// A new image `tag` without layers (linux/amd64).
    pub fn new_image(&self, tag: &str) -> &Self {
        run(Command::new("umoci").args(["new", "--image", &self.image(tag)]));
        self
    }

    /// A new image `tag` with one layer: a busybox rootfs.
    pub fn busybox_image(&self, tag: &str) -> &Self {
        self.new_image(tag).add_layer(tag, busybox_rootfs)
    }

    /// Adds a layer to `tag`: its rootfs so far is unpacked, `change`
    /// edits it, and umoci packs the difference (removed files become
    /// whiteouts).
    pub fn add_layer(&self, tag: &str, change: impl FnOnce(&Path)) -> &Self {
        let bundle = self.dir.path().join(format!("bundle-{tag}"));
        let _ = std::fs::remove_dir_all(&bundle);
        run(Command::new("umoci")
            .args(["unpack", "--image", &self.image(tag)])
            .arg(&bundle));
        change(&bundle.join("rootfs"));
        run(Command::new("umoci")
            .args(["repack", "--image", &self.image(tag)])
            .arg(&bundle));
        std::fs::remove_dir_all(&bundle).unwrap();
        self
    }

    /// `umoci config` options, e.g. `["--config.entrypoint", "/bin/app"]`.
    pub fn config(&self, tag: &str, args: &[&str]) -> &Self {
        run(Command::new("umoci")
            .args(["config", "--image", &self.image(tag)])
            .args(args));
        self
    }

    /// Copies `tag` to `registry` as `name` (`repo:tag`).
    pub fn push(&self, tag: &str, registry: &Registry, name: &str) -> &Self {
        self.push_as(tag, registry, name, ManifestFormat::Oci)
    }

    pub fn push_as(
        &self,
        tag: &str,
        registry: &Registry,
        name: &str,
        format: ManifestFormat,
    ) -> &Self {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--quiet", "--all", "--dest-tls-verify=false"]);
        if let Some((u, p)) = registry.credentials() {
            cmd.arg(format!("--dest-creds={u}:{p}"));
        }
        if format == ManifestFormat::DockerV2 {
            cmd.args(["--format", "v2s2"]);
        }
        cmd.arg(format!("oci:{}", self.image(tag)))
            .arg(format!("docker://{}/{name}", registry.host()));
        run(&mut cmd);
        self
    }

    /// Adds an image index `tag` listing the images `members` as
    /// (tag, os, architecture): a multi-platform image.
    pub fn index(&self, tag: &str, members: &[(&str, &str, &str)]) -> &Self {
        let index_path = self.path().join("index.json");
        let mut layout: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
        let descriptor = |t: &str| {
            layout["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == t)
                .unwrap_or_else(|| panic!("no image {t} in the layout"))
                .clone()
        };
        let manifests: Vec<serde_json::Value> = members
            .iter()
            .map(|(t, os, arch)| {
                let d = descriptor(t);
                serde_json::json!({
                    "mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"],
                    "platform": {"os": os, "architecture": arch}
                })
            })
            .collect();
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests
        }))
        .unwrap();
        let hex: String = Sha256::digest(&index)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(self.path().join("blobs/sha256").join(&hex), &index).unwrap();
        layout["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": format!("sha256:{hex}"),
                "size": index.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag}
            }));
        std::fs::write(&index_path, serde_json::to_vec(&layout).unwrap()).unwrap();
        self
    }

    /// The digests of `tag`'s layers, bottom first.
    pub fn layer_digests(&self, tag: &str) -> Vec<String> {
        let layout: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.path().join("index.json")).unwrap())
                .unwrap();
        let desc = layout["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no image {tag}"))
            .clone();
        let manifest = self.blob(desc["digest"].as_str().unwrap());
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    }

    fn blob(&self, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").unwrap();
        std::fs::read(self.path().join("blobs/sha256").join(hex)).unwrap()
    }
}

/// A minimal rootfs in `dir` from the host's static busybox: the applets
/// as symlinks in /bin, /etc/passwd and /etc/group with root and vcap
/// (uid 2000, Diego's app user), /tmp.
pub fn busybox_rootfs(dir: &Path) {
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("a static busybox (busybox-static)");
    for d in [
        "bin",
        "etc",
        "tmp",
        "root",
        "home/vcap",
        "proc",
        "sys",
        "dev",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    let out = run(Command::new(busybox).arg("--list"));
    for applet in out.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let _ = std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet));
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2000:vcap:/home/vcap:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nvcap:x:2000:\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    // Root only (tests run as root); vcap's home is then vcap's.
    let _ = std::os::unix::fs::chown(dir.join("home/vcap"), Some(2000), Some(2000));
}
