//! image: OCI images on a cell, in the role grootfs has in Cloud Foundry.
//!
//! - [`ImageRef`]: `docker://HOST/REPO#TAG` (Diego's rootfs URL) and
//!   `[REGISTRY/]REPO[:TAG|@DIGEST]` (Docker's), Docker Hub's defaults.
//! - [`RegistryClient`]: the OCI Distribution API v2 through oci-client
//!   (indexes, Docker schema 2 and OCI manifests, token and basic auth,
//!   plain HTTP only for the registries listed insecure, every blob
//!   checked against its digest).
//! - [`LayerStore`]: each layer fetched and unpacked once, shared
//!   read-only by all containers, concurrent fetches coalesced, leases per
//!   container, LRU removal of unused layers above a size cap.
//! - [`unpack`]: layer tarballs unpacked without leaving the layer
//!   (openat2 RESOLVE_IN_ROOT), OCI whiteouts as overlayfs's, ids shifted
//!   for user namespaces.
//! - [`ImageService`]: the above together: pull an image for a container.
//! - [`metadata`]: dockerapplifecycle's execution metadata from a config.

mod error;
mod idmap;
mod insecure;
pub mod metadata;
mod reference;
mod registry;
mod service;
pub mod store;
pub mod unpack;

pub use error::ImageError;
pub use idmap::{IdMapping, IdShift};
pub use insecure::{InsecureRegistries, LOOPBACK};
pub use oci_spec::image::ImageConfiguration;
pub use reference::{ImageRef, DOCKER_HUB, DOCKER_HUB_ENDPOINT};
pub use registry::{select_platform, Credentials, LayerDescriptor, RegistryClient, ResolvedImage};
pub use service::{ImageService, ImageServiceConfig, PulledImage, DEFAULT_MAX_IMAGE_BYTES};
pub use store::{LayerKey, LayerStore, PinnedLayer, StoreUsage};
