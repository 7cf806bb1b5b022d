//! The real stack and lifecycle artifacts for tests that stage apps: the
//! cflinuxfs4 rootfs (mmdebstrap; minutes the first time on a machine,
//! then reused from the shared cache), the buildpack zips and the static
//! lifecycle bundles. Each is built at most once per test process and once
//! per machine (the scripts cache under ~/.cache/diego). Err says why this
//! machine cannot build it: the test skips with it (see [`crate::skip`]).

use std::path::PathBuf;
use std::sync::OnceLock;

pub const STACK: &str = "cflinuxfs4";

/// The cflinuxfs4 rootfs directory.
pub fn cflinuxfs4() -> Result<PathBuf, String> {
    static STACK_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    STACK_DIR
        .get_or_init(|| {
            if let Some(why) =
                crate::skip::not_root().or_else(|| crate::skip::missing_programs(&["mmdebstrap"]))
            {
                return Err(format!("cannot build the {STACK} stack: {why}"));
            }
            if !lifecycle::assets::stack_is_built(STACK) {
                eprintln!("building the {STACK} stack once for this machine (a few minutes)...");
            }
            lifecycle::assets::stack(STACK)
        })
        .clone()
}

/// A buildpack zip by name ("python", "staticfile", "binary", "nodejs").
pub fn buildpack(name: &str) -> Result<PathBuf, String> {
    if let Some(why) = crate::skip::missing_programs(&["zip", "apt-get", "dpkg-deb"]) {
        return Err(format!("cannot build the {name} buildpack: {why}"));
    }
    lifecycle::assets::buildpack(name)
}

/// `buildpack_app_lifecycle.tgz` (and the docker one beside it).
pub fn lifecycle_bundle() -> Result<PathBuf, String> {
    static BUNDLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| lifecycle::assets::lifecycle_bundles().map(|(buildpack, _)| buildpack))
        .clone()
}
