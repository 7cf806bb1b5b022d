//! Tar streams into and out of a live container's root filesystem, done
//! from the host as root. Every path is resolved inside the container's
//! root and every file is made or read through a directory fd and one name
//! with NOFOLLOW (see `inroot`), so a container swapping a directory for a
//! symlink mid-stream can neither make us write outside its root nor read
//! the host's files into the stream.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::api::GardenError;
use crate::idmap::IdMap;
use crate::inroot::{self, cstr, InRoot};

/// Extracts `tar` into `dst` (inside `root`), creating it, and gives every
/// extracted entry (and every directory created on the way) to `owner`
/// (host uid, gid). Devices are skipped; entries climbing out with `..`
/// too, as the tar crate's `unpack_in` skips them.
pub fn stream_in(
    root: &Path,
    dst: &str,
    owner: (u32, u32),
    tar: impl Read,
) -> Result<(), GardenError> {
    let ir = InRoot::open(root)?;
    let dst = inroot::relative(dst);
    ir.make_dirs(&dst, owner)?;
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(rel) = sanitized(&entry.path()?) else {
            continue;
        };
        let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = cstr(rel.file_name().expect("a normal last component"))?;
        let dir = ir.make_dirs(&dst.join(parent), owner)?;
        unpack(&ir, &dst, dir.as_fd(), &name, &mut entry, owner)?;
    }
    Ok(())
}

