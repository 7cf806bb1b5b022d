//! Pulling an image onto the cell: resolve the reference, then have each
//! layer in the store (fetched and unpacked at once, streaming: the blob
//! flows from the registry through the decompressor into the unpacker,
//! never whole in memory), checked against both its blob digest and the
//! config's diff id before it enters the store.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{FutureExt, StreamExt, TryStreamExt};
use oci_spec::image::ImageConfiguration;
use tokio::io::AsyncWrite;

use crate::error::ImageError;
use crate::idmap::IdShift;
use crate::insecure::InsecureRegistries;
use crate::reference::ImageRef;
use crate::registry::{Credentials, LayerDescriptor, RegistryClient, ResolvedImage};
use crate::store::{Fetch, GcReport, LayerKey, LayerStore, PinnedLayer};
use crate::unpack;

/// Layers fetched at once for one image.
const PARALLEL_LAYERS: usize = 4;
/// What the registry may be ahead of the unpacker by.
const PIPE_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, Default)]
pub struct ImageServiceConfig {
    pub store_dir: PathBuf,
    /// Unused layers are removed above this size (None: never).
    pub store_cap_bytes: Option<u64>,
    pub insecure: InsecureRegistries,
    /// What one image's layers may unpack to, all together (None: no
    /// bound). Unpacking stops there, so a small compressed layer that
    /// inflates without end fills no disk.
    pub max_image_bytes: Option<u64>,
}

/// A cell's default bound on an image's unpacked size: far above any real
/// app image, far below a disk.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 16 << 30;

/// The cell's images: a registry client and the layer store.
#[derive(Clone)]
pub struct ImageService {
    registry: Arc<RegistryClient>,
    store: LayerStore,
    max_image_bytes: Option<u64>,
}

/// An image ready to be a container's root: its layers pinned in the
/// store until leased.
#[derive(Debug)]
pub struct PulledImage {
    pub reference: ImageRef,
    pub manifest_digest: String,
    pub config: ImageConfiguration,
    /// Bottom layer first.
    pub layers: Vec<PinnedLayer>,
}

impl PulledImage {
    /// The overlay's lower dirs, top layer first (overlayfs's order).
    pub fn lower_dirs(&self) -> Vec<PathBuf> {
        self.layers
            .iter()
            .rev()
            .map(|l| l.path().to_path_buf())
            .collect()
    }

    /// The config's `Env` (`KEY=VALUE`).
    pub fn env(&self) -> Vec<String> {
        self.config
            .config()
            .as_ref()
            .and_then(|c| c.env().clone())
            .unwrap_or_default()
    }
}

impl ImageService {
    pub fn open(cfg: ImageServiceConfig) -> Result<Self, ImageError> {
        Ok(ImageService {
            registry: Arc::new(RegistryClient::new(cfg.insecure)),
            store: LayerStore::open(cfg.store_dir, cfg.store_cap_bytes)?,
            max_image_bytes: cfg.max_image_bytes,
        })
    }

    pub fn store(&self) -> &LayerStore {
        &self.store
    }

    pub fn registry(&self) -> &RegistryClient {
        &self.registry
    }

    /// The image's manifest and config only (no layers): what Cloud
    /// Foundry's docker staging reads.
    pub async fn resolve(
        &self,
        uri: &str,
        creds: &Credentials,
    ) -> Result<Arc<ResolvedImage>, ImageError> {
        let image = ImageRef::parse(uri)?;
        self.registry.resolve(&image, creds).await
    }

    /// Every layer of the image in the store, pinned.
    pub async fn pull(
        &self,
        uri: &str,
        creds: &Credentials,
        shift: &IdShift,
    ) -> Result<PulledImage, ImageError> {
        let image = ImageRef::parse(uri)?;
        let resolved = self.registry.resolve(&image, creds).await?;
        // The layers this pull unpacks share one budget; those already in
        // the store count in the sum below.
        let budget = self.max_image_bytes.map(unpack::Budget::new);
        let layers: Vec<PinnedLayer> = futures::stream::iter(resolved.layers.clone())
            .map(|layer| {
                let key = LayerKey::new(&layer.digest, shift);
                let fetch = self.fetch(&image, creds, layer, shift, budget.clone());
                let store = self.store.clone();
                async move { store.layer(&key, fetch).await }
            })
            .buffered(PARALLEL_LAYERS)
            .try_collect()
            .await?;
        let total: u64 = layers.iter().map(PinnedLayer::bytes).sum();
        if let Some(max) = self.max_image_bytes.filter(|max| total > *max) {
            return Err(too_large(&image, max));
        }
        Ok(PulledImage {
            reference: image,
            manifest_digest: resolved.manifest_digest.clone(),
            config: resolved.config.clone(),
            layers,
        })
    }

