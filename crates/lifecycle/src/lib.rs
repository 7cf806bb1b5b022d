//! lifecycle: the programs Cloud Foundry runs inside app containers, with
//! Diego's contract (argv, flags, files, exit codes, messages):
//!
//! - [`builder`]: stages an app with buildpacks into a droplet
//!   (buildpackapplifecycle's `builder`);
//! - [`launcher`]: starts a droplet (buildpackapplifecycle's `launcher`);
//! - [`docker_launcher`]: starts an OCI image's process
//!   (dockerapplifecycle's `launcher`).
//!
//! [`assets`] finds the build-side artifacts (stack, buildpacks, bundles)
//! for `diego dev` and the tests.
//!
//! Std only, no async runtime: the binaries are built static
//! (`scripts/build-lifecycle.sh`) and delivered to containers as Diego's
//! lifecycle bundles, so they run on any stack and in images without libc.

pub mod assets;
pub mod builder;
pub mod docker_launcher;
pub mod env;
pub mod flags;
pub mod gojson;
pub mod launcher;
