//! Preloaded rootfs directories shifted into the unprivileged id map: a
//! copy whose every file is owned by the host ids its owner maps to, made
//! once per (rootfs, map) and shared by every unprivileged container as the
//! lower layer of its overlay (Garden's image plugin does the same).
//!
//! The copy is made in a temporary directory and renamed into place when
//! complete, so a crash midway leaves nothing that looks finished. It is
//! made again when the source directory is replaced (its inode or mtime
//! changes). Extended attributes are not copied: file capabilities written
//! by host root would not apply in the user namespace anyway.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::api::GardenError;
use crate::idmap::IdMap;

const STAMP: &str = ".garden-shifted";

/// The shifted copy of `src` (named `name`) in `cache`, made if missing or
/// stale. Blocking; callers serialize calls for one cache.
pub fn shifted_rootfs(
    cache: &Path,
    name: &str,
    src: &Path,
    map: &IdMap,
) -> Result<PathBuf, GardenError> {
    let dir = cache.join(format!("{name}@{}", map.key()));
    let rootfs = dir.join("rootfs");
    let stamp = stamp_of(src)?;
    if std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == stamp) {
        return Ok(rootfs);
    }
    let started = std::time::Instant::now();
    let tmp = cache.join(format!(".{name}@{}.tmp", map.key()));
    remove_if_exists(&tmp)?;
    std::fs::create_dir_all(&tmp)?;
    let mut links = HashMap::new();
    copy_tree(src, &tmp.join("rootfs"), map, &mut links)?;
    std::fs::write(tmp.join(STAMP), &stamp)?;
    remove_if_exists(&dir)?;
    std::fs::rename(&tmp, &dir)?;
    tracing::info!(
        rootfs = name,
        map = %map.key(),
        ms = started.elapsed().as_millis() as u64,
        "shifted rootfs made"
    );
    Ok(rootfs)
}

/// Identifies the source directory as it is now.
fn stamp_of(src: &Path) -> Result<String, GardenError> {
    let m = std::fs::metadata(src).map_err(|e| {
        GardenError::InvalidSpec(format!("preloaded rootfs {}: {e}", src.display()))
    })?;
    Ok(format!(
        "{}\n{} {} {}.{}\n",
        src.display(),
        m.dev(),
        m.ino(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

fn remove_if_exists(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn cpath(p: &Path) -> Result<CString, GardenError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| GardenError::InvalidSpec(format!("path with NUL: {}", p.display())))
}

/// Copies `src` to `dst` (which must not exist), owners shifted by `map`.
/// Hard links within the tree stay hard links (`links`: (dev, inode) of a
/// source file -> its first copy).
fn copy_tree(
    src: &Path,
    dst: &Path,
    map: &IdMap,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), GardenError> {
    let meta = std::fs::symlink_metadata(src)?;
    let ft = meta.file_type();
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        std::fs::create_dir(dst)?;
        let mut entries: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &dst.join(e.file_name()), map, links)?;
        }
    } else if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)?;
    } else if ft.is_file() {
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                std::fs::hard_link(first, dst)?;
                return Ok(());
            }
            links.insert((meta.dev(), meta.ino()), dst.to_path_buf());
        }
        std::fs::copy(src, dst)?;
    } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() || ft.is_socket() {
        let c = cpath(dst)?;
        // SAFETY: c is a valid path; mode and rdev come from the source.
        if unsafe { libc::mknod(c.as_ptr(), meta.mode(), meta.rdev()) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
    }
    let c = cpath(dst)?;
    // SAFETY: c is a valid path; lchown never follows a symlink.
    if unsafe { libc::lchown(c.as_ptr(), map.to_host(meta.uid()), map.to_host(meta.gid())) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    if !ft.is_symlink() {
        // After chown, which clears the set-id bits.
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let times = [
        libc::timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        libc::timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    ];
    // SAFETY: c is a valid path, times an array of two timespecs.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_with_owners_shifted_made_once() {
        testkit::skip_if!(testkit::skip::not_root());
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("home/vcap")).unwrap();
        std::fs::write(src.join("home/vcap/app"), "x").unwrap();
        std::fs::hard_link(src.join("home/vcap/app"), src.join("home/vcap/link")).unwrap();
        std::os::unix::fs::symlink("/home/vcap/app", src.join("sym")).unwrap();
        std::fs::write(src.join("setuid"), "s").unwrap();
        std::fs::set_permissions(src.join("setuid"), PermissionsExt::from_mode(0o4755)).unwrap();
        crate::rootfs::chown(&src.join("home/vcap"), 2000, 2000).unwrap();
        crate::rootfs::chown(&src.join("home/vcap/app"), 2000, 2000).unwrap();
        let map = IdMap {
            host_base: 500_000,
            size: 65_536,
        };
        let cache = t.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let out = shifted_rootfs(&cache, "bb", &src, &map).unwrap();
        let m = |p: &str| std::fs::symlink_metadata(out.join(p)).unwrap();
        assert_eq!(
            (m("home/vcap").uid(), m("home/vcap").gid()),
            (502_000, 502_000)
        );
        assert_eq!(m("home/vcap/app").uid(), 502_000);
        assert_eq!(m("home").uid(), 500_000);
        assert_eq!(m("sym").uid(), 500_000);
        assert!(m("sym").file_type().is_symlink());
        assert_eq!(m("home/vcap/link").ino(), m("home/vcap/app").ino());
        assert_eq!(m("setuid").mode() & 0o7777, 0o4755);
        assert_eq!(
            std::fs::read_to_string(out.join("home/vcap/app")).unwrap(),
            "x"
        );

        // Made once: a second call finds it (a marker inside survives).
        std::fs::write(out.join("marker"), "").unwrap();
        let again = shifted_rootfs(&cache, "bb", &src, &map).unwrap();
        assert!(again.join("marker").exists());
        // A replaced source is copied again.
        std::fs::write(src.join("new"), "n").unwrap();
        let stamp = std::fs::metadata(&src).unwrap();
        assert!(stamp.mtime() > 0);
        let again = shifted_rootfs(&cache, "bb", &src, &map).unwrap();
        assert!(again.join("new").exists() && !again.join("marker").exists());
    }
}
