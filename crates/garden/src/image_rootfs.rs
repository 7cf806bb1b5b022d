//! `docker://` root filesystems: the image's layers, pulled into the
//! cell's layer store (crate `image`), are the lower dirs of the
//! container's overlay. A container leases its layers from creation to
//! destruction (the store never removes leased layers); the lower dirs
//! are kept in the container's directory, so a restarted backend mounts
//! and tears down what it had.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use image::{
    Credentials, IdShift, ImageError, ImageService, ImageServiceConfig, InsecureRegistries,
    PulledImage,
};

use crate::api::{ContainerSpec, GardenError};
use crate::config::RuncConfig;

const LOWERS_FILE: &str = "image-layers.json";

pub fn is_image(uri: &str) -> bool {
    uri.starts_with("docker://")
}

pub struct ImageRootfs {
    service: ImageService,
    /// The backend's user namespace map as the store's shift: layers of
    /// containers in the user namespace are unpacked owned by the host ids
    /// their owners map to (those of privileged ones, unshifted).
    userns_shift: IdShift,
}

fn garden_error(e: ImageError) -> GardenError {
    match e {
        ImageError::InvalidReference { .. } => GardenError::InvalidSpec(e.to_string()),
        other => GardenError::Runtime(other.to_string()),
    }
}

impl ImageRootfs {
    /// The store lives in the depot's `images/`.
    pub fn open(cfg: &RuncConfig) -> Result<Self, GardenError> {
        let insecure =
            InsecureRegistries::new(&cfg.insecure_registries).map_err(GardenError::InvalidSpec)?;
        let service = ImageService::open(ImageServiceConfig {
            store_dir: cfg.depot.join("images"),
            store_cap_bytes: cfg.image_store_cap_bytes,
            insecure,
            max_image_bytes: cfg.image_max_bytes,
        })
        .map_err(garden_error)?;
        Ok(ImageRootfs {
            service,
            userns_shift: IdShift::offset(cfg.id_map.host_base, cfg.id_map.size),
        })
    }

    /// Pulls what the container needs (layers pinned until attached),
    /// shifted for the user namespace when it runs in one.
    pub async fn pull(
        &self,
        spec: &ContainerSpec,
        userns: bool,
    ) -> Result<PulledImage, GardenError> {
        let creds = Credentials::new(&spec.image_username, &spec.image_password);
        let none = IdShift::none();
        let shift = if userns { &self.userns_shift } else { &none };
        let started = std::time::Instant::now();
        let pulled = self
            .service
            .pull(&spec.image, &creds, shift)
            .await
            .map_err(garden_error)?;
        tracing::info!(
            handle = %spec.handle,
            image = %pulled.reference,
            manifest = %pulled.manifest_digest,
            layers = pulled.layers.len(),
            userns,
            ms = started.elapsed().as_millis() as u64,
            "image ready"
        );
        Ok(pulled)
    }

    /// The container `handle` (directory `dir`) uses the image: its layers
    /// are leased and its lower dirs recorded.
    pub fn attach(&self, dir: &Path, handle: &str, image: &PulledImage) -> Result<(), GardenError> {
        self.service.lease(handle, image).map_err(garden_error)?;
        let json = serde_json::to_vec(&image.lower_dirs())
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        let tmp = dir.join(".image-layers.json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, dir.join(LOWERS_FILE))?;
        Ok(())
    }

    /// The container is gone (its overlay unmounted): its layers may be
    /// removed when the store is over its cap.
    pub async fn detach(&self, handle: &str) {
        if let Err(e) = self.service.release(handle).await {
            tracing::warn!(handle, error = %e, "releasing the container's image layers");
        }
    }

    /// Drops the leases of containers the backend no longer has (a crash
    /// between unmounting and releasing).
    pub async fn prune(&self, containers: &HashSet<String>) {
        for handle in self.service.store().leased_handles() {
            if !containers.contains(&handle) {
                tracing::info!(%handle, "releasing the image layers of a container that is gone");
                self.detach(&handle).await;
            }
        }
    }

    pub fn service(&self) -> &ImageService {
        &self.service
    }
}

/// The overlay lower dirs recorded for the container in `dir`, top first.
pub fn lower_dirs(dir: &Path) -> Result<Vec<PathBuf>, GardenError> {
    let bytes = std::fs::read(dir.join(LOWERS_FILE))?;
    serde_json::from_slice(&bytes).map_err(|e| GardenError::Runtime(format!("{LOWERS_FILE}: {e}")))
}

/// The image's env with the container spec's after it: a spec variable
/// replaces the image's of the same name (Garden's order).
pub fn merge_env(image_env: &[String], spec_env: &[String]) -> Vec<String> {
    let name = |e: &String| e.split_once('=').map_or(e.clone(), |(k, _)| k.to_string());
    let overridden: HashSet<String> = spec_env.iter().map(name).collect();
    image_env
        .iter()
        .filter(|e| !overridden.contains(&name(e)))
        .chain(spec_env)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_env_overrides_the_images() {
        let image = vec![
            "PATH=/opt/bin:/bin".to_string(),
            "MODE=image".into(),
            "KEEP=1".into(),
        ];
        let spec = vec!["MODE=spec".to_string(), "PORT=8080".into()];
        assert_eq!(
            merge_env(&image, &spec),
            vec!["PATH=/opt/bin:/bin", "KEEP=1", "MODE=spec", "PORT=8080"]
        );
    }
}