    /// The container `handle` uses the image's layers until [`release`].
    ///
    /// [`release`]: Self::release
    pub fn lease(&self, handle: &str, image: &PulledImage) -> Result<(), ImageError> {
        self.store.lease(handle, &image.layers)
    }

    /// The container is gone; unused layers over the cap go.
    pub async fn release(&self, handle: &str) -> Result<GcReport, ImageError> {
        self.store.release(handle)?;
        Ok(self.store.gc().await)
    }

    fn fetch(
        &self,
        image: &ImageRef,
        creds: &Credentials,
        layer: LayerDescriptor,
        shift: &IdShift,
        budget: Option<unpack::Budget>,
    ) -> Fetch {
        let registry = self.registry.clone();
        let image = image.clone();
        let creds = creds.clone();
        let shift = shift.clone();
        Box::new(move |dir: PathBuf| {
            async move { fetch_layer(&registry, &image, &creds, &layer, dir, shift, budget).await }
                .boxed()
        })
    }
}

/// Download and unpack side by side through a bounded pipe.
async fn fetch_layer(
    registry: &RegistryClient,
    image: &ImageRef,
    creds: &Credentials,
    layer: &LayerDescriptor,
    dir: PathBuf,
    shift: IdShift,
    budget: Option<unpack::Budget>,
) -> Result<u64, ImageError> {
    let started = std::time::Instant::now();
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let reader_gone = Arc::new(AtomicBool::new(false));
    let writer = PipeWriter {
        inner: writer,
        reader_gone: reader_gone.clone(),
    };
    let download = registry.pull_blob(image, creds, layer, writer);
    let unpack = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        let mut src = std::io::BufReader::with_capacity(1 << 20, bridge);
        unpack::unpack(&mut src, &dir, &shift, budget.as_ref())
    });
    let (downloaded, unpacked) = tokio::join!(download, unpack);
    let unpacked = unpacked.map_err(|e| ImageError::store("unpack task", e))?;
    let bad_layer = |e: std::io::Error| match unpack::TooLarge::find(&e) {
        Some(t) => too_large(image, t.limit),
        None => ImageError::BadLayer {
            image: image.to_string(),
            digest: layer.digest.clone(),
            detail: e.to_string(),
        },
    };
    let unpacked = match (downloaded, unpacked) {
        (Ok(()), Ok(u)) => u,
        // The unpacker stopped reading first: its error is the cause.
        (Err(_), Err(e)) if reader_gone.load(Ordering::SeqCst) => return Err(bad_layer(e)),
        (Err(e), _) => return Err(e),
        (Ok(()), Err(e)) => return Err(bad_layer(e)),
    };
    if let Some(expected) = &layer.diff_id {
        if *expected != unpacked.diff_id {
            return Err(ImageError::DigestMismatch {
                image: image.to_string(),
                digest: layer.digest.clone(),
                detail: format!(
                    "uncompressed content is {}, the config says {expected}",
                    unpacked.diff_id
                ),
            });
        }
    }
    tracing::info!(
        image = %image,
        layer = %layer.digest,
        compressed_bytes = layer.size,
        bytes = unpacked.bytes,
        entries = unpacked.entries,
        ms = started.elapsed().as_millis() as u64,
        "layer pulled"
    );
    Ok(unpacked.bytes)
}

fn too_large(image: &ImageRef, limit: u64) -> ImageError {
    ImageError::TooLarge {
        image: image.to_string(),
        limit_mb: limit.div_ceil(1 << 20),
    }
}

/// The pipe's writing end, noting when the unpacker went away.
struct PipeWriter {
    inner: tokio::io::DuplexStream,
    reader_gone: Arc<AtomicBool>,
}

impl AsyncWrite for PipeWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Err(e)) = &r {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                self.reader_gone.store(true, Ordering::SeqCst);
            }
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
