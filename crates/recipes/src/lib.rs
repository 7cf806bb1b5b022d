//! recipes: what Cloud Controller builds for Diego when a user pushes an
//! app (Cloud Controller's `StagingActionBuilder`, `TaskRecipeBuilder`,
//! `AppRecipeBuilder` and buildpack `DesiredLrpBuilder`), as a library for
//! the app API:
//!
//! - [`staging::staging_task`]: the `cf-app-staging` Task that downloads the
//!   package (and the previous build cache), runs the lifecycle's
//!   `builder` and uploads the droplet and the new build cache;
//! - [`staging::StagingOutcome`]: reads the finished Task (result.json, or
//!   the failure as Cloud Controller names it: NoAppDetectedError, ...);
//! - [`lrp::buildpack_desired_lrp`]: the DesiredLRP that downloads the
//!   droplet and runs it with the `launcher`, with the environment every
//!   app sees ([`env`]: PORT, VCAP_APPLICATION, VCAP_SERVICES,
//!   MEMORY_LIMIT, LANG, ...).
//!
//! Kept apart from the `lifecycle` binaries, which must not link models.

pub mod actions;
pub mod constants;
pub mod env;
pub mod lrp;
pub mod staging;

pub use constants::*;
pub use env::{AppFacts, EnvVar};
pub use lrp::{buildpack_desired_lrp, AppRequest, HealthCheck};
pub use staging::{
    staging_task, Buildpack, Download, StagingFailure, StagingOutcome, StagingRequest,
};
