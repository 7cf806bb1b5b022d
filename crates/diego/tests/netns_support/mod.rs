//! Runc cells in network namespaces of their own (up to three, one zone
//! each), with the control plane in the test process on the host side of
//! a test bridge.

#![allow(dead_code)]

pub mod cell;
pub mod control;
pub mod leftovers;
pub mod net;
pub mod processes;
pub mod work;

use std::path::Path;

/// In the name of the test's temporary directory: a later run finds what
/// a killed run left (mounts, the directory itself) by it.
pub const DIR_PREFIX: &str = "dgt-netns-cells";

/// The cells' backend tags.
pub const TAGS: [&str; 3] = ["dga", "dgb", "dgc"];

/// Why the cells cannot run here, if they cannot: the runc backend's
/// needs, and the tools the test drives the namespaces with.
pub fn skip_reason() -> Option<String> {
    garden::runc_unavailable().or_else(|| testkit::skip::missing_programs(&["nsenter", "umount"]))
}

/// Removes the backends' leftovers when dropped (after the reps were
/// killed, before the network goes); [`Sweep::new`] first removes a
/// killed run's.
pub struct Sweep {
    marker: String,
}

impl Sweep {
    pub fn new(dir: &Path) -> Sweep {
        leftovers::sweep(&TAGS, DIR_PREFIX);
        let tmp = std::env::temp_dir();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(DIR_PREFIX) && e.path() != dir {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Sweep {
            marker: dir.display().to_string(),
        }
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        leftovers::sweep(&TAGS, &self.marker);
    }
}

#[allow(unused_imports)] // not every test binary uses it
pub use testkit::eventually;
