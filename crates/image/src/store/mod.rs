//! The cell's content-addressed layer store: each layer (by blob digest
//! and id shift) is fetched and unpacked once, into a directory every
//! container of every image using it shares read-only (an overlayfs lower
//! dir).
//!
//! ```text
//! ROOT/layers/ID/meta.json   what the layer is (key, size)
//! ROOT/layers/ID/rootfs/     its files
//! ROOT/leases/HANDLE.json    the layers a container uses
//! ROOT/tmp/                  layers being unpacked (gone at the next open)
//! ROOT/trash/                layers being deleted
//! ```
//!
//! A layer appears under layers/ only complete (renamed from tmp/), so a
//! crash or a failed pull leaves nothing half-pulled. Concurrent requests
//! for one layer share one fetch. Layers no container leases are removed,
//! least recently used first, when the store is over its size cap;
//! pinned layers (being set up for a container) and leased ones never.

mod gc;
mod layout;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::future::{BoxFuture, FutureExt, Shared};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ImageError;
use crate::idmap::{hex, IdShift};
pub use gc::GcReport;
use layout::Layout;

/// Which layer: its blob's digest and the id shift it is unpacked with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerKey {
    pub digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shift: String,
}

impl LayerKey {
    pub fn new(digest: &str, shift: &IdShift) -> Self {
        LayerKey {
            digest: digest.to_string(),
            shift: shift.key(),
        }
    }

    /// The directory name: short, so that an overlay mount's option string
    /// (one page) fits many layers.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.digest.as_bytes());
        h.update(b"|");
        h.update(self.shift.as_bytes());
        hex(&h.finalize()[..12])
    }
}

/// What a fetch reports: the disk space the unpacked layer takes.
pub type FetchResult = Result<u64, ImageError>;
/// Fills the given (empty, existing) directory with the layer's files.
pub type Fetch = Box<dyn FnOnce(PathBuf) -> BoxFuture<'static, FetchResult> + Send>;

#[derive(Clone)]
pub struct LayerStore {
    inner: Arc<Inner>,
}

struct Inner {
    layout: Layout,
    /// Above this many bytes, unleased layers are removed (None: never).
    cap: Option<u64>,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LayerMeta {
    key: LayerKey,
    bytes: u64,
}

struct LayerEntry {
    bytes: u64,
    last_used: SystemTime,
}

type InFlight = Shared<BoxFuture<'static, Result<(), ImageError>>>;

#[derive(Default)]
struct State {
    layers: HashMap<String, LayerEntry>,
    pins: HashMap<String, usize>,
    inflight: HashMap<String, InFlight>,
    leases: HashMap<String, Vec<String>>,
}

/// A layer held for a container being set up: not removed while held.
pub struct PinnedLayer {
    store: LayerStore,
    id: String,
    path: PathBuf,
    bytes: u64,
}

impl PinnedLayer {
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The layer's files (an overlay lower dir).
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// About the disk space its files take.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl std::fmt::Debug for PinnedLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinnedLayer({})", self.id)
    }
}

impl Drop for PinnedLayer {
    fn drop(&mut self) {
        let mut st = self.store.inner.state.lock().expect("store lock");
        if let Some(n) = st.pins.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                st.pins.remove(&self.id);
            }
        }
    }
}

/// How full the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUsage {
    pub layers: usize,
    pub bytes: u64,
    pub leased_layers: usize,
}

#[derive(Serialize, Deserialize)]
struct Lease {
    layers: Vec<String>,
}

impl LayerStore {
    /// Opens (or makes) the store at `root`: removes what an interrupted
    /// unpack or delete left and takes back the complete layers and the
    /// leases.
    pub fn open(root: impl Into<PathBuf>, cap: Option<u64>) -> Result<Self, ImageError> {
        let layout = Layout::new(root.into());
        layout.prepare()?;
        let mut state = State::default();
        for (id, meta, last_used) in layout.complete_layers() {
            state.layers.insert(
                id,
                LayerEntry {
                    bytes: meta.bytes,
                    last_used,
                },
            );
        }
        for (handle, lease) in layout.leases() {
            state.leases.insert(handle, lease.layers);
        }
        Ok(LayerStore {
            inner: Arc::new(Inner {
                layout,
                cap,
                state: Mutex::new(state),
            }),
        })
    }

    pub fn root(&self) -> &Path {
        self.inner.layout.root()
    }

