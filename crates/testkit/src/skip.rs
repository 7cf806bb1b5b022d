//! The one way a test skips. A test whose prerequisite (root, runc,
//! nats-server, busybox, PostgreSQL, the conformance corpus, ...) is
//! missing calls [`skip`] (or the [`skip_if!`](crate::skip_if) macro) and
//! returns. The skip is:
//! - said on stderr (`SKIPPED <test>: <why>`);
//! - appended to the file named by `DIEGO_SKIP_LOG`, which
//!   `scripts/test.sh` sets, so its total line counts the test as skipped,
//!   not passed (cargo only knows passed, failed and ignored);
//! - a failure instead when `DIEGO_REQUIRE_PREREQS=1` (CI sets it), so a
//!   run that quietly tested less than it should cannot look green.

use std::io::Write;

/// Set to `1`: every missing prerequisite fails its test.
pub const REQUIRE_ENV: &str = "DIEGO_REQUIRE_PREREQS";
/// A file each skip appends one line to (`binary::test: why`).
pub const LOG_ENV: &str = "DIEGO_SKIP_LOG";

/// Are missing prerequisites failures (`DIEGO_REQUIRE_PREREQS=1`)?
pub fn required() -> bool {
    matches!(std::env::var(REQUIRE_ENV).as_deref(), Ok("1") | Ok("true"))
}

/// Records that the calling test skips because of `why`, or panics when
/// prerequisites are required. The caller returns right after.
pub fn skip(why: &str) {
    let log = std::env::var_os(LOG_ENV).map(std::path::PathBuf::from);
    record(&current_test(), why, required(), log.as_deref());
}

/// As [`skip`], but never a failure: for a prerequisite the run was told
/// it may lack (CI without the conformance corpus beside its checkout).
pub fn skip_allowed(why: &str) {
    let log = std::env::var_os(LOG_ENV).map(std::path::PathBuf::from);
    record(&current_test(), why, false, log.as_deref());
}

fn record(test: &str, why: &str, required: bool, log: Option<&std::path::Path>) {
    if required {
        panic!("{test}: missing prerequisite: {why} ({REQUIRE_ENV}=1 makes this a failure)");
    }
    eprintln!("SKIPPED {test}: {why}");
    if let Some(path) = log {
        // One short O_APPEND write per skip: lines from tests running in
        // parallel (threads or binaries) do not interleave.
        let line = format!("{test}: {}\n", why.replace('\n', " "));
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// `binary::test` for the calling test: libtest names each test's thread
/// after the test, and the binary is the test target (minus cargo's hash).
fn current_test() -> String {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unknown-test");
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => s,
        })
        .unwrap_or_default();
    format!("{binary}::{test}")
}

/// What a skipped test returns: nothing, or a successful empty result.
pub trait Skipped {
    fn skipped() -> Self;
}

impl Skipped for () {
    fn skipped() -> Self {}
}

impl<E> Skipped for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
}

/// `skip_if!(reason)`: when `reason` (an `Option` of something `Display`)
/// is `Some`, records the skip and returns from the test.
#[macro_export]
macro_rules! skip_if {
    ($reason:expr) => {
        if let Some(why) = $reason {
            $crate::skip::skip(&why.to_string());
            return $crate::skip::Skipped::skipped();
        }
    };
}

/// Why a test needing root can't run here, if it can't.
pub fn not_root() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    (unsafe { geteuid() } != 0)
        .then(|| "not root (real containers and kernel objects need it)".into())
}

/// Why a test needing each of `programs` on PATH can't run, if it can't.
pub fn missing_programs(programs: &[&str]) -> Option<String> {
    programs
        .iter()
        .find(|p| !on_path(p))
        .map(|p| format!("{p} not found on PATH (scripts/install-deps.sh installs it)"))
}

/// Is `program` an executable file in a directory of PATH?
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

extern "C" {
    fn geteuid() -> u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_and_names_missing_ones() {
        assert!(on_path("sh"));
        assert!(!on_path("no-such-program-here"));
        let why = missing_programs(&["sh", "no-such-program-here"]).unwrap();
        assert!(why.contains("no-such-program-here"), "{why}");
        assert_eq!(missing_programs(&["sh"]), None);
    }

    #[test]
    fn a_skip_is_logged_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skips");
        record("bin::a", "no runc", false, Some(&log));
        record("bin::b", "two\nlines", false, Some(&log));
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "bin::a: no runc\nbin::b: two lines\n"
        );
    }

    #[test]
    #[should_panic(expected = "bin::a: missing prerequisite: no runc")]
    fn a_required_prerequisite_fails_the_test() {
        record("bin::a", "no runc", true, None);
    }

    fn returns_early(reason: Option<&str>) -> Result<u32, ()> {
        if let Some(why) = reason {
            record("bin::c", why, false, None);
            return Err(());
        }
        Ok(1)
    }

    #[test]
    fn skip_if_returns_only_with_a_reason() {
        fn unit(reason: Option<&str>, ran: &mut bool) {
            if reason.is_some() && required() {
                return; // under DIEGO_REQUIRE_PREREQS=1 skip_if! would panic
            }
            crate::skip_if!(reason);
            *ran = true;
        }
        let mut ran = false;
        unit(None, &mut ran);
        assert!(ran);
        let mut ran = false;
        unit(Some("absent"), &mut ran);
        assert!(!ran);
        assert_eq!(returns_early(None), Ok(1));
        assert_eq!(returns_early(Some("x")), Err(()));
    }

    #[test]
    fn names_the_current_test() {
        let name = current_test();
        assert!(
            name.ends_with("::skip::tests::names_the_current_test"),
            "{name}"
        );
        assert!(name.starts_with("testkit::"), "{name}");
    }
}
