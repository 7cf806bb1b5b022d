//! The real stack and lifecycle of `diego dev`: the cflinuxfs4 rootfs
//! (built with mmdebstrap on first run, with a progress line, then reused
//! from the shared cache), offered by the cell as `preloaded:cflinuxfs4`
//! beside busybox; and the lifecycle bundles and buildpacks, published on
//! the file server for staging:
//!
//!   /v1/static/lifecycle/buildpack_app_lifecycle.tgz  (+ .sha256)
//!   /v1/static/lifecycle/docker_app_lifecycle.tgz
//!   /v1/static/buildpacks/<name>_buildpack.zip        (+ .sha256)

use super::DataDir;
use std::path::PathBuf;

pub const STACK: &str = "cflinuxfs4";

/// What `diego dev` brings up besides busybox.
#[derive(Debug, Clone, Copy, Default)]
pub struct DevOptions {
    /// Build (first run) and offer cflinuxfs4, and publish the lifecycle
    /// bundles and buildpacks.
    pub cflinuxfs4: bool,
    /// How many cells (0 and 1: one, on the host; more run in network
    /// namespaces of their own).
    pub cells: usize,
}

/// The cflinuxfs4 rootfs, built if needed; Err says why it is not offered.
pub async fn cflinuxfs4() -> Result<PathBuf, String> {
    if !lifecycle::assets::stack_is_built(STACK) {
        println!(
            "diego dev: building the {STACK} stack from Debian 12 with mmdebstrap \
             (first run only, a few minutes)..."
        );
    }
    tokio::task::spawn_blocking(|| lifecycle::assets::stack(STACK))
        .await
        .map_err(|e| e.to_string())?
}

/// Publishes the lifecycle bundles and every buildpack into the file
/// server's directory; notes on what could not be.
pub async fn publish(data: &DataDir) -> Vec<String> {
    let statics = data.static_dir();
    tokio::task::spawn_blocking(move || {
        let mut notes = Vec::new();
        match lifecycle::assets::lifecycle_bundles() {
            Ok((buildpack, docker)) => {
                for (file, name) in [
                    (buildpack, "buildpack_app_lifecycle.tgz"),
                    (docker, "docker_app_lifecycle.tgz"),
                ] {
                    if let Err(e) =
                        lifecycle::assets::publish(&file, &statics.join("lifecycle"), name)
                    {
                        notes.push(format!("lifecycle: publishing {name}: {e}"));
                    }
                }
            }
            Err(e) => notes.push(format!("lifecycle bundles: not built: {e}")),
        }
        for name in lifecycle::assets::BUILDPACKS {
            let published = lifecycle::assets::buildpack(name).and_then(|zip| {
                lifecycle::assets::publish(
                    &zip,
                    &statics.join("buildpacks"),
                    &format!("{name}_buildpack.zip"),
                )
                .map_err(|e| e.to_string())
            });
            if let Err(e) = published {
                notes.push(format!("buildpack {name}: not built: {e}"));
            }
        }
        notes
    })
    .await
    .unwrap_or_else(|e| vec![format!("publishing assets: {e}")])
}
