//! The executor's errors, with Diego's messages.

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("container guid not available")]
    ContainerGuidNotAvailable,
    #[error("container guid not specified")]
    GuidNotSpecified,
    #[error("insufficient resources available")]
    InsufficientResourcesAvailable,
    #[error("container not found")]
    ContainerNotFound,
    #[error("container cannot transition to given state")]
    InvalidTransition,
    #[error("steps invalid: {0}")]
    StepsInvalid(String),
    /// A cached dependency could not be downloaded (the container is
    /// completed with "failed to download cached artifacts").
    #[error("failed to download cached artifacts: {0}")]
    CachedDependencies(String),
    #[error(transparent)]
    Garden(#[from] garden::GardenError),
}