/// Removes whatever is at `name` unless it is a directory and `keep_dir`.
fn clear(dir: BorrowedFd<'_>, name: &CString, keep_dir: bool) -> Result<bool, GardenError> {
    match inroot::stat_at(dir, name) {
        Ok(st) => {
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if is_dir && keep_dir {
                return Ok(true);
            }
            inroot::unlink_at(dir, name, is_dir)?;
            Ok(false)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn unpack<R: Read>(
    ir: &InRoot,
    dst: &Path,
    dir: BorrowedFd<'_>,
    name: &CString,
    entry: &mut tar::Entry<'_, R>,
    owner: (u32, u32),
) -> Result<(), GardenError> {
    use tar::EntryType as T;
    let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
    let kind = entry.header().entry_type();
    match kind {
        T::Directory => {
            let exists = clear(dir, name, true)?;
            if !exists {
                // SAFETY: dir open, name valid.
                if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o700) } != 0 {
                    return Err(std::io::Error::last_os_error().into());
                }
            }
            inroot::chown_at(dir, name, owner)?;
            let d = inroot::open_at(
                dir,
                name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            )?;
            fchmod(d.as_fd(), mode)?;
        }
        T::Regular | T::Continuous | T::GNUSparse => {
            clear(dir, name, false)?;
            let f = inroot::open_at(
                dir,
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            )?;
            let mut file = std::fs::File::from(f);
            std::io::copy(entry, &mut file)?;
            // SAFETY: fchown on our open file.
            if unsafe { libc::fchown(file.as_raw_fd(), owner.0, owner.1) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            // After chown, which clears the set-id bits.
            fchmod(file.as_fd(), mode)?;
            if let Ok(mtime) = entry.header().mtime() {
                let t = libc::timespec {
                    tv_sec: mtime as libc::time_t,
                    tv_nsec: 0,
                };
                // SAFETY: two timespecs for our open file.
                unsafe { libc::futimens(file.as_raw_fd(), [t, t].as_ptr()) };
            }
        }
        T::Symlink => {
            let target = entry
                .link_name()?
                .ok_or_else(|| GardenError::InvalidSpec("symlink without a target".into()))?;
            let target = cstr(target.as_os_str())?;
            clear(dir, name, false)?;
            // SAFETY: dir open, target and name valid. A symlink's target
            // is only text: it is resolved (in the root) when used.
            if unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            inroot::chown_at(dir, name, owner)?;
        }
        T::Link => {
            let Some(target) = entry.link_name()?.and_then(|t| sanitized(&t)) else {
                return Ok(());
            };
            // The link's target is a path in the archive: under dst.
            let from = ir.resolve(&dst.join(target).to_string_lossy())?;
            clear(dir, name, false)?;
            // SAFETY: both fds open; AT_EMPTY_PATH links the inode `from`
            // refers to (no path is walked).
            if unsafe {
                libc::linkat(
                    from.as_raw_fd(),
                    c"".as_ptr(),
                    dir.as_raw_fd(),
                    name.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            } != 0
            {
                return Err(std::io::Error::last_os_error().into());
            }
        }
        T::Fifo => {
            clear(dir, name, false)?;
            // SAFETY: dir open, name valid.
            if unsafe { libc::mkfifoat(dir.as_raw_fd(), name.as_ptr(), mode) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            inroot::chown_at(dir, name, owner)?;
        }
        // Devices would give the container the host's hardware; the rest
        // (pax and GNU headers) are read by the tar crate itself.
        _ => {}
    }
    Ok(())
}

fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> std::io::Result<()> {
    // SAFETY: fd is open for reading or writing (not O_PATH).
    if unsafe { libc::fchmod(fd.as_raw_fd(), mode) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The entry's path as it is placed under the destination (None when it
/// is skipped or is the destination itself).
fn sanitized(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir | Component::RootDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// A tar of `src`: a file or directory appears under its own name; with a
/// trailing slash a directory's contents appear at the top (as Garden's
/// StreamOut does). Owners are shown as the container sees them (`map`:
/// its user namespace, if it has one).
pub fn stream_out(root: &Path, src: &str, map: Option<&IdMap>) -> Result<Vec<u8>, GardenError> {
    let ir = InRoot::open(root)?;
    let handle = ir.resolve(src).map_err(|e| match e {
        GardenError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            GardenError::InvalidSpec(format!("{src}: no such file or directory"))
        }
        e => e,
    })?;
    let mut out = Out {
        tar: tar::Builder::new(Vec::new()),
        map,
    };
    let name = Path::new(src)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let st = inroot::stat_fd(handle.as_fd())?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let top = if src.ends_with('/') {
            PathBuf::from(".")
        } else {
            name
        };
        let dir = reopen(&handle, libc::O_RDONLY | libc::O_DIRECTORY)?;
        out.header(&top, &st, tar::EntryType::Directory, None)?;
        out.dir(dir.as_fd(), &top)?;
    } else if st.st_mode & libc::S_IFMT == libc::S_IFREG {
        let f = reopen(&handle, libc::O_RDONLY | libc::O_NONBLOCK)?;
        out.file(f, &name)?;
    }
    Ok(out.tar.into_inner()?)
}

/// Opens what an O_PATH handle refers to (through /proc/self/fd, the
/// kernel's link to that very inode: no path is walked again).
fn reopen(handle: &OwnedFd, flags: libc::c_int) -> Result<OwnedFd, GardenError> {
    let proc = CString::new(format!("/proc/self/fd/{}", handle.as_raw_fd())).expect("no NUL");
    // SAFETY: a valid path; the fd returned is ours.
    let fd = unsafe { libc::open(proc.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: just opened.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

struct Out<'a> {
    tar: tar::Builder<Vec<u8>>,
    map: Option<&'a IdMap>,
}

impl Out<'_> {
    fn header(
        &mut self,
        path: &Path,
        st: &libc::stat,
        kind: tar::EntryType,
        link: Option<&Path>,
    ) -> Result<(), GardenError> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(st.st_mode & 0o7777);
        let id = |host: u32| match self.map {
            Some(m) => m.to_container(host).unwrap_or(crate::idmap::OVERFLOW_ID),
            None => host,
        };
        h.set_uid(u64::from(id(st.st_uid)));
        h.set_gid(u64::from(id(st.st_gid)));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        match link {
            Some(target) => self.tar.append_link(&mut h, path, target)?,
            None => self.tar.append_data(&mut h, path, std::io::empty())?,
        }
        Ok(())
    }

    fn file(&mut self, f: OwnedFd, path: &Path) -> Result<(), GardenError> {
        let st = inroot::stat_fd(f.as_fd())?;
        // Opened without following a link; a FIFO swapped in is skipped.
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(st.st_mode & 0o7777);
        let id = |host: u32| match self.map {
            Some(m) => m.to_container(host).unwrap_or(crate::idmap::OVERFLOW_ID),
            None => host,
        };
        h.set_uid(u64::from(id(st.st_uid)));
        h.set_gid(u64::from(id(st.st_gid)));
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(st.st_size as u64);
        // The file may shrink or grow meanwhile: exactly the size the
        // header says goes out.
        let file = std::fs::File::from(f);
        let mut body = file.take(st.st_size as u64).chain(std::io::repeat(0));
        let mut exact = (&mut body).take(st.st_size as u64);
        self.tar.append_data(&mut h, path, &mut exact)?;
        Ok(())
    }

    fn dir(&mut self, dir: BorrowedFd<'_>, path: &Path) -> Result<(), GardenError> {
        for name in inroot::list(dir)? {
            let child = path.join(std::ffi::OsStr::from_bytes(name.as_bytes()));
            let Ok(st) = inroot::stat_at(dir, &name) else {
                continue; // gone meanwhile
            };
            match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => {
                    let Ok(d) = inroot::open_at(
                        dir,
                        &name,
                        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    ) else {
                        continue;
                    };
                    self.header(&child, &st, tar::EntryType::Directory, None)?;
                    self.dir(d.as_fd(), &child)?;
                }
                libc::S_IFREG => {
                    let Ok(f) = inroot::open_at(
                        dir,
                        &name,
                        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                    ) else {
                        continue;
                    };
                    self.file(f, &child)?;
                }
                libc::S_IFLNK => {
                    let target = readlink_at(dir, &name)?;
                    self.header(&child, &st, tar::EntryType::Symlink, Some(&target))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn readlink_at(dir: BorrowedFd<'_>, name: &CString) -> Result<PathBuf, GardenError> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: dir open, name valid, buf writable for its length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

use std::os::unix::ffi::OsStringExt;

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> (u32, u32) {
        // SAFETY: no preconditions.
        unsafe { (libc::geteuid(), libc::getegid()) }
    }

    #[test]
    fn round_trip_keeps_content_and_owner() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("app/bin")).unwrap();
        std::fs::write(src.path().join("app/bin/run"), "#!/bin/sh\necho hi\n").unwrap();
        std::os::unix::fs::symlink("bin/run", src.path().join("app/start")).unwrap();
        let tar = stream_out(src.path(), "/app", None).unwrap();

        let dst = tempfile::tempdir().unwrap();
        let owner = if me().0 == 0 { (4321, 4321) } else { me() };
        stream_in(dst.path(), "/home/u", owner, &tar[..]).unwrap();
        let file = dst.path().join("home/u/app/bin/run");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            std::fs::read_link(dst.path().join("home/u/app/start")).unwrap(),
            PathBuf::from("bin/run")
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&file).unwrap().uid(), owner.0);
        assert_eq!(
            std::fs::metadata(dst.path().join("home/u")).unwrap().uid(),
            owner.0
        );

        // Contents only, with a trailing slash; a file by its own name.
        let tar = stream_out(src.path(), "/app/", None).unwrap();
        let names: Vec<String> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [".", "bin", "bin/run", "start"]);
        let tar = stream_out(src.path(), "/app/bin/run", None).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_string_lossy(), "run");
        assert!(matches!(
            stream_out(src.path(), "/nope", None),
            Err(GardenError::InvalidSpec(m)) if m.contains("no such file")
        ));
    }

    #[test]
    fn owners_stream_out_as_the_container_sees_them() {
        testkit::skip_if!(testkit::skip::not_root());
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("f"), "x").unwrap();
        let map = IdMap {
            host_base: 300_000,
            size: 65_536,
        };
        crate::rootfs::chown(&src.path().join("f"), 302_000, 302_000).unwrap();
        let tar = stream_out(src.path(), "/f", Some(&map)).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.header().uid().unwrap(), 2000);
    }

    /// Swaps `dir` between a directory and a symlink to `target` until
    /// `stop` (what a container can do to its own tree at any time).
    fn swapper(
        dir: PathBuf,
        target: PathBuf,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> std::thread::JoinHandle<u64> {
        std::thread::spawn(move || {
            let mut swaps = 0;
            let aside = dir.with_extension("aside");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(&aside);
                let _ = std::fs::rename(&dir, &aside);
                let _ = std::os::unix::fs::symlink(&target, &dir);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&dir);
                let _ = std::fs::create_dir(&dir);
                swaps += 1;
            }
            swaps
        })
    }

    #[test]
    fn a_symlink_swapped_in_mid_stream_in_never_leads_out() {
        let t = tempfile::tempdir().unwrap();
        let (root, outside) = (t.path().join("root"), t.path().join("outside"));
        std::fs::create_dir_all(root.join("d/sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for i in 0..200 {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, format!("sub/f{i}"), &b"x"[..])
                .unwrap();
        }
        let tar = b.into_inner().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The symlink names the host directory by its absolute path.
        let swaps = swapper(root.join("d/sub"), outside.clone(), stop.clone());
        let started = std::time::Instant::now();
        let mut landed = 0;
        while started.elapsed() < std::time::Duration::from_millis(1500) {
            // Failures are fine (the tree changed underneath); escapes not.
            if stream_in(&root, "/d", me(), &tar[..]).is_ok() {
                landed += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = swaps.join().unwrap();
        assert!(swaps > 100, "the race ran ({swaps} swaps)");
        let escaped: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert!(
            escaped.is_empty(),
            "{} files outside the root",
            escaped.len()
        );
        // What resolved the symlink did so inside the root.
        let _ = landed;
    }

    #[test]
    fn a_symlink_swapped_in_mid_stream_out_never_reads_the_host() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let secret = t.path().join("secret");
        std::fs::write(&secret, "HOST SECRET").unwrap();
        std::fs::create_dir_all(root.join("o/sub")).unwrap();
        for i in 0..20 {
            std::fs::write(root.join(format!("o/sub/f{i}")), "mine").unwrap();
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dir_swaps = swapper(root.join("o/sub"), t.path().to_path_buf(), stop.clone());
        // And a file swapped for a symlink to the host's file.
        let file = root.join("o/file");
        let stop2 = stop.clone();
        let target = secret.clone();
        let file_swaps = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&file);
                let _ = std::fs::write(&file, "mine");
                let _ = std::fs::remove_file(&file);
                let _ = std::os::unix::fs::symlink(&target, &file);
            }
        });
        let mut streams = 0;
        let started = std::time::Instant::now();
        let mut i = 0;
        while started.elapsed() < std::time::Duration::from_millis(1500) {
            i += 1;
            let src = if i % 2 == 0 { "/o" } else { "/o/file" };
            if let Ok(tar) = stream_out(&root, src, None) {
                streams += 1;
                let text = String::from_utf8_lossy(&tar).into_owned();
                assert!(
                    !text.contains("HOST SECRET"),
                    "the host's file streamed out"
                );
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        dir_swaps.join().unwrap();
        file_swaps.join().unwrap();
        assert!(streams > 10, "{streams} streams made it");
    }

    #[test]
    fn entries_cannot_climb_out() {
        assert_eq!(sanitized(Path::new("../etc/passwd")), None);
        assert_eq!(sanitized(Path::new("./a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(sanitized(Path::new("/a/b")), Some(PathBuf::from("a/b")));
        // An archive entry with .. is skipped, the others land.
        let mut b = tar::Builder::new(Vec::new());
        for (path, body) in [("ok", "1"), ("x/../../escape", "2")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            // set_path refuses "..": write the name bytes directly.
            h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, body.as_bytes()).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        stream_in(&root, "/d", me(), &tar[..]).unwrap();
        assert!(root.join("d/ok").exists());
        assert!(!t.path().join("escape").exists() && !root.join("escape").exists());
    }
}
