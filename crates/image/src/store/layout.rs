//! The store's directories and files, each written atomically (a file or
//! directory renamed into place).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::{LayerMeta, Lease};
use crate::error::ImageError;

pub struct Layout {
    root: PathBuf,
    nonce: AtomicU64,
}

const META: &str = "meta.json";

impl Layout {
    pub fn new(root: PathBuf) -> Self {
        Layout {
            root,
            nonce: AtomicU64::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }
    fn leases_dir(&self) -> PathBuf {
        self.root.join("leases")
    }
    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    fn trash(&self) -> PathBuf {
        self.root.join("trash")
    }

    pub fn layer_dir(&self, id: &str) -> PathBuf {
        self.layers().join(id)
    }

    pub fn layer_rootfs(&self, id: &str) -> PathBuf {
        self.layer_dir(id).join("rootfs")
    }

    /// Makes the directories; empties tmp/ and trash/ (what a crash left).
    pub fn prepare(&self) -> Result<(), ImageError> {
        for d in [self.layers(), self.leases_dir(), self.tmp(), self.trash()] {
            std::fs::create_dir_all(&d)
                .map_err(|e| ImageError::store(&format!("making {}", d.display()), e))?;
        }
        for d in [self.tmp(), self.trash()] {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                tracing::info!(path = %e.path().display(), "removing an interrupted layer");
                remove_tree(&e.path());
            }
        }
        // A layer directory without its meta file was never committed.
        for e in std::fs::read_dir(self.layers())
            .into_iter()
            .flatten()
            .flatten()
        {
            if !e.path().join(META).is_file() {
                remove_tree(&e.path());
            }
        }
        Ok(())
    }

    pub fn complete_layers(&self) -> Vec<(String, LayerMeta, SystemTime)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.layers())
            .into_iter()
            .flatten()
            .flatten()
        {
            let meta_path = e.path().join(META);
            let parsed = std::fs::read(&meta_path)
                .ok()
                .and_then(|b| serde_json::from_slice::<LayerMeta>(&b).ok());
            let Some(meta) = parsed else {
                tracing::warn!(path = %e.path().display(), "unreadable layer meta; removing the layer");
                remove_tree(&e.path());
                continue;
            };
            let id = e.file_name().to_string_lossy().into_owned();
            if meta.key.id() != id {
                tracing::warn!(%id, "layer directory does not match its key; removing it");
                remove_tree(&e.path());
                continue;
            }
            let last_used = std::fs::metadata(&meta_path)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((id, meta, last_used));
        }
        out
    }

    pub fn leases(&self) -> Vec<(String, Lease)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.leases_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(handle) = name.strip_suffix(".json") else {
                let _ = std::fs::remove_file(e.path());
                continue;
            };
            match std::fs::read(e.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Lease>(&b).ok())
            {
                Some(l) => out.push((handle.to_string(), l)),
                None => {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        out
    }

    /// A fresh directory in tmp/ for unpacking the layer `id`.
    pub fn new_tmp(&self, id: &str) -> Result<PathBuf, ImageError> {
        let n = self.nonce.fetch_add(1, Ordering::Relaxed);
        let dir = self.tmp().join(format!("{id}.{}.{n}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|e| ImageError::store("making a temporary layer directory", e))?;
        Ok(dir)
    }

    pub fn write_meta(&self, dir: &Path, bytes: &[u8]) -> Result<(), ImageError> {
        write_atomic(&dir.join(META), bytes)
    }

    /// Moves a complete layer into place (atomically: it appears whole).
    pub fn commit(&self, tmp: &Path, id: &str) -> Result<(), ImageError> {
        std::fs::rename(tmp, self.layer_dir(id))
            .map_err(|e| ImageError::store(&format!("moving layer {id} into place"), e))
    }

    /// Removes a failed unpack's directory (off the async threads).
    pub async fn discard(&self, dir: PathBuf) {
        let _ = tokio::task::spawn_blocking(move || remove_tree(&dir)).await;
    }

    /// Moves a layer to trash/ (fast, atomic); the caller deletes it.
    pub fn trash_layer(&self, id: &str) -> Option<PathBuf> {
        let n = self.nonce.fetch_add(1, Ordering::Relaxed);
        let to = self
            .trash()
            .join(format!("{id}.{}.{n}", std::process::id()));
        match std::fs::rename(self.layer_dir(id), &to) {
            Ok(()) => Some(to),
            Err(e) => {
                tracing::warn!(%id, error = %e, "could not move a layer to the trash");
                None
            }
        }
    }

    /// Marks the layer used now (its meta file's time survives restarts).
    pub fn touch(&self, id: &str) {
        if let Ok(f) = std::fs::File::options()
            .write(true)
            .open(self.layer_dir(id).join(META))
        {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    fn lease_path(&self, handle: &str) -> Result<PathBuf, ImageError> {
        let ok = !handle.is_empty()
            && !handle.starts_with('.')
            && handle
                .chars()
                // '+': a pea's lease (garden names peas HANDLE+peaN).
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
        if !ok {
            return Err(ImageError::Store(format!(
                "invalid container handle {handle:?}"
            )));
        }
        Ok(self.leases_dir().join(format!("{handle}.json")))
    }

    pub fn write_lease(&self, handle: &str, bytes: &[u8]) -> Result<(), ImageError> {
        write_atomic(&self.lease_path(handle)?, bytes)
    }

    pub fn remove_lease(&self, handle: &str) -> Result<(), ImageError> {
        match std::fs::remove_file(self.lease_path(handle)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::store("removing a lease", e)),
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| ImageError::store(&format!("writing {}", path.display()), e))
}

/// Removes a tree the store made (layers hold no mounts; a removal that
/// fails is retried at the next open, from tmp/ or trash/).
pub fn remove_tree(p: &Path) {
    if let Err(e) = std::fs::remove_dir_all(p) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %p.display(), error = %e, "could not remove");
        }
    }
}
