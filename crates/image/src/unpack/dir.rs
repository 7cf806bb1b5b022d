//! The layer directory being unpacked, written only through directory file
//! descriptors that pathrs resolved with openat2(RESOLVE_IN_ROOT): a path
//! from the archive, even through a symlink the archive made, stays inside
//! the layer. Every change is then one `*at` call on one name (never a
//! path, never `.` or `..`) relative to such a descriptor, not following a
//! symlink at that name, so nothing written can land outside the layer.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pathrs::Root;

/// A relative path inside the layer, already checked: only normal
/// components (no `..`, no `.`, no root).
pub type LayerPath = Vec<std::ffi::OsString>;

pub struct LayerDir {
    root: Root,
    /// Directories resolved so far (by path): archives write many entries
    /// into one directory. Cleared whenever something is removed, since a
    /// removed directory's descriptor would point nowhere.
    dirs: HashMap<LayerPath, OwnedFd>,
    /// Owner of directories the archive implies but does not list (the
    /// container's root, shifted).
    implied_owner: (u32, u32),
}

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::other("name with NUL"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn os_errno(e: &pathrs::error::Error) -> Option<i32> {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(errno) => errno,
        _ => None,
    }
}

fn pathrs_err(e: pathrs::error::Error) -> io::Error {
    match os_errno(&e) {
        Some(errno) => io::Error::from_raw_os_error(errno),
        None => io::Error::other(e.to_string()),
    }
}

/// What is at a name already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    Dir,
    Other,
}

impl LayerDir {
    pub fn open(dir: &Path, implied_owner: (u32, u32)) -> io::Result<Self> {
        Ok(LayerDir {
            root: Root::open(dir).map_err(pathrs_err)?,
            dirs: HashMap::new(),
            implied_owner,
        })
    }

    /// A descriptor of the directory at `path`, made (with its missing
    /// parents) when missing. Symlinks on the way resolve inside the layer.
    pub fn dir(&mut self, path: &[std::ffi::OsString]) -> io::Result<RawFd> {
        if path.is_empty() {
            return Ok(self.root.as_fd().as_raw_fd());
        }
        if let Some(fd) = self.dirs.get(path) {
            return Ok(fd.as_raw_fd());
        }
        let rel: PathBuf = path.iter().collect();
        let fd = match self.root.resolve(&rel) {
            Ok(h) => {
                let fd: OwnedFd = h.into();
                if !is_dir(fd.as_raw_fd())? {
                    return Err(io::Error::other(format!(
                        "{} is not a directory",
                        rel.display()
                    )));
                }
                fd
            }
            Err(e) if os_errno(&e) == Some(libc::ENOENT) => {
                let (name, parent) = path.split_last().expect("not empty");
                let pfd = self.dir(parent)?;
                let n = cstr(name)?;
                // SAFETY: pfd is a directory descriptor we hold; n is one
                // NUL-terminated name.
                check(unsafe { libc::mkdirat(pfd, n.as_ptr(), 0o755) }).map_err(|e| {
                    io::Error::new(e.kind(), format!("making directory {}: {e}", rel.display()))
                })?;
                let (uid, gid) = self.implied_owner;
                chown_at(pfd, name, uid, gid)?;
                let h = self.root.resolve(&rel).map_err(pathrs_err)?;
                h.into()
            }
            Err(e) => return Err(pathrs_err(e)),
        };
        let raw = fd.as_raw_fd();
        self.dirs.insert(path.to_vec(), fd);
        Ok(raw)
    }

