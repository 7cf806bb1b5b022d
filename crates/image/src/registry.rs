//! The registry client (OCI Distribution API v2, through oci-client):
//! resolves a reference to its linux/amd64 manifest and config, and
//! streams blobs, each checked against its digest.
//!
//! oci-client does the protocol: manifest lists and OCI indexes, Docker
//! v2 schema 2 and OCI manifests, `WWW-Authenticate: Bearer` token
//! exchange (with the basic credentials when given) or plain basic auth,
//! digest checks of manifests and of streamed blobs. Here: which
//! registries get plain HTTP, choosing the platform (with an error that
//! says what the image offers), the config's platform check, caches, and
//! turning its errors into [`ImageError`]s an operator can act on.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{ImageIndexEntry, OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_spec::image::{Arch, ImageConfiguration, Os};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use crate::error::ImageError;
use crate::insecure::InsecureRegistries;
use crate::reference::ImageRef;

/// A config blob larger than this is not an image config.
const MAX_CONFIG_BYTES: usize = 8 << 20;

/// `image_username` / `image_password`; both empty: anonymous.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, ***)", self.username)
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    fn auth(&self) -> RegistryAuth {
        if self.username.is_empty() && self.password.is_empty() {
            RegistryAuth::Anonymous
        } else {
            RegistryAuth::Basic(self.username.clone(), self.password.clone())
        }
    }

    /// Keys caches without keeping the password in them.
    fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.username.as_bytes());
        h.update([0]);
        h.update(self.password.as_bytes());
        h.finalize().into()
    }
}

/// One layer as the manifest and config describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDescriptor {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// The digest of its uncompressed tar, from the config.
    pub diff_id: Option<String>,
}

/// A reference resolved to what a container is made of.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub reference: ImageRef,
    pub manifest_digest: String,
    pub config_digest: String,
    pub config: ImageConfiguration,
    /// Bottom layer first.
    pub layers: Vec<LayerDescriptor>,
}

type CacheKey = (String, [u8; 32]);

