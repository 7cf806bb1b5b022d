//! A docker droplet's execution metadata, as Cloud Controller's docker
//! staging records it: the image's config only (no layers), read from the
//! registry with the package's credentials through the `image` crate
//! (dockerapplifecycle's builder: Entrypoint, Cmd, WorkingDir, User,
//! exposed ports). The image's env rides along, since the LRP hands it to
//! the container.

use image::metadata::{image_process, ExecutionMetadata};
use serde::{Deserialize, Serialize};

/// What a docker droplet's `execution_metadata` holds (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageExecution {
    #[serde(flatten)]
    pub metadata: ExecutionMetadata,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}

impl ImageExecution {
    pub fn parse(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

/// Reads `reference`'s config from its registry (loopback registries over
/// plain HTTP, as the cells pull them).
pub async fn read(
    reference: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> Result<ImageExecution, String> {
    let image = image::ImageRef::parse(reference).map_err(|e| e.to_string())?;
    let registry = image::RegistryClient::new(image::InsecureRegistries::loopback());
    let creds = image::Credentials::new(username.unwrap_or(""), password.unwrap_or(""));
    let resolved = registry
        .resolve(&image, &creds)
        .await
        .map_err(|e| format!("reading image {reference}: {e}"))?;
    let p = image_process(&resolved.config).map_err(|e| e.to_string())?;
    Ok(ImageExecution {
        metadata: p.execution_metadata,
        env: p.env,
    })
}

/// Diego's rootfs URL of `reference` (`docker://HOST/REPO#TAG`).
pub fn rootfs_url(reference: &str) -> String {
    image::ImageRef::parse(reference)
        .map(|r| r.to_rootfs_url())
        .unwrap_or_else(|_| format!("docker://{reference}"))
}
