//! Unpacked layers stacked by the real kernel: an overlayfs mount of them
//! shows what the OCI layer spec says the image holds (whiteouts hide
//! lower files, an opaque directory hides the lower directory's content
//! but keeps its own). Needs root (mknod, trusted.* attributes, mount).

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use image::IdShift;

fn tar(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, name, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                h.set_cksum();
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn mount_ro_overlay(lowers: &[&Path], target: &Path) {
    let opts = format!(
        "lowerdir={}",
        lowers
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    let c = |s: &[u8]| CString::new(s).unwrap();
    let (src, tgt, data) = (
        c(b"overlay"),
        c(target.as_os_str().as_bytes()),
        c(opts.as_bytes()),
    );
    // SAFETY: valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            src.as_ptr(),
            libc::MS_RDONLY,
            data.as_ptr() as *const _,
        )
    };
    assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
}

struct Unmount<'a>(&'a Path);
impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let t = CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn overlayfs_shows_the_image_the_layers_describe() {
    testkit::skip_if!(testkit::skip::not_root());
    let t = tempfile::tempdir().unwrap();
    let base = tar(&[
        ("etc/", None),
        ("etc/keep", Some(b"k")),
        ("etc/gone", Some(b"g")),
        ("opt/", None),
        ("opt/old-a", Some(b"a")),
        ("opt/old-b", Some(b"b")),
        ("srv/", None),
        ("srv/data", Some(b"d")),
    ]);
    let top = tar(&[
        ("etc/.wh.gone", Some(b"")),
        ("opt/", None),
        ("opt/.wh..wh..opq", Some(b"")),
        ("opt/new", Some(b"n")),
        (".wh.srv", Some(b"")),
    ]);
    let mut dirs = Vec::new();
    for (i, layer) in [gz(&base), gz(&top)].iter().enumerate() {
        let d = t.path().join(format!("layer{i}"));
        std::fs::create_dir(&d).unwrap();
        let mut r = std::io::BufReader::new(std::io::Cursor::new(layer.clone()));
        image::unpack::unpack(&mut r, &d, &IdShift::none(), None).unwrap();
        dirs.push(d);
    }
    let merged = t.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    mount_ro_overlay(&[&dirs[1], &dirs[0]], &merged);
    let _u = Unmount(&merged);
    let names = |d: &str| {
        let mut v: Vec<String> = std::fs::read_dir(merged.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("etc"), vec!["keep"], "the whiteout hides etc/gone");
    assert_eq!(
        names("opt"),
        vec!["new"],
        "opaque: the lower opt/ is hidden, its own stays"
    );
    assert!(!merged.join("srv").exists(), "a whited-out directory");
    assert_eq!(std::fs::read(merged.join("etc/keep")).unwrap(), b"k");
}
