//! Cached dependencies (Diego's `DependencyManager` over cacheddownloader's
//! `FetchAsDirectory`): archives a container needs before it starts (the
//! lifecycle bundle, buildpacks), downloaded once per cache key, checked
//! against their checksum, extracted into a directory of the cell, and
//! bind-mounted read-only into each container that names them. A key is
//! revalidated with the server (ETag / Last-Modified) each time a container
//! asks for it; a changed archive gets a new directory, and the old one goes
//! when the last container using it is gone.

use super::checksum::Hasher;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

pub struct DependencyCache {
    dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The current directory of each cache key.
    current: HashMap<String, Entry>,
    /// Every directory handed out, and how many containers use it.
    users: HashMap<PathBuf, usize>,
    /// One download at a time per cache key.
    fetching: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    next: u64,
}

#[derive(Clone)]
struct Entry {
    url: String,
    checksum: (String, String),
    dir: PathBuf,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// A fetched dependency: its directory on the cell and how many bytes came
/// over the network (0 when the cached copy was still current).
pub struct Fetched {
    pub dir: PathBuf,
    pub downloaded: u64,
}

impl DependencyCache {
    /// A cache in `dir`; what an earlier run left there is removed (no
    /// container of ours uses it any more).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let _ = std::fs::remove_dir_all(&dir);
        Self {
            dir,
            state: Mutex::new(State::default()),
        }
    }

    /// The directory holding the archive at `url`, extracted; the caller
    /// must [`release`](Self::release) it when its container is gone.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        url: &str,
        cache_key: &str,
        checksum_algorithm: &str,
        checksum_value: &str,
    ) -> Result<Fetched, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        // Without a key nothing is shared: the download is the container's own.
        let key = if cache_key.is_empty() {
            let mut st = self.state.lock().unwrap();
            st.next += 1;
            format!("\0uncached-{}", st.next)
        } else {
            cache_key.to_string()
        };
        let lock = (!cache_key.is_empty()).then(|| {
            let mut st = self.state.lock().unwrap();
            st.fetching.entry(key.clone()).or_default().clone()
        });
        let _one_at_a_time = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };

        let checksum = (checksum_algorithm.to_string(), checksum_value.to_string());
        let cached = {
            let st = self.state.lock().unwrap();
            st.current
                .get(&key)
                .filter(|e| e.url == url && e.checksum == checksum)
                .cloned()
        };
        let mut req = http.get(parsed);
        if let Some(c) = &cached {
            if let Some(etag) = &c.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &c.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            if let Some(c) = cached {
                self.use_dir(&c.dir);
                return Ok(Fetched {
                    dir: c.dir,
                    downloaded: 0,
                });
            }
        }
        if !resp.status().is_success() {
            return Err(format!(
                "Download failed: Status code {}",
                resp.status().as_u16()
            ));
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);

        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| e.to_string())?;
        let raw = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| e.to_string())?;
        let mut file = tokio::fs::File::create(raw.path())
            .await
            .map_err(|e| e.to_string())?;
        let mut hasher = Hasher::new(checksum_algorithm, checksum_value)?;
        let mut size = 0u64;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.flush().await.map_err(|e| e.to_string())?;
        drop(file);
        if let Some(h) = hasher.take() {
            h.verify(checksum_value)?;
        }

        let dir = {
            let mut st = self.state.lock().unwrap();
            st.next += 1;
            self.dir.join(format!("{}-{}", key_name(&key), st.next))
        };
        let (src, dst) = (raw.path().to_path_buf(), dir.clone());
        tokio::task::spawn_blocking(move || extract(&src, &dst))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                e.to_string()
            })?;

        let replaced = {
            let mut st = self.state.lock().unwrap();
            *st.users.entry(dir.clone()).or_default() += 1;
            let entry = Entry {
                url: url.to_string(),
                checksum,
                dir: dir.clone(),
                etag,
                last_modified,
            };
            let old = if cache_key.is_empty() {
                None
            } else {
                st.current.insert(key.clone(), entry)
            };
            // An old directory nobody uses any more goes now.
            old.filter(|o| st.users.get(&o.dir).copied().unwrap_or(0) == 0)
                .map(|o| {
                    st.users.remove(&o.dir);
                    o.dir
                })
        };
        if let Some(old) = replaced {
            let _ = tokio::fs::remove_dir_all(old).await;
        }
        Ok(Fetched {
            dir,
            downloaded: size,
        })
    }

    fn use_dir(&self, dir: &Path) {
        *self
            .state
            .lock()
            .unwrap()
            .users
            .entry(dir.to_path_buf())
            .or_default() += 1;
    }

    /// A container no longer uses `dir`; it is removed when no container
    /// does and a newer download (or none: uncached) replaced it.
    pub fn release(&self, dir: &Path) {
        let remove = {
            let mut st = self.state.lock().unwrap();
            let current = st.current.values().any(|e| e.dir == dir);
            let Some(n) = st.users.get_mut(dir) else {
                return;
            };
            *n = n.saturating_sub(1);
            if *n == 0 && !current {
                st.users.remove(dir);
                true
            } else {
                false
            }
        };
        if remove {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// How many containers use `dir` (tests).
    pub fn users(&self, dir: &Path) -> usize {
        self.state
            .lock()
            .unwrap()
            .users
            .get(dir)
            .copied()
            .unwrap_or(0)
    }
}

/// A file-system-safe name for a cache key.
fn key_name(key: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..12])
}

/// Extracts a tgz, zip or tar into `dst`, keeping modes and symlinks; no
/// entry may land outside `dst`.
fn extract(src: &Path, dst: &Path) -> std::io::Result<()> {
    let tar_path = dst.with_extension("tar");
    super::archive::to_tar(src, &tar_path)?;
    std::fs::create_dir_all(dst)?;
    let unpacked = (|| {
        let mut archive = tar::Archive::new(std::fs::File::open(&tar_path)?);
        archive.set_preserve_permissions(true);
        archive.set_overwrite(true);
        archive.unpack(dst)
    })();
    let _ = std::fs::remove_file(&tar_path);
    unpacked?;
    // The directory itself must be readable by the container's user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o755))
}