pub struct RegistryClient {
    insecure: InsecureRegistries,
    /// One client per registry and credentials: oci-client keeps one set
    /// of credentials (and tokens) per registry.
    clients: Mutex<HashMap<CacheKey, oci_client::Client>>,
    /// Last resolution per reference and credentials: used when the
    /// registry cannot be reached, and always for digest references
    /// (what a digest names never changes).
    resolved: Mutex<HashMap<CacheKey, Arc<ResolvedImage>>>,
    /// Configs by digest (content-addressed: shared safely once a
    /// manifest naming them was fetched with the caller's credentials).
    configs: Mutex<HashMap<String, ImageConfiguration>>,
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    // reqwest (for oci-client) is built without a TLS crypto provider of
    // its own: it uses the process's, the ring one the workspace's rustls
    // already uses.
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl RegistryClient {
    pub fn new(insecure: InsecureRegistries) -> Self {
        install_crypto_provider();
        RegistryClient {
            insecure,
            clients: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
            configs: Mutex::new(HashMap::new()),
        }
    }

    pub fn insecure(&self) -> &InsecureRegistries {
        &self.insecure
    }

    fn client(
        &self,
        image: &ImageRef,
        creds: &Credentials,
    ) -> Result<oci_client::Client, ImageError> {
        let key = (image.endpoint().to_string(), creds.fingerprint());
        let mut clients = self.clients.lock().expect("clients lock");
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let config = ClientConfig {
            protocol: if self.insecure.contains(image.endpoint()) {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            // Platforms are chosen here, with an error that lists them.
            platform_resolver: None,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("diego-image/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        let client = oci_client::Client::try_from(config).map_err(|e| ImageError::Registry {
            image: image.to_string(),
            detail: format!("making the registry client: {e}"),
        })?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The image's linux/amd64 manifest, config and layers.
    pub async fn resolve(
        &self,
        image: &ImageRef,
        creds: &Credentials,
    ) -> Result<Arc<ResolvedImage>, ImageError> {
        let key = (image.to_string(), creds.fingerprint());
        let cached = self.resolved.lock().expect("cache lock").get(&key).cloned();
        if let (Some(c), Some(_)) = (&cached, &image.digest) {
            return Ok(c.clone());
        }
        let mut result = self.resolve_uncached(image, creds).await;
        if matches!(&result, Err(e) if e.is_unreachable()) {
            // Once more: a pooled connection the registry closed fails the
            // first request on it.
            tokio::time::sleep(Duration::from_millis(100)).await;
            result = self.resolve_uncached(image, creds).await;
        }
        match result {
            Ok(r) => {
                let r = Arc::new(r);
                self.resolved
                    .lock()
                    .expect("cache lock")
                    .insert(key, r.clone());
                Ok(r)
            }
            Err(e) if e.is_unreachable() && cached.is_some() => {
                tracing::warn!(image = %image, error = %e, "registry unreachable; using the image as last resolved");
                Ok(cached.expect("checked"))
            }
            Err(e) => Err(e),
        }
    }

    async fn resolve_uncached(
        &self,
        image: &ImageRef,
        creds: &Credentials,
    ) -> Result<ResolvedImage, ImageError> {
        let client = self.client(image, creds)?;
        let auth = creds.auth();
        let reference = image.oci_reference();
        let (manifest, digest) = match client.pull_manifest(&reference, &auth).await {
            Ok(m) => m,
            Err(e) => {
                return Err(
                    explain_unknown(&client, &reference, &auth, image, map_error(e, image)).await,
                )
            }
        };
        let (manifest, manifest_digest) = match manifest {
            OciManifest::Image(m) => (m, digest),
            OciManifest::ImageIndex(index) => {
                let chosen =
                    select_platform(&index.manifests).map_err(|offered| ImageError::Platform {
                        image: image.to_string(),
                        found: if offered.is_empty() {
                            "no known platform".into()
                        } else {
                            offered.join(", ")
                        },
                    })?;
                let (m, d) = client
                    .pull_manifest(&reference.clone_with_digest(chosen), &auth)
                    .await
                    .map_err(|e| map_error(e, image))?;
                match m {
                    OciManifest::Image(m) => (m, d),
                    OciManifest::ImageIndex(_) => {
                        return Err(ImageError::Unsupported {
                            image: image.to_string(),
                            what: "nested image index".into(),
                            media_type: String::new(),
                        })
                    }
                }
            }
        };
        let config = self.config(&client, &reference, image, &manifest).await?;
        check_platform(image, &config)?;
        let layers = layers(image, &manifest, &config)?;
        Ok(ResolvedImage {
            reference: image.clone(),
            manifest_digest,
            config_digest: manifest.config.digest.clone(),
            config,
            layers,
        })
    }

    async fn config(
        &self,
        client: &oci_client::Client,
        reference: &oci_client::Reference,
        image: &ImageRef,
        manifest: &OciImageManifest,
    ) -> Result<ImageConfiguration, ImageError> {
        let desc = &manifest.config;
        if !matches!(
            desc.media_type.as_str(),
            oci_client::manifest::IMAGE_CONFIG_MEDIA_TYPE
                | oci_client::manifest::IMAGE_DOCKER_CONFIG_MEDIA_TYPE
        ) {
            return Err(ImageError::Unsupported {
                image: image.to_string(),
                what: "config (not a container image)".into(),
                media_type: desc.media_type.clone(),
            });
        }
        if let Some(c) = self.configs.lock().expect("configs lock").get(&desc.digest) {
            return Ok(c.clone());
        }
        if desc.size < 0 || desc.size as usize > MAX_CONFIG_BYTES {
            return Err(ImageError::Registry {
                image: image.to_string(),
                detail: format!("config blob of {} bytes", desc.size),
            });
        }
        let mut buf = LimitedBuf::default();
        client
            .pull_blob(reference, desc, &mut buf)
            .await
            .map_err(|e| map_error(e, image))?;
        let config: ImageConfiguration =
            serde_json::from_slice(&buf.0).map_err(|e| ImageError::Registry {
                image: image.to_string(),
                detail: format!("invalid image config: {e}"),
            })?;
        let mut configs = self.configs.lock().expect("configs lock");
        if configs.len() > 1024 {
            configs.clear();
        }
        configs.insert(desc.digest.clone(), config.clone());
        Ok(config)
    }

    /// Streams the blob into `out`; an error when its bytes do not match
    /// its digest (after they were all written: the reader must not use
    /// them until this returns Ok).
    pub async fn pull_blob<W: AsyncWrite + Send + Unpin>(
        &self,
        image: &ImageRef,
        creds: &Credentials,
        layer: &LayerDescriptor,
        out: W,
    ) -> Result<(), ImageError> {
        let client = self.client(image, creds)?;
        let reference = image.oci_reference();
        client
            .store_auth_if_needed(reference.resolve_registry(), &creds.auth())
            .await;
        let desc = OciDescriptor {
            media_type: layer.media_type.clone(),
            digest: layer.digest.clone(),
            size: layer.size as i64,
            ..Default::default()
        };
        client
            .pull_blob(&reference, &desc, out)
            .await
            .map_err(|e| map_error(e, image))
    }
}

/// Registries answer an unknown repository's manifest as an unknown
/// manifest (distribution does): the tag list tells which it is, and
/// which tags there are.
async fn explain_unknown(
    client: &oci_client::Client,
    reference: &oci_client::Reference,
    auth: &RegistryAuth,
    image: &ImageRef,
    e: ImageError,
) -> ImageError {
    let ImageError::UnknownManifest {
        image: name,
        repository,
        manifest,
        ..
    } = e
    else {
        return e;
    };
    match client.list_tags(reference, auth, Some(20), None).await {
        Ok(t) if !t.tags.is_empty() => ImageError::UnknownManifest {
            image: name,
            repository,
            manifest,
            hint: format!(" (its tags: {})", t.tags.join(", ")),
        },
        Err(e) => match map_error(e, image) {
            unknown @ ImageError::UnknownRepository { .. } => unknown,
            _ => ImageError::UnknownManifest {
                image: name,
                repository,
                manifest,
                hint: String::new(),
            },
        },
        Ok(_) => ImageError::UnknownManifest {
            image: name,
            repository,
            manifest,
            hint: String::new(),
        },
    }
}

/// The linux/amd64 entry of an index (the first, as Docker picks), or
/// the platforms it does offer.
pub fn select_platform(entries: &[ImageIndexEntry]) -> Result<String, Vec<String>> {
    if let Some(e) = entries.iter().find(|e| {
        e.platform
            .as_ref()
            .is_some_and(|p| p.os == Os::Linux && p.architecture == Arch::Amd64)
    }) {
        return Ok(e.digest.clone());
    }
    let mut offered: Vec<String> = entries
        .iter()
        .filter_map(|e| e.platform.as_ref())
        // Attestations and other non-images say "unknown".
        .filter(|p| p.os.to_string() != "unknown")
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    offered.dedup();
    Err(offered)
}

fn check_platform(image: &ImageRef, config: &ImageConfiguration) -> Result<(), ImageError> {
    if *config.os() == Os::Linux && *config.architecture() == Arch::Amd64 {
        return Ok(());
    }
    Err(ImageError::Platform {
        image: image.to_string(),
        found: format!("{}/{}", config.os(), config.architecture()),
    })
}

/// Layers with their diff ids; only tar layers (any compression).
fn layers(
    image: &ImageRef,
    manifest: &OciImageManifest,
    config: &ImageConfiguration,
) -> Result<Vec<LayerDescriptor>, ImageError> {
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Registry {
            image: image.to_string(),
            detail: format!(
                "the config lists {} layers, the manifest {}",
                diff_ids.len(),
                manifest.layers.len()
            ),
        });
    }
    manifest
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            let is_tar = l.media_type.starts_with("application/vnd.oci.image.layer.")
                || l.media_type
                    .starts_with("application/vnd.docker.image.rootfs.");
            if !is_tar {
                return Err(ImageError::Unsupported {
                    image: image.to_string(),
                    what: "layer".into(),
                    media_type: l.media_type.clone(),
                });
            }
            Ok(LayerDescriptor {
                digest: l.digest.clone(),
                media_type: l.media_type.clone(),
                size: l.size.max(0) as u64,
                diff_id: Some(diff_id.clone()),
            })
        })
        .collect()
}

