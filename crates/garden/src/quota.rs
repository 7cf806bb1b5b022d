//! Disk limits: the container's writable layer on a filesystem of its own
//! size. The depot's filesystem may have no project quotas (Garden's
//! grootfs uses XFS quotas); a sparse file formatted as ext4 and
//! loop-mounted works on any filesystem, at the price of about 90 ms per
//! create and destroy, so it is opt-in (`RuncConfig::enforce_disk_limits`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::api::GardenError;
use crate::cmd::run;

/// ext4 needs a few MB for itself; smaller limits get this much.
const MIN_BYTES: u64 = 16 << 20;

/// Where the container's upper and work directories live (a mount point
/// when the disk is limited).
pub fn layer_dir(container_dir: &Path) -> PathBuf {
    container_dir.join("layer")
}

pub async fn make_limited_layer(container_dir: &Path, bytes: u64) -> Result<(), GardenError> {
    let img = container_dir.join("layer.img");
    let layer = layer_dir(container_dir);
    std::fs::create_dir_all(&layer)?;
    std::fs::File::create(&img)?.set_len(bytes.max(MIN_BYTES))?;
    let img_s = img.display().to_string();
    // No journal and no reserved blocks: the whole size is the container's,
    // and nothing outlives the container that a journal would protect.
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-O",
            "^has_journal",
            "-m",
            "0",
            "-E",
            "nodiscard",
            &img_s,
        ],
        None,
    )
    .await?;
    // mount -o loop sets the loop device to free itself on unmount.
    run(
        "mount",
        &["-o", "loop", &img_s, &layer.display().to_string()],
        None,
    )
    .await?;
    Ok(())
}

/// Unmounts the layer if it is a mount; the loop device goes with it.
pub fn unmount_layer(container_dir: &Path) -> Result<(), GardenError> {
    let target = CString::new(layer_dir(container_dir).as_os_str().as_bytes())
        .map_err(|_| GardenError::InvalidSpec("path with NUL".into()))?;
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
    let img = container_dir.join("layer.img");
    if img.exists() {
        wait_loop_released(&img);
    }
    Ok(())
}

/// The loop device frees itself after the unmount, but the kernel may do
/// that a moment later; destroy returns once it has, so nothing is left.
fn wait_loop_released(img: &Path) {
    for _ in 0..400 {
        if !loop_backed_by(img) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    tracing::warn!(img = %img.display(), "loop device still attached");
}

fn loop_backed_by(img: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return false;
    };
    rd.flatten().any(|e| {
        std::fs::read_to_string(e.path().join("loop/backing_file"))
            .is_ok_and(|f| Path::new(f.trim()) == img)
    })
}
