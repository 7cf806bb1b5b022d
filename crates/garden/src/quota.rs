//! Disk limits: the container's writable layer on a filesystem of its own
//! size (a sparse file formatted as ext4 and loop-mounted), so writes past
//! the limit fail with "No space left on device", as on Garden (whose XFS
//! project quotas say the same).
//!
//! Why not project quotas on one shared filesystem: they need the kernel's
//! quota formats (ext4: QFMT_V2; XFS: XFS_QUOTA), which some kernels lack
//! (the one this was built on has neither), while a loop device works on
//! any kernel and any depot filesystem. The filesystem is copied from an
//! empty one made once per size (its few used blocks), the loop device is
//! configured with ioctls and the filesystem mounted directly (no `mount`
//! program) without zeroing its inode tables (see garden-bench).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::api::GardenError;
use crate::cmd::run;

/// ext4 needs a few MB for itself; smaller limits get this much.
const MIN_BYTES: u64 = 16 << 20;

/// Free space below which a limited layer counts as full (the event
/// "disk quota exceeded").
const FULL_BELOW: u64 = 1 << 20;

/// Where the container's upper and work directories live (a mount point
/// when the disk is limited).
pub fn layer_dir(container_dir: &Path) -> PathBuf {
    container_dir.join("layer")
}

fn image(container_dir: &Path) -> PathBuf {
    container_dir.join("layer.img")
}

fn cpath(p: &Path) -> Result<CString, GardenError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| GardenError::InvalidSpec("path with NUL".into()))
}

/// The container's layer directory on a filesystem of `bytes`, copied from
/// an empty one of that size in `templates`.
pub async fn make_limited_layer(
    container_dir: &Path,
    templates: &Path,
    bytes: u64,
) -> Result<(), GardenError> {
    let bytes = bytes.max(MIN_BYTES);
    let img = image(container_dir);
    let layer = layer_dir(container_dir);
    std::fs::create_dir_all(&layer)?;
    let template = template(templates, bytes).await?;
    let (img, layer) = (img.clone(), layer.clone());
    tokio::task::spawn_blocking(move || {
        sparse_copy(&template, &img)?;
        mount_image(&img, &layer)
    })
    .await
    .map_err(|e| GardenError::Runtime(e.to_string()))?
}

/// An empty ext4 filesystem image of `bytes` in `dir`, made the first
/// time (mkfs takes tens of ms; copying its few used blocks, one or two).
async fn template(dir: &Path, bytes: u64) -> Result<PathBuf, GardenError> {
    let path = dir.join(format!("{bytes}.img"));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    // Creates racing for the same size each make their own.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{bytes}.{}.{n}.tmp", std::process::id()));
    std::fs::File::create(&tmp)?.set_len(bytes)?;
    let tmp_s = tmp.display().to_string();
    // No journal and no reserved blocks: the whole size is the container's,
    // and nothing outlives the container that a journal would protect.
    let made = run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-O",
            "^has_journal",
            "-m",
            "0",
            "-E",
            "nodiscard,lazy_itable_init=1",
            &tmp_s,
        ],
        None,
    )
    .await;
    if let Err(e) = made {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Complete, then visible: of two creates racing, the second rename
    // replaces the first's file with an identical one.
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Copies the data of sparse file `from` to a new `to` of the same size,
/// holes left holes.
fn sparse_copy(from: &Path, to: &Path) -> Result<(), GardenError> {
    let src = std::fs::File::open(from)?;
    let len = src.metadata()?.len();
    let dst = std::fs::File::create(to)?;
    dst.set_len(len)?;
    let mut pos: i64 = 0;
    while (pos as u64) < len {
        // SAFETY: lseek on our open file.
        let data = unsafe { libc::lseek(src.as_raw_fd(), pos, libc::SEEK_DATA) };
        if data < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                break; // only a hole is left
            }
            return Err(e.into());
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(src.as_raw_fd(), data, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let (mut off_in, mut off_out) = (data, data);
        let mut left = (hole - data) as usize;
        while left > 0 {
            // SAFETY: both files open; the offsets are ours.
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    &mut off_in,
                    dst.as_raw_fd(),
                    &mut off_out,
                    left,
                    0,
                )
            };
            if n <= 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            left -= n as usize;
        }
        pos = hole;
    }
    Ok(())
}

