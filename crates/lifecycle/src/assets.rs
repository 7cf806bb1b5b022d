//! Where the build-side artifacts come from: the stack rootfs
//! (`stacks/<stack>.sh`), the buildpack zips (`buildpacks/build.sh`) and
//! the lifecycle bundles (`scripts/build-lifecycle.sh`). Each script builds
//! into a shared cache directory once and prints the path; later calls
//! reuse it. `diego dev` and the tests' fixtures both go through here, so
//! a machine builds each artifact once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The buildpacks shipped with the project, in Cloud Foundry's default
/// detection order (a Staticfile before a package.json, binary last: it
/// never detects).
pub const BUILDPACKS: [&str; 4] = ["staticfile", "nodejs", "python", "binary"];

/// The cache every artifact is built into: $DIEGO_CACHE_DIR, else
/// $XDG_CACHE_HOME/diego, else ~/.cache/diego.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DIEGO_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("diego");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache").join("diego")
}

/// The source tree these scripts live in (this crate's, two levels up);
/// None when the binary runs away from its checkout.
pub fn repo_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("stacks")
        .is_dir()
        .then(|| root.canonicalize().unwrap_or(root))
}

/// Runs a build script; the path it prints last. Its progress goes to our
/// stderr.
fn run(script: &Path, args: &[&str]) -> Result<PathBuf, String> {
    if !script.is_file() {
        return Err(format!("{} not found", script.display()));
    }
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .env("DIEGO_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", script.display(), out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .last()
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| p.exists())
        .ok_or_else(|| format!("{} printed no path", script.display()))
}

fn repo() -> Result<PathBuf, String> {
    repo_root().ok_or_else(|| "the source tree (stacks/, buildpacks/) is not here".to_string())
}

/// The stack's rootfs directory (`stack`: "cflinuxfs4"), built on first
/// use (minutes: mmdebstrap downloads and installs Debian packages).
pub fn stack(stack: &str) -> Result<PathBuf, String> {
    run(&repo()?.join("stacks").join(format!("{stack}.sh")), &[])
}

/// Whether the stack is built already (no build started).
pub fn stack_is_built(stack: &str) -> bool {
    let dir = cache_dir().join("stacks");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(&format!("{stack}-"))
                    && !name.contains(".tmp")
                    && e.path().join("built").exists()
            })
        })
        .unwrap_or(false)
}

/// A buildpack's zip (`name`: "python"), its runtime vendored.
pub fn buildpack(name: &str) -> Result<PathBuf, String> {
    run(&repo()?.join("buildpacks").join("build.sh"), &[name])
}

/// `buildpack_app_lifecycle.tgz` and `docker_app_lifecycle.tgz` (built with
/// cargo from this tree).
pub fn lifecycle_bundles() -> Result<(PathBuf, PathBuf), String> {
    let script = repo()?.join("scripts").join("build-lifecycle.sh");
    // It prints both; the last line is the docker one.
    let docker = run(&script, &[])?;
    let buildpack = docker.with_file_name("buildpack_app_lifecycle.tgz");
    if !buildpack.exists() {
        return Err(format!("{} not built", buildpack.display()));
    }
    Ok((buildpack, docker))
}

/// Copies `file` to `dir/name` (when it differs) with its SHA-256 beside it
/// as `name.sha256`; the hex SHA-256. How `diego dev` publishes the
/// bundles and buildpacks on its file server.
pub fn publish(file: &Path, dir: &Path, name: &str) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(name);
    let same = std::fs::read(&target).ok() == Some(std::fs::read(file)?);
    if !same {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::copy(file, &tmp)?;
        std::fs::rename(&tmp, &target)?;
    }
    let sum = sha256_hex(&std::fs::read(&target)?);
    std::fs::write(dir.join(format!("{name}.sha256")), &sum)?;
    Ok(sum)
}

/// SHA-256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_inputs() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            sha256_hex(&long),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn publish_copies_once_with_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("bundle.tgz");
        std::fs::write(&src, b"abc").unwrap();
        let out = dir.path().join("static/lifecycle");
        let sum = publish(&src, &out, "buildpack_app_lifecycle.tgz").unwrap();
        assert_eq!(sum, sha256_hex(b"abc"));
        assert_eq!(
            std::fs::read_to_string(out.join("buildpack_app_lifecycle.tgz.sha256")).unwrap(),
            sum
        );
        assert!(repo_root().is_some());
        assert!(cache_dir().ends_with("diego") || std::env::var_os("DIEGO_CACHE_DIR").is_some());
    }
}
