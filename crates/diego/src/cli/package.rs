//! An app directory as the `.tgz` a push uploads: deterministic (sorted
//! paths, fixed metadata), so the same tree gives the same bytes.

use anyhow::Context;
use flate2::write::GzEncoder;
use std::path::{Path, PathBuf};

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
    fn not_a_directory_is_an_error() {
        let d = tree();
        assert!(tgz(&d.path().join("index.html")).is_err());
    }
}