/// Attaches `img` to a free loop device that frees itself when unmounted,
/// and mounts it at `target`.
fn mount_image(img: &Path, target: &Path) -> Result<(), GardenError> {
    let (dev, _fd) = attach_loop(img)?;
    let src = cpath(&dev)?;
    let dst = cpath(target)?;
    let fstype = CString::new("ext4").expect("no NUL");
    // The image is sparse: its unwritten inode tables read as zeros
    // already, so the kernel need not zero them (disk traffic per create).
    let data = CString::new("noinit_itable").expect("no NUL");
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOATIME | libc::MS_NODEV | libc::MS_NOSUID,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        // Closing the device fd (autoclear) detaches it.
        return Err(GardenError::Runtime(format!(
            "mounting {} at {}: {}",
            dev.display(),
            target.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` of <linux/loop.h>.
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

/// `struct loop_config` of <linux/loop.h>.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

fn info(img: &Path) -> LoopInfo64 {
    let mut file_name = [0u8; 64];
    let bytes = img.as_os_str().as_bytes();
    let n = bytes.len().min(63);
    file_name[..n].copy_from_slice(&bytes[..n]);
    LoopInfo64 {
        device: 0,
        inode: 0,
        rdevice: 0,
        offset: 0,
        sizelimit: 0,
        number: 0,
        encrypt_type: 0,
        encrypt_key_size: 0,
        flags: LO_FLAGS_AUTOCLEAR,
        file_name,
        crypt_name: [0; 64],
        encrypt_key: [0; 32],
        init: [0; 2],
    }
}

fn open(path: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: c is a valid path; the fd is ours.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just opened, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A free loop device bound to `img` with autoclear, and its fd (the
/// device stays bound while the fd is open or the filesystem mounted).
fn attach_loop(img: &Path) -> Result<(PathBuf, OwnedFd), GardenError> {
    let file = open(img, libc::O_RDWR)?;
    let ctl = open(Path::new("/dev/loop-control"), libc::O_RDWR)?;
    for _ in 0..64 {
        // SAFETY: an ioctl without arguments on our fd.
        let n = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if n < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let dev = PathBuf::from(format!("/dev/loop{n}"));
        let loop_fd = match open(&dev, libc::O_RDWR) {
            Ok(fd) => fd,
            // The device node appears a moment after the kernel makes it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::thread::sleep(std::time::Duration::from_millis(1));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let config = LoopConfig {
            fd: file.as_raw_fd() as u32,
            block_size: 0,
            info: info(img),
            reserved: [0; 8],
        };
        // SAFETY: config is a valid loop_config for the call.
        let rc = unsafe { libc::ioctl(loop_fd.as_raw_fd(), LOOP_CONFIGURE, &config) };
        if rc == 0 {
            return Ok((dev, loop_fd));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // Taken by someone else between GET_FREE and here.
            Some(libc::EBUSY) => continue,
            // Kernels before 5.8: the two-step way.
            Some(libc::EINVAL) | Some(libc::ENOTTY) => {
                // SAFETY: plain ioctls on our fds.
                if unsafe { libc::ioctl(loop_fd.as_raw_fd(), LOOP_SET_FD, file.as_raw_fd()) } != 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::EBUSY) {
                        continue;
                    }
                    return Err(e.into());
                }
                let i = info(img);
                // SAFETY: i is a valid loop_info64.
                if unsafe { libc::ioctl(loop_fd.as_raw_fd(), LOOP_SET_STATUS64, &i) } != 0 {
                    let e = std::io::Error::last_os_error();
                    // SAFETY: as above.
                    unsafe { libc::ioctl(loop_fd.as_raw_fd(), LOOP_CLR_FD) };
                    return Err(e.into());
                }
                return Ok((dev, loop_fd));
            }
            _ => return Err(e.into()),
        }
    }
    Err(GardenError::Runtime("no free loop device".into()))
}

/// Whether a limited layer has (almost) no space left.
pub fn layer_full(container_dir: &Path) -> bool {
    let layer = layer_dir(container_dir);
    let Ok(c) = cpath(&layer) else { return false };
    if !image(container_dir).exists() {
        return false;
    }
    // SAFETY: c is a valid path; st is plain data the call fills in.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return false;
        }
        (st.f_bavail as u64) * (st.f_frsize as u64) < FULL_BELOW
    }
}

/// Unmounts the layer if it is a mount; the loop device goes with it.
pub fn unmount_layer(container_dir: &Path) -> Result<(), GardenError> {
    let target = cpath(&layer_dir(container_dir))?;
    // SAFETY: target is a valid NUL-terminated path.
    let rc = unsafe { libc::umount2(target.as_ptr(), 0) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOENT) => {}
            Some(libc::EBUSY) => {
                // Something still holds it: detach now, the kernel (and the
                // loop device's autoclear) free it when the last user goes.
                tracing::warn!(dir = %container_dir.display(), "layer busy; detaching");
                // SAFETY: as above.
                unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
            }
            _ => return Err(e.into()),
        }
    }
    let img = image(container_dir);
    if img.exists() {
        wait_loop_released(&img);
    }
    Ok(())
}

/// The loop device frees itself after the unmount, but the kernel may do
/// that a moment later; destroy returns once it has, so nothing is left.
fn wait_loop_released(img: &Path) {
    for _ in 0..400 {
        if loops_backed_by(|f| f == img).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    tracing::warn!(img = %img.display(), "loop device still attached");
}

/// Loop devices whose backing file `matches` (the kernel's view, in
/// /sys/block/loopN/loop/backing_file).
pub fn loops_backed_by(matches: impl Fn(&Path) -> bool) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let f = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let f = PathBuf::from(f.trim());
            matches(&f).then(|| (e.file_name().to_string_lossy().into_owned(), f))
        })
        .collect()
}

/// Detaches a loop device (a crash's leftover no mount holds).
pub fn detach_loop(name: &str) {
    if let Ok(fd) = open(&Path::new("/dev").join(name), libc::O_RDWR) {
        // SAFETY: a plain ioctl on our fd.
        unsafe { libc::ioctl(fd.as_raw_fd(), LOOP_CLR_FD) };
    }
}
