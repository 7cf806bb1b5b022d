//! Unpacking one layer (a tar stream, gzip- or zstd-compressed or not)
//! into a directory of its own that overlayfs uses as a lower layer.
//!
//! Layers are hostile input. Entry paths with `..` are refused, and every
//! write goes through [`dir::LayerDir`], which resolves paths inside the
//! layer (symlinks included) with openat2(RESOLVE_IN_ROOT). OCI whiteouts
//! become overlayfs's: `.wh.NAME` a 0/0 character device NAME, and
//! `.wh..wh..opq` the `trusted.overlay.opaque` attribute on its directory.
//! Device nodes are not made (a container gets its own /dev). Owners are
//! shifted by the store's [`IdShift`]. The stream is read once, never held
//! in memory; the uncompressed bytes' digest is returned (the image
//! config's diff id) and the bytes written are taken from a [`Budget`]
//! (a few KB of gzip can inflate to terabytes: a decompression bomb).

mod dir;

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, Read, Write};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::idmap::{hex, IdShift};
use dir::{Existing, LayerDir, LayerPath};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What unpacking wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// About the disk space the layer takes (file sizes in 4 KiB blocks,
    /// a block per directory).
    pub bytes: u64,
    /// `sha256:HEX` of the uncompressed tar (the config's diff id).
    pub diff_id: String,
    pub entries: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From the stream's first bytes: media types are not always right
    /// (Docker sniffs too).
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The bytes some unpacks may write between them (the layers of one image
/// share one); an unpack that would take more stops with [`TooLarge`].
#[derive(Debug, Clone)]
pub struct Budget {
    limit: u64,
    left: Arc<AtomicU64>,
}

impl Budget {
    pub fn new(bytes: u64) -> Self {
        Budget {
            limit: bytes,
            left: Arc::new(AtomicU64::new(bytes)),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn take(&self, bytes: u64) -> Result<(), TooLarge> {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(bytes)
            })
            .map(|_| ())
            .map_err(|_| TooLarge { limit: self.limit })
    }
}

/// An unpack ran out of its [`Budget`] (inside the `io::Error` it returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unpacks to more than the {} MB an image may take on this cell", limit.div_ceil(1 << 20))]
pub struct TooLarge {
    pub limit: u64,
}

impl TooLarge {
    /// The budget's error inside an unpack's error, if that was the cause.
    pub fn find(e: &io::Error) -> Option<TooLarge> {
        e.get_ref()?.downcast_ref::<TooLarge>().copied()
    }
}

/// Unpacks the layer read from `src` into `dest` (an existing, empty
/// directory). `budget` stops a layer that would take more space.
/// `src` is read to its end, also when the archive ends earlier, so a
/// digest computed over it covers every byte.
pub fn unpack<R: BufRead>(
    src: &mut R,
    dest: &Path,
    shift: &IdShift,
    budget: Option<&Budget>,
) -> io::Result<Unpacked> {
    let compression = Compression::sniff(src.fill_buf()?);
    let unpacked = match compression {
        Compression::None => unpack_tar(&mut *src, dest, shift, budget)?,
        Compression::Gzip => unpack_tar(
            flate2::bufread::MultiGzDecoder::new(&mut *src),
            dest,
            shift,
            budget,
        )?,
        Compression::Zstd => unpack_tar(
            zstd::stream::read::Decoder::with_buffer(&mut *src)?,
            dest,
            shift,
            budget,
        )?,
    };
    io::copy(src, &mut io::sink())?;
    Ok(unpacked)
}

fn unpack_tar(
    decoded: impl Read,
    dest: &Path,
    shift: &IdShift,
    budget: Option<&Budget>,
) -> io::Result<Unpacked> {
    let mut hashing = HashingReader {
        inner: decoded,
        hash: Sha256::new(),
    };
    let root_owner = (
        shift.uid(0).ok_or_else(|| unmapped("uid", 0))?,
        shift.gid(0).ok_or_else(|| unmapped("gid", 0))?,
    );
    let mut layer = LayerDir::open(dest, root_owner)?;
    let mut state = Unpacker {
        shift,
        budget,
        bytes: 0,
        entries: 0,
        dir_times: Vec::new(),
        buf: vec![0; 256 * 1024],
    };
    {
        let mut archive = tar::Archive::new(&mut hashing);
        for entry in archive.entries()? {
            let mut entry = entry?;
            state.entry(&mut layer, &mut entry)?;
        }
    }
    state.restore_dir_times(&mut layer)?;
    // Trailing zero blocks (and anything after) still count in the digests.
    io::copy(&mut hashing, &mut io::sink())?;
    Ok(Unpacked {
        bytes: state.bytes,
        diff_id: format!("sha256:{}", hex(&hashing.hash.finalize())),
        entries: state.entries,
    })
}

struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn unmapped(kind: &str, id: u64) -> io::Error {
    io::Error::other(format!(
        "{kind} {id} has no host id in the container's id map"
    ))
}

fn bad(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {what}", path.display()))
}

/// The entry's path as components inside the layer; `..` anywhere is
/// refused (an archive has no business there), `/` and `.` are dropped.
fn layer_path(p: &Path) -> io::Result<LayerPath> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(bad(p, "path leaves the layer (..)"))
            }
        }
    }
    Ok(out)
}

