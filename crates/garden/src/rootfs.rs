//! Root filesystems: the busybox rootfs tests and `diego dev` use, each
//! container's copy-on-write overlay of a preloaded rootfs, and looking
//! things up inside a rootfs without leaving it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::api::GardenError;

/// Builds a minimal rootfs in `dir` from the host's static busybox: the
/// applets as symlinks in /bin (what `busybox --install -s` makes), an
/// /etc/passwd with `root` and `vcap` (uid 2000, Diego's app user), /tmp.
pub fn build_busybox_rootfs(dir: &Path) -> Result<(), GardenError> {
    build_rootfs_from(Path::new("/usr/bin/busybox"), dir)
}

pub fn build_rootfs_from(busybox: &Path, dir: &Path) -> Result<(), GardenError> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "tmp",
        "root",
        "home/vcap",
        "proc",
        "sys",
        "dev",
        "var/tmp",
    ] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy(busybox, dir.join("bin/busybox"))?;
    let out = std::process::Command::new(busybox)
        .arg("--list-full")
        .output()?;
    if !out.status.success() {
        return Err(GardenError::Runtime(format!(
            "{} --list-full failed",
            busybox.display()
        )));
    }
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let link = dir.join(applet);
        if applet.is_empty() || link.exists() || link.symlink_metadata().is_ok() {
            continue;
        }
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        symlink("/bin/busybox", &link)?;
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2000:vcap:/home/vcap:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\nvcap:x:2000:\nnogroup:x:65534:\n",
    )?;
    chown(&dir.join("home/vcap"), 2000, 2000)?;
    Ok(())
}

pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), GardenError> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| GardenError::InvalidSpec("path with NUL".into()))?;
    // SAFETY: c is a valid NUL-terminated path; lchown does not follow
    // symlinks, so a link in a container cannot redirect it to the host.
    if unsafe { libc::lchown(c.as_ptr(), uid, gid) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// The container's root: an overlay of read-only lower layers (a
/// preloaded rootfs, or an image's layers) and a per-container upper
/// layer in the depot.
pub struct Overlay {
    /// Top first, as overlayfs stacks them.
    pub lowers: Vec<PathBuf>,
    /// Holds layer/{upper,work} (layer/ is a filesystem of its own when
    /// the disk is limited) and the merged mount point rootfs/.
    pub dir: PathBuf,
}

impl Overlay {
    pub fn upper(&self) -> PathBuf {
        crate::quota::layer_dir(&self.dir).join("upper")
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Mounts the overlay; the root of the merged tree (the upper
    /// directory's own attributes) gets the lower root's mode and is owned
    /// by `root_owner`, the host ids of the container's root.
    pub fn mount(&self, root_owner: (u32, u32)) -> Result<(), GardenError> {
        let work = crate::quota::layer_dir(&self.dir).join("work");
        for d in [self.upper(), work.clone(), self.merged()] {
            std::fs::create_dir_all(d)?;
        }
        let mut lowers = Vec::with_capacity(self.lowers.len());
        for l in &self.lowers {
            let s = l.display().to_string();
            // overlayfs splits its options at ',' and its lower dirs at ':'.
            if s.contains([',', ':']) {
                return Err(GardenError::Runtime(format!(
                    "layer path {s:?} has a ',' or ':' (the depot's path must not)"
                )));
            }
            lowers.push(s);
        }
        let top = self
            .lowers
            .first()
            .ok_or_else(|| GardenError::Runtime("overlay without a lower layer".into()))?;
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(top)?.permissions().mode() & 0o7777;
        chown(&self.upper(), root_owner.0, root_owner.1)?;
        std::fs::set_permissions(self.upper(), std::fs::Permissions::from_mode(mode))?;
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            self.upper().display(),
            work.display()
        );
        // The kernel takes one page of mount options.
        if opts.len() >= 4096 {
            return Err(GardenError::Runtime(format!(
                "the image's {} layers do not fit in an overlay mount's options",
                self.lowers.len()
            )));
        }
        mount_overlay(&self.merged(), &opts)
    }

    /// Unmounts if mounted (a half-created container may never have been).
    pub fn unmount(&self) -> Result<(), GardenError> {
        let target = CString::new(self.merged().as_os_str().as_bytes())
            .map_err(|_| GardenError::InvalidSpec("path with NUL".into()))?;
        // SAFETY: target is a valid NUL-terminated path. MNT_DETACH: a
        // process still holding a file open must not keep the mount around.
        let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            // EINVAL: not a mount point; ENOENT: never made.
            if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
                return Err(e.into());
            }
        }
        Ok(())
    }
}

