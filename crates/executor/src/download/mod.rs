//! Fetching what download actions name: over HTTP(S), checksummed, turned
//! into a tar, optionally kept in a cache by `cache_key` and revalidated
//! with the server's ETag / Last-Modified (Diego's cacheddownloader).

pub mod archive;
pub mod checksum;
pub mod deps;

use checksum::Hasher;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// HTTP and the limits on concurrent transfers, shared by a cell's steps.
pub struct Transfers {
    pub http: reqwest::Client,
    pub downloads: Semaphore,
    pub uploads: Semaphore,
    temp_dir: PathBuf,
    /// Downloads with a cache key, as tars in `temp_dir/cache`.
    cache: Mutex<HashMap<String, CacheEntry>>,
    /// Cached dependencies, extracted in `temp_dir/deps`.
    pub deps: deps::DependencyCache,
}

#[derive(Clone)]
struct CacheEntry {
    url: String,
    path: PathBuf,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// A fetched download: a tar, deleted when dropped (unless it is the
/// cached copy).
pub enum Fetched {
    Fresh(NamedTempFile),
    Cached(PathBuf),
}

impl Fetched {
    pub fn path(&self) -> &std::path::Path {
        match self {
            Fetched::Fresh(f) => f.path(),
            Fetched::Cached(p) => p,
        }
    }
}

impl Transfers {
    /// Diego's defaults: 5 concurrent downloads, 5 uploads.
    pub fn new(temp_dir: impl Into<PathBuf>, max_downloads: usize, max_uploads: usize) -> Self {
        let temp_dir = temp_dir.into();
        Self {
            http: reqwest::Client::new(),
            downloads: Semaphore::new(max_downloads.max(1)),
            uploads: Semaphore::new(max_uploads.max(1)),
            deps: deps::DependencyCache::new(temp_dir.join("deps")),
            temp_dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn temp_dir(&self) -> &std::path::Path {
        &self.temp_dir
    }

    /// The download as a tar, and how many bytes came over the network.
    pub async fn fetch(
        &self,
        url: &str,
        cache_key: &str,
        checksum_algorithm: &str,
        checksum_value: &str,
    ) -> Result<(Fetched, u64), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        let hasher = Hasher::new(checksum_algorithm, checksum_value)?;
        tokio::fs::create_dir_all(&self.temp_dir)
            .await
            .map_err(|e| e.to_string())?;

        let cached = if cache_key.is_empty() {
            None
        } else {
            self.cache
                .lock()
                .unwrap()
                .get(cache_key)
                .filter(|c| c.url == url)
                .cloned()
        };
        let mut req = self.http.get(parsed);
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
                return Ok((Fetched::Cached(c.path), 0));
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

        // Body to a file, hashing on the way.
        let raw = NamedTempFile::new_in(&self.temp_dir).map_err(|e| e.to_string())?;
        let mut file = tokio::fs::File::create(raw.path())
            .await
            .map_err(|e| e.to_string())?;
        let mut hasher = hasher;
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
        if let Some(h) = hasher {
            h.verify(checksum_value)?;
        }

        let tar = NamedTempFile::new_in(&self.temp_dir).map_err(|e| e.to_string())?;
        let (src, dst) = (raw.path().to_path_buf(), tar.path().to_path_buf());
        tokio::task::spawn_blocking(move || archive::to_tar(&src, &dst))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;

        if !cache_key.is_empty() && (etag.is_some() || last_modified.is_some()) {
            if let Some(path) = self.keep(cache_key, tar.path()).await {
                self.cache.lock().unwrap().insert(
                    cache_key.to_string(),
                    CacheEntry {
                        url: url.to_string(),
                        path,
                        etag,
                        last_modified,
                    },
                );
            }
        }
        Ok((Fetched::Fresh(tar), size))
    }

    /// Copies a tar into the cache directory under a name derived from the
    /// cache key.
    async fn keep(&self, cache_key: &str, tar: &std::path::Path) -> Option<PathBuf> {
        use sha2::Digest;
        let dir = self.temp_dir.join("cache");
        tokio::fs::create_dir_all(&dir).await.ok()?;
        let name = hex::encode(sha2::Sha256::digest(cache_key.as_bytes()));
        let path = dir.join(name);
        tokio::fs::copy(tar, &path).await.ok()?;
        Some(path)
    }
}

/// Go's bytefmt.ByteSize, which Diego's "Downloaded x (1.5M)" uses.
pub fn byte_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
        (1, "B"),
    ];
    if bytes == 0 {
        return "0B".into();
    }
    let (unit, suffix) = UNITS.iter().find(|(u, _)| bytes >= *u).unwrap();
    let value = format!("{:.1}", bytes as f64 / *unit as f64);
    format!("{}{suffix}", value.strip_suffix(".0").unwrap_or(&value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_sizes_as_go_prints_them() {
        assert_eq!(super::byte_size(0), "0B");
        assert_eq!(super::byte_size(100), "100B");
        assert_eq!(super::byte_size(1024), "1K");
        assert_eq!(super::byte_size(1536), "1.5K");
        assert_eq!(super::byte_size(3 << 20), "3M");
    }
}
