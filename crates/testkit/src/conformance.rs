//! Where the conformance corpus (Diego's own bbs/cfdot exchanges) lives.
//!
//! It sits beside the repository in `shared/conformance/bbs`, not in it, so
//! a checkout without it skips the replays and says so rather than failing.

use std::path::PathBuf;

/// The corpus directory: `DIEGO_CONFORMANCE_DIR` if set, else
/// `../shared/conformance/bbs` beside the repository. `None` (with a line on
/// stderr saying why the replay is skipped) when it is not there, unless
/// `DIEGO_REQUIRE_CONFORMANCE=1`, which makes its absence a failure.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DIEGO_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bbs"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("DIEGO_REQUIRE_CONFORMANCE").as_deref() == Ok("1") {
        panic!("conformance corpus not found at {}", dir.display());
    }
    eprintln!(
        "SKIPPED: conformance corpus not found at {} (set DIEGO_CONFORMANCE_DIR to replay it)",
        dir.display()
    );
    None
}
