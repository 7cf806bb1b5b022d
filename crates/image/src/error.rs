//! What can go wrong getting an image, worded for the operator who reads it
//! as an instance's crash reason. Clone: one failed layer pull is reported
//! to every container that waited for it.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    /// The repository is not in the registry.
    #[error("image {image} not found: the registry has no repository {repository}")]
    UnknownRepository { image: String, repository: String },
    /// The repository exists, the tag or digest does not.
    #[error(
        "image {image} not found: the registry has no manifest {manifest} in {repository}{hint}"
    )]
    UnknownManifest {
        image: String,
        repository: String,
        manifest: String,
        /// What the repository does have (" (its tags: ...)"), if known.
        hint: String,
    },
    #[error("not authorized to pull {image} (check the image username and password): {detail}")]
    Unauthorized { image: String, detail: String },
    #[error("registry {registry} unreachable pulling {image}: {detail}")]
    Unreachable {
        image: String,
        registry: String,
        detail: String,
    },
    /// A blob's bytes do not hash to the digest that names it.
    #[error("corrupt blob {digest} in {image}: {detail}")]
    DigestMismatch {
        image: String,
        digest: String,
        detail: String,
    },
    #[error("image {image} is for {found}, this cell runs linux/amd64")]
    Platform { image: String, found: String },
    #[error("image {image}: unsupported {what} {media_type:?}")]
    Unsupported {
        image: String,
        what: String,
        media_type: String,
    },
    /// A layer's archive is malformed or tries to write outside the layer.
    #[error("image {image}: layer {digest}: {detail}")]
    BadLayer {
        image: String,
        digest: String,
        detail: String,
    },
    /// The layers unpack to more than the cell allows one image (a
    /// decompression bomb, or just too big); what was unpacked is gone.
    #[error("image {image} unpacks to more than the {limit_mb} MB an image may take on this cell")]
    TooLarge { image: String, limit_mb: u64 },
    #[error("invalid image config: {0}")]
    InvalidConfig(String),
    #[error("registry error pulling {image}: {detail}")]
    Registry { image: String, detail: String },
    #[error("image store: {0}")]
    Store(String),
}

impl ImageError {
    pub(crate) fn store(context: &str, e: impl std::fmt::Display) -> Self {
        ImageError::Store(format!("{context}: {e}"))
    }

    /// The registry could not be asked (rather than answering no): a
    /// cached answer may stand in.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ImageError::Unreachable { .. })
    }
}