    pub fn existing(&self, dir: RawFd, name: &OsStr) -> io::Result<Existing> {
        match stat_at(dir, name) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(Existing::Dir),
            Ok(_) => Ok(Existing::Other),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(Existing::Nothing),
            Err(e) => Err(e),
        }
    }

    /// Removes what is at `path` (a whole tree for a directory): a later
    /// entry of the archive replaces an earlier one.
    pub fn remove(&mut self, path: &[std::ffi::OsString]) -> io::Result<()> {
        let (name, parent) = path.split_last().expect("not the root");
        let pfd = self.dir(parent)?;
        let kind = self.existing(pfd, name)?;
        self.dirs.clear();
        match kind {
            Existing::Nothing => Ok(()),
            Existing::Dir => {
                let rel: PathBuf = path.iter().collect();
                self.root.remove_all(&rel).map_err(pathrs_err)
            }
            Existing::Other => {
                let pfd = self.dir(parent)?;
                let n = cstr(name)?;
                // SAFETY: as in dir(); unlinkat removes the name itself.
                check(unsafe { libc::unlinkat(pfd, n.as_ptr(), 0) })
            }
        }
    }

    /// Creates a regular file for writing (refusing to follow a symlink).
    pub fn create_file(dir: RawFd, name: &OsStr) -> io::Result<File> {
        let n = cstr(name)?;
        // SAFETY: as in dir(); O_EXCL|O_NOFOLLOW: a new inode at this name.
        let fd = unsafe {
            libc::openat(
                dir,
                n.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Opens a directory at `name` (not following a symlink) to change it.
    pub fn open_dir(dir: RawFd, name: &OsStr) -> io::Result<File> {
        let n = if name.is_empty() {
            CString::new(".").expect("no NUL")
        } else {
            cstr(name)?
        };
        // SAFETY: as in dir().
        let fd = unsafe {
            libc::openat(
                dir,
                n.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as in create_file.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    pub fn mkdir(dir: RawFd, name: &OsStr) -> io::Result<()> {
        let n = cstr(name)?;
        // SAFETY: as in dir().
        check(unsafe { libc::mkdirat(dir, n.as_ptr(), 0o700) })
    }

    pub fn symlink(dir: RawFd, name: &OsStr, target: &Path) -> io::Result<()> {
        let n = cstr(name)?;
        let t = cstr(target.as_os_str())?;
        // SAFETY: as in dir(); the target is stored, not followed.
        check(unsafe { libc::symlinkat(t.as_ptr(), dir, n.as_ptr()) })
    }

    /// A hard link at `name` to the file at `target` (a path inside the
    /// layer, resolved as any other; a symlink at its last component is
    /// linked, not followed).
    pub fn hardlink(
        &mut self,
        dir: RawFd,
        name: &OsStr,
        target: &[std::ffi::OsString],
    ) -> io::Result<()> {
        let (tname, tparent) = target
            .split_last()
            .ok_or_else(|| io::Error::other("hard link to the layer's root"))?;
        let n = cstr(name)?;
        let tn = cstr(tname)?;
        // The target's directory may be another one: keep `dir` valid by
        // resolving it first (dir() may add to the cache, never remove).
        let tdir = self.dir(tparent)?;
        // SAFETY: both descriptors are directories we hold; flags 0: do
        // not follow a symlink at the target.
        check(unsafe { libc::linkat(tdir, tn.as_ptr(), dir, n.as_ptr(), 0) })
    }

    pub fn mknod(dir: RawFd, name: &OsStr, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
        let n = cstr(name)?;
        // SAFETY: as in dir().
        check(unsafe { libc::mknodat(dir, n.as_ptr(), mode, dev) })
    }

    /// The descriptor of the layer's root directory, opened for changes.
    pub fn root_dir(&self) -> io::Result<File> {
        Self::open_dir(self.root.as_fd().as_raw_fd(), OsStr::new(""))
    }
}

fn stat_at(dir: RawFd, name: &OsStr) -> io::Result<libc::stat> {
    let n = cstr(name)?;
    // SAFETY: st is written by the kernel on success; n is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dir, n.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

fn is_dir(fd: RawFd) -> io::Result<bool> {
    // SAFETY: as in stat_at; AT_EMPTY_PATH stats fd itself.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(fd, c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH) })?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// lchown of one name in a directory.
pub fn chown_at(dir: RawFd, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: as in dir(); AT_SYMLINK_NOFOLLOW changes a symlink itself.
    check(unsafe { libc::fchownat(dir, n.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
}

/// Sets atime and mtime of one name (a symlink itself, not its target).
pub fn set_times_at(dir: RawFd, name: &OsStr, mtime: libc::timespec) -> io::Result<()> {
    let n = cstr(name)?;
    let times = [mtime, mtime];
    // SAFETY: as in dir(); times points at two timespecs.
    check(unsafe { libc::utimensat(dir, n.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
}

pub fn fchown(f: &File, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: f is an open descriptor.
    check(unsafe { libc::fchown(f.as_raw_fd(), uid, gid) })
}

/// After fchown: changing the owner clears set-id bits.
pub fn fchmod(f: &File, mode: u32) -> io::Result<()> {
    // SAFETY: f is an open descriptor.
    check(unsafe { libc::fchmod(f.as_raw_fd(), mode as libc::mode_t) })
}

pub fn set_times(f: &File, mtime: libc::timespec) -> io::Result<()> {
    let times = [mtime, mtime];
    // SAFETY: f is an open descriptor; times points at two timespecs.
    check(unsafe { libc::futimens(f.as_raw_fd(), times.as_ptr()) })
}

pub fn set_xattr(f: &File, name: &str, value: &[u8]) -> io::Result<()> {
    let n = CString::new(name).map_err(|_| io::Error::other("xattr name with NUL"))?;
    // SAFETY: f is open; n and value are valid for the call.
    check(unsafe {
        libc::fsetxattr(
            f.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr() as *const libc::c_void,
            value.len(),
            0,
        )
    })
}