    /// The layer, pinned: from the store, or fetched (once, however many
    /// ask at the same time). A failed fetch leaves nothing behind and is
    /// reported to everyone who waited for it.
    pub async fn layer(&self, key: &LayerKey, fetch: Fetch) -> Result<PinnedLayer, ImageError> {
        let id = key.id();
        let mut fetch = Some(fetch);
        loop {
            let waiting = {
                let mut st = self.inner.state.lock().expect("store lock");
                if let Some(bytes) = st.layers.get(&id).map(|l| l.bytes) {
                    *st.pins.entry(id.clone()).or_default() += 1;
                    return Ok(PinnedLayer {
                        store: self.clone(),
                        path: self.inner.layout.layer_rootfs(&id),
                        id,
                        bytes,
                    });
                }
                match st.inflight.get(&id) {
                    Some(f) => f.clone(),
                    None => {
                        let Some(fetch) = fetch.take() else {
                            // Fetched for us and removed again before we
                            // could pin it: the store is too small.
                            return Err(ImageError::Store(format!(
                                "layer {} was removed as soon as it was fetched (store cap too small?)",
                                key.digest
                            )));
                        };
                        let f = self.start_fetch(key.clone(), id.clone(), fetch);
                        st.inflight.insert(id.clone(), f.clone());
                        f
                    }
                }
            };
            waiting.await?;
        }
    }

    /// Runs the fetch on a task of its own (a waiter giving up does not
    /// stop it for the others) into tmp/, then moves it into layers/.
    fn start_fetch(&self, key: LayerKey, id: String, fetch: Fetch) -> InFlight {
        let store = self.clone();
        let task = tokio::spawn(async move {
            let result = store.fetch_into_place(&key, &id, fetch).await;
            let mut st = store.inner.state.lock().expect("store lock");
            st.inflight.remove(&id);
            if let Ok(bytes) = result {
                st.layers.insert(
                    id,
                    LayerEntry {
                        bytes,
                        last_used: SystemTime::now(),
                    },
                );
            }
            result.map(drop)
        });
        async move {
            task.await
                .map_err(|e| ImageError::store("layer fetch task", e))?
        }
        .boxed()
        .shared()
    }

    async fn fetch_into_place(&self, key: &LayerKey, id: &str, fetch: Fetch) -> FetchResult {
        let layout = &self.inner.layout;
        let tmp = layout.new_tmp(id)?;
        let rootfs = tmp.join("rootfs");
        let result = async {
            tokio::fs::create_dir(&rootfs)
                .await
                .map_err(|e| ImageError::store("making a layer directory", e))?;
            let bytes = fetch(rootfs.clone()).await?;
            layout.write_meta(
                &tmp,
                &serde_json::to_vec(&LayerMeta {
                    key: key.clone(),
                    bytes,
                })
                .expect("serializable"),
            )?;
            layout.commit(&tmp, id)?;
            Ok(bytes)
        }
        .await;
        if result.is_err() {
            layout.discard(tmp).await;
        }
        result
    }

    /// Records that `handle` uses these layers (until [`release`]): they
    /// are never removed meanwhile, also across restarts.
    ///
    /// [`release`]: Self::release
    pub fn lease(&self, handle: &str, layers: &[PinnedLayer]) -> Result<(), ImageError> {
        let ids: Vec<String> = layers.iter().map(|l| l.id.clone()).collect();
        self.inner.layout.write_lease(
            handle,
            &serde_json::to_vec(&Lease {
                layers: ids.clone(),
            })
            .expect("serializable"),
        )?;
        let now = SystemTime::now();
        let mut st = self.inner.state.lock().expect("store lock");
        for id in &ids {
            if let Some(l) = st.layers.get_mut(id) {
                l.last_used = now;
            }
            self.inner.layout.touch(id);
        }
        st.leases.insert(handle.to_string(), ids);
        Ok(())
    }

    /// The container is gone: its layers may be removed when unused.
    pub fn release(&self, handle: &str) -> Result<(), ImageError> {
        self.inner.layout.remove_lease(handle)?;
        let mut st = self.inner.state.lock().expect("store lock");
        if let Some(ids) = st.leases.remove(handle) {
            let now = SystemTime::now();
            for id in ids {
                if let Some(l) = st.layers.get_mut(&id) {
                    l.last_used = now;
                }
            }
        }
        Ok(())
    }

    /// Handles holding leases (a backend drops those of containers it no
    /// longer has).
    pub fn leased_handles(&self) -> Vec<String> {
        let st = self.inner.state.lock().expect("store lock");
        let mut v: Vec<String> = st.leases.keys().cloned().collect();
        v.sort();
        v
    }

    pub fn usage(&self) -> StoreUsage {
        let st = self.inner.state.lock().expect("store lock");
        let leased: std::collections::HashSet<&String> = st.leases.values().flatten().collect();
        StoreUsage {
            layers: st.layers.len(),
            bytes: st.layers.values().map(|l| l.bytes).sum(),
            leased_layers: leased.len(),
        }
    }

    /// Whether the layer is in the store (complete).
    pub fn contains(&self, key: &LayerKey) -> bool {
        let st = self.inner.state.lock().expect("store lock");
        st.layers.contains_key(&key.id())
    }

    pub fn cap(&self) -> Option<u64> {
        self.inner.cap
    }
}

#[cfg(test)]
mod tests;