/// The error and its causes, in one line (reqwest's top level says only
/// "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        cur = c.source();
    }
    s
}

pub(crate) fn map_error(e: OciDistributionError, image: &ImageRef) -> ImageError {
    let name = image.to_string();
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            let first = envelope.errors.first();
            let message = first.map(|e| e.message.clone()).unwrap_or_default();
            match first.map(|e| &e.code) {
                Some(OciErrorCode::ManifestUnknown) => ImageError::UnknownManifest {
                    image: name,
                    repository: image.repository.clone(),
                    manifest: image.manifest_ref().to_string(),
                    hint: String::new(),
                },
                Some(OciErrorCode::NameUnknown) => ImageError::UnknownRepository {
                    image: name,
                    repository: image.repository.clone(),
                },
                Some(OciErrorCode::Unauthorized) | Some(OciErrorCode::Denied) => {
                    ImageError::Unauthorized {
                        image: name,
                        detail: message,
                    }
                }
                _ => ImageError::Registry {
                    image: name,
                    detail: envelope.to_string(),
                },
            }
        }
        OciDistributionError::UnauthorizedError { url } => ImageError::Unauthorized {
            image: name,
            detail: format!("the registry refused {url}"),
        },
        OciDistributionError::AuthenticationFailure(why) => ImageError::Unauthorized {
            image: name,
            detail: format!("the token server refused: {}", why.trim()),
        },
        OciDistributionError::ServerError { code, message, url } => match code {
            401 | 403 => ImageError::Unauthorized {
                image: name,
                detail: format!("{code} from {url}"),
            },
            404 => ImageError::UnknownManifest {
                image: name,
                repository: image.repository.clone(),
                manifest: image.manifest_ref().to_string(),
                hint: String::new(),
            },
            _ => ImageError::Registry {
                image: name,
                detail: format!("{code} from {url}: {}", message.trim()),
            },
        },
        OciDistributionError::ImageManifestNotFoundError(_) => ImageError::UnknownManifest {
            image: name,
            repository: image.repository.clone(),
            manifest: image.manifest_ref().to_string(),
            hint: String::new(),
        },
        OciDistributionError::DigestError(d) => match d {
            oci_client::errors::DigestError::VerificationError { expected, actual } => {
                ImageError::DigestMismatch {
                    image: name,
                    digest: expected,
                    detail: format!("its bytes hash to {actual}"),
                }
            }
            other => ImageError::DigestMismatch {
                image: name,
                digest: String::new(),
                detail: other.to_string(),
            },
        },
        OciDistributionError::UnsupportedMediaTypeError(m) => ImageError::Unsupported {
            image: name,
            what: "manifest".into(),
            media_type: m,
        },
        // Not connected, timed out, or the connection failed while sending.
        OciDistributionError::RequestError(r)
            if r.is_connect() || r.is_timeout() || r.is_request() =>
        {
            let mut detail = chain(&r);
            if detail.contains("InvalidContentType") {
                detail.push_str(
                    " (a plain-HTTP registry? the cell speaks HTTP only to those in insecure_docker_registry_list)",
                );
            }
            ImageError::Unreachable {
                image: name,
                registry: image.endpoint().to_string(),
                detail,
            }
        }
        other => ImageError::Registry {
            image: name,
            detail: chain(&other),
        },
    }
}

