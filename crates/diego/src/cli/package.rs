//! An app directory as the `.tgz` the cell downloads: named by its content
//! hash, so a changed app gets a new URL (the cell's download cache is
//! keyed on it) and an unchanged push reuses the blob.

use anyhow::Context;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Packages live under `<static>/apps/`.
pub const APPS_DIR: &str = "apps";

/// Tars and gzips `dir`'s contents (paths relative to it, in sorted order
/// so the same tree gives the same bytes).
pub fn tgz(dir: &Path) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let mut entries = Vec::new();
    collect(dir, Path::new(""), &mut entries)?;
    entries.sort();
    for rel in entries {
        tar.append_path_with_name(dir.join(&rel), &rel)
            .with_context(|| format!("adding {}", rel.display()))?;
    }
    Ok(tar.into_inner()?.finish()?)
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))
        .with_context(|| format!("reading {}", root.join(rel).display()))?
    {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        out.push(path.clone());
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        }
    }
    Ok(())
}

/// The first 16 hex digits of the package's SHA-256.
pub fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Writes the package of `app` into `static_dir`; its path relative to
/// `static_dir` (what follows the file server's `/v1/static/`).
pub fn store(static_dir: &Path, app: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let rel = format!("{APPS_DIR}/{app}-{}.tgz", short_hash(bytes));
    let path = static_dir.join(&rel);
    std::fs::create_dir_all(path.parent().unwrap())
        .with_context(|| format!("creating {}", static_dir.join(APPS_DIR).display()))?;
    // Written aside and renamed, so the file server never serves half.
    let tmp = path.with_extension("tgz.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(rel)
}

/// Removes every package of `app` but `keep` (a path relative to
/// `static_dir`); the names removed.
pub fn remove_others(static_dir: &Path, app: &str, keep: Option<&str>) -> Vec<String> {
    let dir = static_dir.join(APPS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let rel = format!("{APPS_DIR}/{name}");
        if is_package_of(&name, app)
            && Some(rel.as_str()) != keep
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(rel);
        }
    }
    removed
}

/// `APP-<16 hex>.tgz`, not another app whose name starts with APP-.
fn is_package_of(name: &str, app: &str) -> bool {
    name.strip_prefix(app)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(".tgz"))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::create_dir(d.path().join("cgi-bin")).unwrap();
        std::fs::write(d.path().join("cgi-bin/env"), "#!/bin/sh\necho").unwrap();
        d
    }

    #[test]
    fn tgz_holds_the_tree_relative_to_the_directory() {
        let d = tree();
        let bytes = tgz(d.path()).unwrap();
        let mut archive = tar::Archive::new(GzDecoder::new(bytes.as_slice()));
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().to_string();
            let mut body = String::new();
            e.read_to_string(&mut body).unwrap();
            seen.push((path, body));
        }
        assert_eq!(
            seen,
            vec![
                ("cgi-bin".to_string(), String::new()),
                ("cgi-bin/env".to_string(), "#!/bin/sh\necho".to_string()),
                ("index.html".to_string(), "<h1>hi</h1>".to_string()),
            ]
        );
    }

    #[test]
    fn same_tree_same_package_changed_tree_new_name() {
        let d = tree();
        let a = tgz(d.path()).unwrap();
        let b = tgz(d.path()).unwrap();
        assert_eq!(short_hash(&a), short_hash(&b));
        std::fs::write(d.path().join("index.html"), "<h1>changed</h1>").unwrap();
        let c = tgz(d.path()).unwrap();
        assert_ne!(short_hash(&a), short_hash(&c));
    }

    #[test]
    fn store_and_remove_only_this_apps_packages() {
        let d = tree();
        let static_dir = tempfile::tempdir().unwrap();
        let bytes = tgz(d.path()).unwrap();
        let rel = store(static_dir.path(), "hello", &bytes).unwrap();
        assert!(rel.starts_with("apps/hello-") && rel.ends_with(".tgz"));
        assert_eq!(std::fs::read(static_dir.path().join(&rel)).unwrap(), bytes);
        let other = store(static_dir.path(), "hello-world", &bytes).unwrap();
        let old = store(static_dir.path(), "hello", b"old").unwrap();
        assert_eq!(
            remove_others(static_dir.path(), "hello", Some(&rel)),
            vec![old]
        );
        assert_eq!(
            remove_others(static_dir.path(), "hello", None),
            vec![rel.clone()]
        );
        assert!(static_dir.path().join(other).exists());
    }

    #[test]
    fn not_a_directory_is_an_error() {
        let d = tree();
        assert!(tgz(&d.path().join("index.html")).is_err());
    }
}