/// An entry's metadata, PAX records taking precedence over the header.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: libc::timespec,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Unpacker<'a> {
    shift: &'a IdShift,
    budget: Option<&'a Budget>,
    bytes: u64,
    entries: u64,
    /// Directories' times, set last: adding children changes them.
    dir_times: Vec<(LayerPath, libc::timespec)>,
    /// One copy buffer for every file (the default 8 KiB costs syscalls).
    buf: Vec<u8>,
}

impl Unpacker<'_> {
    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
        let h = entry.header();
        let old = h.as_old();
        let mut uid = numeric(h.uid(), &old.uid)?;
        let mut gid = numeric(h.gid(), &old.gid)?;
        let mode = numeric(h.mode().map(u64::from), &old.mode)? as u32 & 0o7777;
        let mut mtime = libc::timespec {
            tv_sec: numeric(h.mtime(), &old.mtime)? as libc::time_t,
            tv_nsec: 0,
        };
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let (Ok(key), value) = (ext.key(), ext.value_bytes()) else {
                    continue;
                };
                let text = std::str::from_utf8(value).unwrap_or("");
                match key {
                    "uid" => uid = text.parse().map_err(|_| io::Error::other("bad PAX uid"))?,
                    "gid" => gid = text.parse().map_err(|_| io::Error::other("bad PAX gid"))?,
                    "mtime" => {
                        if let Some(t) = pax_time(text) {
                            mtime = t;
                        }
                    }
                    k => {
                        if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                            if xattr_allowed(name) {
                                xattrs.push((name.to_string(), value.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        let uid32 = u32::try_from(uid).map_err(|_| unmapped("uid", uid))?;
        let gid32 = u32::try_from(gid).map_err(|_| unmapped("gid", gid))?;
        Ok(Meta {
            uid: self.shift.uid(uid32).ok_or_else(|| unmapped("uid", uid))?,
            gid: self.shift.gid(gid32).ok_or_else(|| unmapped("gid", gid))?,
            mode,
            mtime,
            xattrs,
        })
    }

    fn count(&mut self, bytes: u64) -> io::Result<()> {
        self.bytes += bytes;
        match self.budget {
            Some(b) => b.take(bytes).map_err(io::Error::other),
            None => Ok(()),
        }
    }

    fn entry<R: Read>(
        &mut self,
        layer: &mut LayerDir,
        entry: &mut tar::Entry<'_, R>,
    ) -> io::Result<()> {
        use tar::EntryType as T;
        let raw_path = entry.path()?.into_owned();
        let path = layer_path(&raw_path)?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        self.entries += 1;
        let Some((name, parent)) = path.split_last() else {
            // The layer's root itself ("./"): only its metadata.
            if kind == T::Directory {
                let meta = self.meta(entry)?;
                let f = layer.root_dir()?;
                apply_meta(&f, &meta)?;
            }
            return Ok(());
        };
        let name_str = name.to_string_lossy();
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(layer, parent, name, hidden, &raw_path);
        }
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => self.file(layer, &path, entry),
            T::Directory => self.directory(layer, &path, entry),
            T::Symlink => {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| bad(&raw_path, "symlink without a target"))?
                    .into_owned();
                let meta = self.meta(entry)?;
                self.replace(layer, &path)?;
                let pfd = layer.dir(parent)?;
                LayerDir::symlink(pfd, name, &target)?;
                dir::chown_at(pfd, name, meta.uid, meta.gid)?;
                dir::set_times_at(pfd, name, meta.mtime)?;
                self.count(512)
            }
            T::Link => {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| bad(&raw_path, "hard link without a target"))?
                    .into_owned();
                let target = layer_path(&target)?;
                if target == path {
                    return Ok(());
                }
                self.replace(layer, &path)?;
                let pfd = layer.dir(parent)?;
                layer
                    .hardlink(pfd, name, &target)
                    .map_err(|e| bad(&raw_path, format!("hard link: {e}")))
            }
            T::Fifo => {
                let meta = self.meta(entry)?;
                self.replace(layer, &path)?;
                let pfd = layer.dir(parent)?;
                LayerDir::mknod(pfd, name, libc::S_IFIFO | 0o600, 0)?;
                dir::chown_at(pfd, name, meta.uid, meta.gid)?;
                let n = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(
                    name.as_os_str(),
                ))
                .map_err(|_| bad(&raw_path, "NUL in name"))?;
                // SAFETY: pfd is a directory we hold; the FIFO was just made
                // at this name (fchmodat cannot refuse symlinks; none is there).
                if unsafe { libc::fchmodat(pfd, n.as_ptr(), meta.mode as libc::mode_t, 0) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                self.count(512)
            }
            T::Char | T::Block => {
                tracing::debug!(path = %raw_path.display(), "skipping device node in layer");
                Ok(())
            }
            other => Err(bad(&raw_path, format!("unsupported entry type {other:?}"))),
        }
    }

    /// Removes what an earlier entry put at `path`, unless both are
    /// directories (a directory entry then only updates metadata).
    fn replace(&mut self, layer: &mut LayerDir, path: &[OsString]) -> io::Result<()> {
        let (name, parent) = path.split_last().expect("not the root");
        let pfd = layer.dir(parent)?;
        if layer.existing(pfd, name)? != Existing::Nothing {
            layer.remove(path)?;
        }
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        layer: &mut LayerDir,
        path: &[OsString],
        entry: &mut tar::Entry<'_, R>,
    ) -> io::Result<()> {
        let meta = self.meta(entry)?;
        self.count(entry.size().div_ceil(4096) * 4096)?;
        self.replace(layer, path)?;
        let (name, parent) = path.split_last().expect("not the root");
        let pfd = layer.dir(parent)?;
        let mut f = LayerDir::create_file(pfd, name)?;
        copy(entry, &mut f, &mut self.buf)?;
        apply_meta(&f, &meta)?;
        dir::set_times(&f, meta.mtime)
    }

    fn directory<R: Read>(
        &mut self,
        layer: &mut LayerDir,
        path: &[OsString],
        entry: &mut tar::Entry<'_, R>,
    ) -> io::Result<()> {
        let meta = self.meta(entry)?;
        self.count(4096)?;
        let (name, parent) = path.split_last().expect("not the root");
        let pfd = layer.dir(parent)?;
        match layer.existing(pfd, name)? {
            Existing::Dir => {}
            Existing::Other => {
                layer.remove(path)?;
                LayerDir::mkdir(layer.dir(parent)?, name)?;
            }
            Existing::Nothing => LayerDir::mkdir(pfd, name)?,
        }
        let pfd = layer.dir(parent)?;
        let f = LayerDir::open_dir(pfd, name)?;
        apply_meta(&f, &meta)?;
        self.dir_times.push((path.to_vec(), meta.mtime));
        Ok(())
    }

    fn whiteout(
        &mut self,
        layer: &mut LayerDir,
        parent: &[OsString],
        name: &OsStr,
        hidden: &str,
        raw_path: &Path,
    ) -> io::Result<()> {
        let pfd = layer.dir(parent)?;
        if name == OPAQUE_WHITEOUT {
            let f = LayerDir::open_dir(pfd, OsStr::new(""))?;
            return dir::set_xattr(&f, OPAQUE_XATTR, b"y")
                .map_err(|e| bad(raw_path, format!("marking the directory opaque: {e}")));
        }
        if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.starts_with(".wh.") {
            return Err(bad(raw_path, "invalid whiteout"));
        }
        // A whiteout hides lower layers only: what this layer itself has
        // at the name stays.
        if layer.existing(pfd, OsStr::new(hidden))? != Existing::Nothing {
            return Ok(());
        }
        LayerDir::mknod(pfd, OsStr::new(hidden), libc::S_IFCHR, 0)
            .map_err(|e| bad(raw_path, format!("making the whiteout: {e}")))?;
        self.count(512)
    }

    fn restore_dir_times(&mut self, layer: &mut LayerDir) -> io::Result<()> {
        for (path, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            let (name, parent) = path.split_last().expect("not the root");
            // A later entry may have replaced the directory; skip it then.
            let Ok(pfd) = layer.dir(parent) else { continue };
            if layer.existing(pfd, name)? == Existing::Dir {
                dir::set_times_at(pfd, name, mtime)?;
            }
        }
        Ok(())
    }
}

