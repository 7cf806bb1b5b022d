//! Where the conformance corpus (Diego's own bbs/cfdot exchanges) lives.
//!
//! It sits beside the repository in `shared/conformance/bbs`, not in it, so
//! a checkout without it skips the replays and says so rather than failing.

use std::path::PathBuf;

/// The corpus directory: `DIEGO_CONFORMANCE_DIR` if set, else
/// `../shared/conformance/bbs` beside the repository. `None` (the calling
/// test recorded as skipped, see [`crate::skip`]) when it is not there;
/// `DIEGO_REQUIRE_PREREQS=1` (or the older `DIEGO_REQUIRE_CONFORMANCE=1`)
/// makes its absence a failure, unless `DIEGO_CONFORMANCE_OPTIONAL=1`
/// (`.ci/run` sets it when the corpus is not beside the checkout).
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DIEGO_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bbs"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!(
        "conformance corpus not found at {} (set DIEGO_CONFORMANCE_DIR to replay it)",
        dir.display()
    );
    if std::env::var("DIEGO_REQUIRE_CONFORMANCE").as_deref() == Ok("1") {
        panic!("{why}");
    }
    if std::env::var("DIEGO_CONFORMANCE_OPTIONAL").as_deref() == Ok("1") {
        crate::skip::skip_allowed(&why);
    } else {
        crate::skip::skip(&why);
    }
    None
}
