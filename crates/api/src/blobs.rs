//! Package and droplet bits on disk (Cloud Controller's blobstore role):
//! `<dir>/packages/<guid>` and `<dir>/droplets/<guid>`, written aside
//! and renamed so nobody reads half a blob.

use crate::error::{ApiError, ApiResult};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

#[derive(Debug, Clone, Copy)]
pub enum BlobKind {
    Package,
    Droplet,
}

impl BlobKind {
    fn dir(self) -> &'static str {
        match self {
            BlobKind::Package => "packages",
            BlobKind::Droplet => "droplets",
        }
    }
}

impl Blobs {
    pub fn open(root: &Path) -> anyhow::Result<Blobs> {
        for k in [BlobKind::Package, BlobKind::Droplet] {
            std::fs::create_dir_all(root.join(k.dir()))
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", root.join(k.dir()).display()))?;
        }
        Ok(Blobs {
            root: root.to_path_buf(),
        })
    }

    pub fn path(&self, kind: BlobKind, guid: &str) -> PathBuf {
        self.root.join(kind.dir()).join(guid)
    }

    /// Writes the stream as the blob; its size and SHA-256. More than
    /// `limit` bytes: refused, nothing kept.
    pub async fn write<S, E>(
        &self,
        kind: BlobKind,
        guid: &str,
        mut body: S,
        limit: u64,
    ) -> ApiResult<(u64, String)>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.path(kind, guid);
        let tmp = path.with_extension("upload");
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let result: ApiResult<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::BadRequest(format!("reading the upload: {e}")))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(ApiError::TooLarge(format!(
                        "the upload is larger than the API's limit of {} MB",
                        limit / (1024 * 1024)
                    )));
                }
                hash.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &path).await?;
        Ok((size, hex(&hash.finalize())))
    }

    /// Makes `to` a copy of `from` (a hard link where possible: blobs are
    /// never changed in place).
    pub async fn copy(&self, from: (BlobKind, &str), to: (BlobKind, &str)) -> ApiResult<()> {
        let (src, dst) = (self.path(from.0, from.1), self.path(to.0, to.1));
        if tokio::fs::hard_link(&src, &dst).await.is_err() {
            tokio::fs::copy(&src, &dst).await?;
        }
        Ok(())
    }

    pub async fn remove(&self, kind: BlobKind, guid: &str) {
        let _ = tokio::fs::remove_file(self.path(kind, guid)).await;
    }

    pub fn exists(&self, kind: BlobKind, guid: &str) -> bool {
        self.path(kind, guid).is_file()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
