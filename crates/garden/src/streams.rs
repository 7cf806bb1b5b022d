//! Tar streams into and out of a container's root filesystem, done from
//! the host with every path resolved inside the container's root.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::api::GardenError;
use crate::rootfs::{chown, resolve_in_root, User};

/// Extracts `tar` into `dst` (inside `root`), creating it, and gives every
/// extracted entry (and a created `dst`) to `user`.
pub fn stream_in(root: &Path, dst: &str, user: &User, tar: impl Read) -> Result<(), GardenError> {
    let target = resolve_in_root(root, dst)?;
    if !target.exists() {
        create_dirs_owned(root, &target, user)?;
    }
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = sanitized(&entry.path()?);
        if entry.unpack_in(&target)? {
            if let Some(rel) = rel {
                chown(&target.join(rel), user.uid, user.gid)?;
            }
        }
    }
    Ok(())
}

fn create_dirs_owned(root: &Path, target: &Path, user: &User) -> Result<(), GardenError> {
    let mut missing = Vec::new();
    let mut p = target.to_path_buf();
    while !p.exists() && p.starts_with(root) && p != root {
        missing.push(p.clone());
        if !p.pop() {
            break;
        }
    }
    std::fs::create_dir_all(target)?;
    for d in missing {
        chown(&d, user.uid, user.gid)?;
    }
    Ok(())
}

/// The entry's path as `unpack_in` will place it (None when it is
/// skipped or is the destination itself).
fn sanitized(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// A tar of `src`: a file or directory appears under its own name; with a
/// trailing slash a directory's contents appear at the top (as Garden's
/// StreamOut does).
pub fn stream_out(root: &Path, src: &str) -> Result<Vec<u8>, GardenError> {
    let path = resolve_in_root(root, src)?;
    let meta = std::fs::symlink_metadata(&path)
        .map_err(|_| GardenError::InvalidSpec(format!("{src}: no such file or directory")))?;
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let name = Path::new(src)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    if meta.is_dir() {
        let top = if src.ends_with('/') {
            PathBuf::from(".")
        } else {
            name
        };
        builder.append_dir_all(top, &path)?;
    } else {
        builder.append_path_with_name(&path, name)?;
    }
    Ok(builder.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_content_and_owner() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("app/bin")).unwrap();
        std::fs::write(src.path().join("app/bin/run"), "#!/bin/sh\necho hi\n").unwrap();
        let tar = stream_out(src.path(), "/app").unwrap();

        let dst = tempfile::tempdir().unwrap();
        let user = User {
            name: "u".into(),
            uid: 4321,
            gid: 4321,
            home: "/".into(),
        };
        stream_in(dst.path(), "/home/u", &user, &tar[..]).unwrap();
        let file = dst.path().join("home/u/app/bin/run");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        use std::os::unix::fs::MetadataExt;
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(std::fs::metadata(&file).unwrap().uid(), 4321);
            assert_eq!(
                std::fs::metadata(dst.path().join("home/u")).unwrap().uid(),
                4321
            );
        }
    }

    #[test]
    fn entries_cannot_climb_out() {
        assert_eq!(sanitized(Path::new("../etc/passwd")), None);
        assert_eq!(sanitized(Path::new("./a/b")), Some(PathBuf::from("a/b")));
    }
}
