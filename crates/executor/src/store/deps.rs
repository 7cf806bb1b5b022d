//! A container's cached dependencies: downloaded (in parallel, within the
//! cell's download limit) before its backend container is created, mounted
//! read-only at their `to`, and released when it is deleted (Diego's
//! storenode with its DependencyManager).

use super::*;
use crate::logs::LogStreamer;
use garden::BindMount;

/// Diego's failure reason when a dependency cannot be had.
pub const DOWNLOAD_CACHED_DEPENDENCIES_FAILED: &str = "failed to download cached artifacts";

impl ContainerStore {
    /// Downloads the run info's cached dependencies; their bind mounts, or
    /// the first failure (the ones already fetched are released).
    pub(super) async fn fetch_cached_dependencies(
        &self,
        guid: &str,
        info: &RunInfo,
    ) -> Result<Vec<BindMount>, String> {
        if info.cached_dependencies.is_empty() {
            return Ok(Vec::new());
        }
        let log = self.logs(guid).map_err(|e| e.to_string())?;
        let fetches = info.cached_dependencies.iter().map(|dep| {
            let transfers = self.inner.transfers.clone();
            let source = if dep.log_source.is_empty() {
                info.log_config.source_name().to_string()
            } else {
                dep.log_source.clone()
            };
            let streamer = LogStreamer::new(log.clone(), &source);
            async move {
                let say = |m: String| {
                    if !dep.name.is_empty() {
                        streamer.out(&m);
                    }
                };
                say(format!("Downloading {}...", dep.name));
                let _slot = transfers
                    .downloads
                    .acquire()
                    .await
                    .map_err(|e| e.to_string())?;
                let fetched = transfers
                    .deps
                    .fetch(
                        &transfers.http,
                        &dep.from,
                        &dep.cache_key,
                        &dep.checksum_algorithm,
                        &dep.checksum_value,
                    )
                    .await;
                match fetched {
                    Ok(f) => {
                        if f.downloaded > 0 {
                            say(format!(
                                "Downloaded {} ({})",
                                dep.name,
                                crate::download::byte_size(f.downloaded)
                            ));
                        } else {
                            say(format!("Downloaded {}", dep.name));
                        }
                        Ok(BindMount {
                            src_path: f.dir.display().to_string(),
                            dst_path: dep.to.clone(),
                            read_only: true,
                        })
                    }
                    Err(e) => {
                        tracing::warn!(guid, from = %dep.from, "cached dependency failed: {e}");
                        say(format!("Downloading {} failed", dep.name));
                        Err(e)
                    }
                }
            }
        });
        let results = futures::future::join_all(fetches).await;
        let mut mounts = Vec::new();
        let mut failure = None;
        for r in results {
            match r {
                Ok(m) => mounts.push(m),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            self.release_dependencies(&mounts);
            return Err(e);
        }
        Ok(mounts)
    }

    /// Gives back the directories of these mounts.
    pub(super) fn release_dependencies(&self, mounts: &[BindMount]) {
        for m in mounts {
            self.inner
                .transfers
                .deps
                .release(std::path::Path::new(&m.src_path));
        }
    }
}