fn apply_meta(f: &std::fs::File, meta: &Meta) -> io::Result<()> {
    dir::fchown(f, meta.uid, meta.gid)?;
    dir::fchmod(f, meta.mode)?;
    for (name, value) in &meta.xattrs {
        dir::set_xattr(f, name, value)?;
    }
    Ok(())
}

/// Extended attributes an image may carry: user attributes and file
/// capabilities. Overlayfs's own (trusted.overlay.*) and other trusted or
/// security ones could change what the container sees or may do.
fn xattr_allowed(name: &str) -> bool {
    name.starts_with("user.") || name == "security.capability"
}

/// A header's number; an empty field is 0 (as Go's archive/tar reads it,
/// and some image tools write it), anything else unreadable an error.
fn numeric(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Ok(n) => Ok(n),
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        Err(e) => Err(e),
    }
}

fn pax_time(s: &str) -> Option<libc::timespec> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let tv_nsec: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(libc::timespec {
        tv_sec: tv_sec as libc::time_t,
        tv_nsec: tv_nsec as _,
    })
}

fn copy(src: &mut impl Read, dst: &mut impl Write, buf: &mut [u8]) -> io::Result<u64> {
    let mut n = 0u64;
    loop {
        let k = match src.read(buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..k])?;
        n += k as u64;
    }
}

#[cfg(test)]
mod tests;
