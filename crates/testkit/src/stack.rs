//! The real stack and lifecycle artifacts for tests that stage apps: the
//! cflinuxfs4 rootfs (mmdebstrap; minutes the first time on a machine,
//! then reused from the shared cache), the buildpack zips and the static
//! lifecycle bundles. Each is built at most once per test process and once
//! per machine (the scripts cache under ~/.cache/diego); None, with a
//! SKIPPED line saying why, where this machine cannot build them.

use std::path::PathBuf;
use std::sync::OnceLock;

pub const STACK: &str = "cflinuxfs4";

fn once(
    cell: &'static OnceLock<Result<PathBuf, String>>,
    build: impl FnOnce() -> Result<PathBuf, String>,
) -> Result<PathBuf, String> {
    cell.get_or_init(build).clone()
}

fn or_skip<T>(what: &str, r: Result<T, String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(why) => {
            eprintln!("SKIPPED: cannot build {what}: {why}");
            None
        }
    }
}

/// The cflinuxfs4 rootfs directory.
pub fn cflinuxfs4() -> Option<PathBuf> {
    static STACK_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = once(&STACK_DIR, || {
        if effective_uid() != 0 {
            return Err("not root (mmdebstrap and runc containers need it)".into());
        }
        if !on_path("mmdebstrap") {
            return Err("mmdebstrap is not installed (scripts/install-deps.sh installs it)".into());
        }
        if !lifecycle::assets::stack_is_built(STACK) {
            eprintln!("building the {STACK} stack once for this machine (a few minutes)...");
        }
        lifecycle::assets::stack(STACK)
    });
    or_skip("the cflinuxfs4 stack", r)
}

/// A buildpack zip by name ("python", "staticfile", "binary", "nodejs").
pub fn buildpack(name: &str) -> Option<PathBuf> {
    or_skip(
        &format!("the {name} buildpack"),
        lifecycle::assets::buildpack(name),
    )
}

/// `buildpack_app_lifecycle.tgz` (and the docker one beside it).
pub fn lifecycle_bundle() -> Option<PathBuf> {
    static BUNDLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = once(&BUNDLE, || {
        lifecycle::assets::lifecycle_bundles().map(|(buildpack, _)| buildpack)
    });
    or_skip("the lifecycle bundles", r)
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        || ["/usr/sbin", "/sbin", "/usr/bin"]
            .iter()
            .any(|d| std::path::Path::new(d).join(bin).is_file())
}

fn effective_uid() -> u32 {
    // /proc/self/status: "Uid: real effective saved fs".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
