//! Files inside a container's root, reached from the host without ever
//! leaving that root, while the running container may change the tree
//! underneath (swap a directory for a symlink to the host, say).
//!
//! Paths are resolved by `pathrs` (openat2 with RESOLVE_IN_ROOT where the
//! kernel has it, a checked userspace walk otherwise): symlinks are
//! followed as the container would follow them, inside its root. What is
//! then done to a file is done through a directory fd and one name with
//! NOFOLLOW, so a swap after the resolution cannot redirect it either.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use pathrs::flags::OpenFlags;
use pathrs::Root;

use crate::api::GardenError;

/// A pathrs failure as an I/O error of the same errno (not found stays
/// not found), else a runtime error naming the path.
fn perr(path: &Path, e: pathrs::error::Error) -> GardenError {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => {
            let io = std::io::Error::from_raw_os_error(errno);
            GardenError::Io(std::io::Error::new(
                io.kind(),
                format!("{}: {io}", path.display()),
            ))
        }
        _ => GardenError::Runtime(format!("{}: {e}", path.display())),
    }
}

pub fn cstr(name: &OsStr) -> Result<CString, GardenError> {
    CString::new(name.as_bytes()).map_err(|_| GardenError::InvalidSpec("path with NUL".into()))
}

fn check(rc: libc::c_int) -> std::io::Result<libc::c_int> {
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// The normal components of `path` (as the container sees it); `..` and
/// `.` are left to the resolver, so only plain names remain here.
pub fn relative(path: &str) -> PathBuf {
    non_empty(
        Path::new(path)
            .components()
            .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
            .collect(),
    )
}

/// The root itself is "." to the resolver (an empty path is not found).
fn non_empty(p: PathBuf) -> PathBuf {
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

pub struct InRoot {
    root: Root,
}

impl InRoot {
    pub fn open(root: &Path) -> Result<Self, GardenError> {
        let r = Root::open(root).map_err(|e| perr(root, e))?;
        Ok(InRoot { root: r })
    }

    /// An O_PATH handle of what `path` names, symlinks followed in the root.
    pub fn resolve(&self, path: &str) -> Result<OwnedFd, GardenError> {
        let rel = relative(path);
        let h = self
            .root
            .resolve(&rel)
            .map_err(|e| perr(&Path::new("/").join(&rel), e))?;
        Ok(OwnedFd::from(h))
    }

    /// A regular file's contents.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, GardenError> {
        let rel = relative(path);
        let f = self
            .root
            .open_subpath(&rel, OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK)
            .map_err(|e| perr(&Path::new("/").join(&rel), e))?;
        if !f.metadata()?.is_file() {
            return Err(GardenError::InvalidSpec(format!("{path}: not a file")));
        }
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut &f, &mut buf)?;
        Ok(buf)
    }

    /// The directory `path`, made (with its missing parents, mode 0755,
    /// owned by `owner`) if it is not there. An O_PATH fd.
    pub fn make_dirs(&self, path: &Path, owner: (u32, u32)) -> Result<OwnedFd, GardenError> {
        // The deepest existing ancestor, then one mkdirat per missing name
        // below it, each relative to its parent's fd.
        let names: Vec<&OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        let mut found = names.len();
        let mut dir = loop {
            let prefix = non_empty(names[..found].iter().collect());
            match self.root.resolve(&prefix) {
                Ok(h) => break OwnedFd::from(h),
                Err(e)
                    if found > 0
                        && e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) =>
                {
                    found -= 1
                }
                Err(e) => return Err(perr(&Path::new("/").join(prefix), e)),
            }
        };
        for name in &names[found..] {
            let c = cstr(name)?;
            // SAFETY: dir is an open fd, c a valid name.
            match check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) }) {
                Ok(_) => chown_at(dir.as_fd(), &c, owner)?,
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            dir = open_at(
                dir.as_fd(),
                &c,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            )?;
        }
        if !is_dir(dir.as_fd())? {
            return Err(GardenError::InvalidSpec(format!(
                "{}: not a directory",
                Path::new("/").join(path).display()
            )));
        }
        Ok(dir)
    }
}

/// openat relative to `dir`, one name (callers add O_NOFOLLOW).
pub fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: dir is open, name valid; the fd returned is ours.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            0o600,
        )
    })?;
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The entry `name` in `dir`, not following a symlink.
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> std::io::Result<libc::stat> {
    // SAFETY: st is plain data the call fills in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: dir open, name valid, st writable.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// What an fd (O_PATH included) refers to.
pub fn stat_fd(fd: BorrowedFd<'_>) -> std::io::Result<libc::stat> {
    // SAFETY: as in stat_at, with AT_EMPTY_PATH on the fd itself.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            &mut st,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

pub fn is_dir(fd: BorrowedFd<'_>) -> std::io::Result<bool> {
    Ok(stat_fd(fd)?.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// lchown of `name` in `dir`.
pub fn chown_at(dir: BorrowedFd<'_>, name: &CStr, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    // SAFETY: dir open, name valid.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// Removes `name` from `dir` whatever it is (a directory only if empty).
pub fn unlink_at(dir: BorrowedFd<'_>, name: &CStr, is_dir: bool) -> std::io::Result<()> {
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: dir open, name valid.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// The names in a directory (an fd opened for reading), without . and ..
pub fn list(dir: BorrowedFd<'_>) -> std::io::Result<Vec<CString>> {
    // fdopendir takes the fd it is given: give it a copy.
    // SAFETY: dup of an open fd.
    let fd: RawFd = check(unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: fd is ours; closedir closes it.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        let e = std::io::Error::last_os_error();
        // SAFETY: fdopendir failed, so fd is still ours to close.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    // SAFETY: rewinding a fresh stream is always allowed.
    unsafe { libc::rewinddir(d) };
    let mut names = Vec::new();
    loop {
        // SAFETY: d is a valid DIR*; entries stay valid until the next call.
        let e = unsafe { libc::readdir(d) };
        if e.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) };
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    // SAFETY: d came from fdopendir.
    unsafe { libc::closedir(d) };
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("var/tmp")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/passwd"), "inside").unwrap();
        std::os::unix::fs::symlink("/var/tmp", r.join("tmp")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", r.join("var/escape")).unwrap();
        let ir = InRoot::open(r).unwrap();
        assert_eq!(ir.read("/var/escape/passwd").unwrap(), b"inside");
        assert_eq!(ir.read("/../../etc/passwd").unwrap(), b"inside");
        std::fs::write(r.join("var/tmp/x"), "x").unwrap();
        assert_eq!(ir.read("/tmp/x").unwrap(), b"x");
        assert!(
            matches!(ir.read("/nope"), Err(GardenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound)
        );

        // Missing directories are made inside, through a symlink to an
        // absolute path resolved in the root; one that dangles there (even
        // if the host has that path) is refused, as `mkdir -p` refuses it.
        std::os::unix::fs::symlink("/var", r.join("abs-var")).unwrap();
        // SAFETY: no preconditions.
        let me = unsafe { (libc::geteuid(), libc::getegid()) };
        let d = ir.make_dirs(Path::new("abs-var/new/deep"), me).unwrap();
        assert!(is_dir(d.as_fd()).unwrap());
        assert!(r.join("var/new/deep").is_dir());
        std::os::unix::fs::symlink("/usr", r.join("host-usr")).unwrap();
        assert!(ir.make_dirs(Path::new("host-usr/new"), me).is_err());
        assert!(!Path::new("/usr/new").exists());
    }
}
