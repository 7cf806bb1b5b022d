//! Keeping the store under its cap: layers no container leases and none
//! is being set up with go, least recently used first. They leave the
//! store's map and layers/ at once (under the lock, by a rename); their
//! files are deleted after.

use std::collections::HashSet;

use super::LayerStore;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed_layers: Vec<String>,
    pub removed_bytes: u64,
    /// What the store holds after.
    pub bytes: u64,
}

impl LayerStore {
    /// Removes unused layers while the store is over its cap (nothing
    /// without a cap).
    pub async fn gc(&self) -> GcReport {
        let Some(cap) = self.inner.cap else {
            return GcReport {
                bytes: self.usage().bytes,
                ..Default::default()
            };
        };
        self.gc_to(cap).await
    }

    /// Removes unused layers until at most `target` bytes are kept (or
    /// only used ones are left).
    pub async fn gc_to(&self, target: u64) -> GcReport {
        let mut report = GcReport::default();
        let mut trashed = Vec::new();
        {
            let mut st = self.inner.state.lock().expect("store lock");
            let mut total: u64 = st.layers.values().map(|l| l.bytes).sum();
            let in_use: HashSet<String> = st
                .leases
                .values()
                .flatten()
                .chain(st.pins.keys())
                .cloned()
                .collect();
            let mut candidates: Vec<(std::time::SystemTime, String, u64)> = st
                .layers
                .iter()
                .filter(|(id, _)| !in_use.contains(*id))
                .map(|(id, l)| (l.last_used, id.clone(), l.bytes))
                .collect();
            candidates.sort();
            for (_, id, bytes) in candidates {
                if total <= target {
                    break;
                }
                if let Some(path) = self.inner.layout.trash_layer(&id) {
                    st.layers.remove(&id);
                    total -= bytes;
                    report.removed_bytes += bytes;
                    report.removed_layers.push(id);
                    trashed.push(path);
                }
            }
            report.bytes = total;
        }
        if !report.removed_layers.is_empty() {
            tracing::info!(
                layers = report.removed_layers.len(),
                bytes = report.removed_bytes,
                kept_bytes = report.bytes,
                "removed unused layers"
            );
        }
        let _ = tokio::task::spawn_blocking(move || {
            for p in trashed {
                super::layout::remove_tree(&p);
            }
        })
        .await;
        report
    }
}