fn mount_overlay(target: &Path, opts: &str) -> Result<(), GardenError> {
    let src = CString::new("overlay").expect("no NUL");
    let target = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| GardenError::InvalidSpec("path with NUL".into()))?;
    let data = CString::new(opts).map_err(|_| GardenError::InvalidSpec("path with NUL".into()))?;
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            src.as_ptr(),
            0,
            data.as_ptr() as *const libc::c_void,
        )
    };
    if rc != 0 {
        return Err(GardenError::Runtime(format!(
            "mounting overlay ({opts}): {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// A user of the container: from /etc/passwd when named, or a bare uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// `user`, `uid`, or with a group as images name them (`user:group`,
/// `uid:gid`, mixed).
pub fn lookup_user(root: &Path, user: &str) -> Result<User, GardenError> {
    match user.split_once(':') {
        Some((u, g)) => {
            let mut found = lookup_passwd_user(root, u)?;
            found.gid = lookup_group(root, g)?;
            Ok(found)
        }
        None => lookup_passwd_user(root, user),
    }
}

fn lookup_group(root: &Path, group: &str) -> Result<u32, GardenError> {
    let groups = crate::inroot::InRoot::open(root)
        .and_then(|r| r.read("/etc/group"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    for line in groups.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 3 && f[0] == group {
            if let Ok(gid) = f[2].parse() {
                return Ok(gid);
            }
        }
    }
    group
        .parse()
        .map_err(|_| GardenError::InvalidSpec(format!("unknown group: {group}")))
}

fn lookup_passwd_user(root: &Path, user: &str) -> Result<User, GardenError> {
    let user = if user.is_empty() { "root" } else { user };
    let passwd = crate::inroot::InRoot::open(root)
        .and_then(|r| r.read("/etc/passwd"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 6 && (f[0] == user || f[2] == user) {
            let uid = f[2].parse().unwrap_or(0);
            return Ok(User {
                name: f[0].into(),
                uid,
                gid: f[3].parse().unwrap_or(uid),
                home: f[5].into(),
            });
        }
    }
    match user.parse::<u32>() {
        Ok(uid) => Ok(User {
            name: user.into(),
            uid,
            gid: uid,
            home: "/".into(),
        }),
        Err(_) if user == "root" => Ok(User {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
        }),
        Err(_) => Err(GardenError::InvalidSpec(format!("unknown user: {user}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_come_from_passwd() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2001:vcap:/home/vcap:/bin/sh\n",
        )
        .unwrap();
        let vcap = lookup_user(root.path(), "vcap").unwrap();
        assert_eq!(
            (vcap.uid, vcap.gid, vcap.home.as_str()),
            (2000, 2001, "/home/vcap")
        );
        assert_eq!(lookup_user(root.path(), "").unwrap().uid, 0);
        assert_eq!(lookup_user(root.path(), "1234").unwrap().uid, 1234);
        assert!(lookup_user(root.path(), "nobody-here").is_err());
    }

    #[test]
    fn users_with_groups_as_images_give_them() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "vcap:x:2000:2001:vcap:/home/vcap:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/group"), "web:x:3000:\n").unwrap();
        let u = lookup_user(root.path(), "vcap:web").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (2000, 3000, "/home/vcap"));
        let u = lookup_user(root.path(), "1234:5678").unwrap();
        assert_eq!((u.uid, u.gid), (1234, 5678));
        assert!(lookup_user(root.path(), "vcap:nogroup").is_err());
    }
}
