//! The data directory of `diego dev`: databases, the encryption key, the
//! file server's blobs.

use anyhow::Context;
use base64::Engine;
use std::path::{Path, PathBuf};

pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates the directory tree if missing.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        for sub in ["", "static"] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("creating {}", root.join(sub).display()))?;
        }
        let root = root
            .canonicalize()
            .with_context(|| format!("resolving {}", root.display()))?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn bbs_db(&self) -> PathBuf {
        self.root.join("bbs.db")
    }

    pub fn locket_db(&self) -> PathBuf {
        self.root.join("locket.db")
    }

    pub fn api_db(&self) -> PathBuf {
        self.root.join("api.db")
    }

    /// Package and droplet bits the API keeps.
    pub fn api_blobs(&self) -> PathBuf {
        self.root.join("api-blobs")
    }

    /// The token the API takes (made once, mode 600).
    pub fn api_token(&self) -> PathBuf {
        self.root.join("api.token")
    }

    /// Blobs the file server serves under /v1/static/.
    pub fn static_dir(&self) -> PathBuf {
        self.root.join("static")
    }

    /// The store's encryption key: made once per data directory (random,
    /// 32 bytes, base64), kept with mode 600, so a restarted `diego dev`
    /// reads its own data back.
    pub fn encryption_key(&self) -> anyhow::Result<String> {
        let path = self.root.join("encryption.key");
        if let Ok(key) = std::fs::read_to_string(&path) {
            let key = key.trim().to_string();
            if !key.is_empty() {
                return Ok(key);
            }
        }
        let mut raw = [0u8; 32];
        getrandom(&mut raw)?;
        let key = base64::engine::general_purpose::STANDARD.encode(raw);
        write_private(&path, &key)?;
        Ok(key)
    }
}

fn getrandom(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading /dev/urandom")
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