/// Collects a small blob, refusing more than [`MAX_CONFIG_BYTES`].
#[derive(Default)]
struct LimitedBuf(Vec<u8>);

impl AsyncWrite for LimitedBuf {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.0.len() + buf.len() > MAX_CONFIG_BYTES {
            return Poll::Ready(Err(std::io::Error::other("config blob too large")));
        }
        self.0.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::manifest::Platform;

    fn entry(digest: &str, os: Os, arch: Arch) -> ImageIndexEntry {
        ImageIndexEntry {
            media_type: oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.into(),
            digest: digest.into(),
            size: 1,
            platform: Some(Platform {
                architecture: arch,
                os,
                os_version: None,
                os_features: None,
                variant: None,
                features: None,
            }),
            annotations: None,
            artifact_type: None,
        }
    }

    #[test]
    fn picks_linux_amd64_or_says_what_there_is() {
        let entries = vec![
            entry("sha256:arm", Os::Linux, Arch::ARM64),
            entry("sha256:amd", Os::Linux, Arch::Amd64),
            entry(
                "sha256:att",
                Os::Other("unknown".into()),
                Arch::Other("unknown".into()),
            ),
        ];
        assert_eq!(select_platform(&entries).unwrap(), "sha256:amd");
        let others = vec![
            entry("sha256:arm", Os::Linux, Arch::ARM64),
            entry("sha256:s390", Os::Linux, Arch::s390x),
            entry(
                "sha256:att",
                Os::Other("unknown".into()),
                Arch::Other("unknown".into()),
            ),
        ];
        assert_eq!(
            select_platform(&others).unwrap_err(),
            vec!["linux/arm64", "linux/s390x"]
        );
    }

    #[test]
    fn credentials_do_not_show_passwords() {
        let c = Credentials::new("user", "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_ne!(
            c.fingerprint(),
            Credentials::new("user", "other").fingerprint()
        );
        assert!(matches!(
            Credentials::default().auth(),
            RegistryAuth::Anonymous
        ));
    }
}
