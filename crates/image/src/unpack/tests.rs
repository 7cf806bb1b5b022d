use super::*;
use std::io::Cursor;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

/// A tar built entry by entry; names are written raw, so archives the
/// tar crate would refuse to make (`..`) can be made too.
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Self {
        Tar(Vec::new())
    }

    fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h
    }

    fn push(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0, pad));
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.owned_file(name, data, 0, 0, 0o644)
    }

    fn owned_file(&mut self, name: &str, data: &[u8], uid: u64, gid: u64, mode: u32) -> &mut Self {
        let mut h = Self::header(name, tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.push(h, data)
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.push(Self::header(name, tar::EntryType::Directory, mode, 0), &[])
    }

    fn link(&mut self, name: &str, kind: tar::EntryType, target: &str) -> &mut Self {
        let mut h = Self::header(name, kind, 0o777, 0);
        let t = target.as_bytes();
        h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
        self.push(h, &[])
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(name, tar::EntryType::Symlink, target)
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(name, tar::EntryType::Link, target)
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = self.0.clone();
        b.extend(std::iter::repeat_n(0, 1024));
        b
    }
}

fn unpack_bytes(bytes: &[u8], dest: &Path, shift: &IdShift) -> io::Result<Unpacked> {
    let mut r = io::BufReader::new(Cursor::new(bytes.to_vec()));
    unpack(&mut r, dest, shift, None)
}

fn layer_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("rootfs");
    std::fs::create_dir(&d).unwrap();
    (t, d)
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(b)))
}

#[test]
fn files_dirs_links_with_their_metadata() {
    let (_t, d) = layer_dir();
    let tar = Tar::new()
        .dir("etc/", 0o755)
        .file("etc/hello", b"hi\n")
        .owned_file("bin/tool", b"#!/bin/sh\n", 0, 0, 0o4755)
        .symlink("etc/link", "/etc/hello")
        .hardlink("etc/hard", "etc/hello")
        .dir("var/empty/", 0o700)
        .bytes();
    let u = unpack_bytes(&tar, &d, &IdShift::none()).unwrap();
    assert_eq!(u.diff_id, sha256(&tar));
    assert_eq!(u.entries, 6);
    assert_eq!(std::fs::read(d.join("etc/hello")).unwrap(), b"hi\n");
    let m = std::fs::metadata(d.join("bin/tool")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755, "set-uid kept");
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(
        std::fs::read_link(d.join("etc/link")).unwrap(),
        Path::new("/etc/hello")
    );
    let hard = std::fs::metadata(d.join("etc/hard")).unwrap();
    assert_eq!(
        hard.ino(),
        std::fs::metadata(d.join("etc/hello")).unwrap().ino()
    );
    let empty = std::fs::metadata(d.join("var/empty")).unwrap();
    assert_eq!(empty.permissions().mode() & 0o777, 0o700);
    assert_eq!(empty.mtime(), 1_600_000_000, "directory times set last");
    // bin/ was implied: made 0755.
    assert_eq!(
        std::fs::metadata(d.join("bin"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
}

#[test]
fn gzip_zstd_and_plain_give_the_same_tree_and_diff_id() {
    let tar = Tar::new().file("a/b", b"payload").bytes();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::encode_all(Cursor::new(&tar), 3).unwrap();
    for (what, bytes) in [("plain", tar.clone()), ("gzip", gz), ("zstd", zst)] {
        let (_t, d) = layer_dir();
        let u = unpack_bytes(&bytes, &d, &IdShift::none()).unwrap();
        assert_eq!(u.diff_id, sha256(&tar), "{what}");
        assert_eq!(std::fs::read(d.join("a/b")).unwrap(), b"payload", "{what}");
    }
}

#[test]
fn the_whole_stream_is_read() {
    // Garbage after the archive's end still passes through (the blob's
    // digest is computed over what unpacking reads).
    let mut bytes = Tar::new().file("x", b"1").bytes();
    bytes.extend_from_slice(&[7u8; 5000]);
    let (_t, d) = layer_dir();
    let mut r = io::BufReader::new(Cursor::new(bytes.clone()));
    unpack(&mut r, &d, &IdShift::none(), None).unwrap();
    assert_eq!(r.fill_buf().unwrap().len(), 0);
}

#[test]
fn dotdot_paths_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let (_t, d) = layer_dir();
    let name = format!("../../../../../../..{}/pwned", outside.path().display());
    let tar = Tar::new().file(&name, b"x").bytes();
    let e = unpack_bytes(&tar, &d, &IdShift::none()).unwrap_err();
    assert!(e.to_string().contains("leaves the layer"), "{e}");
    assert!(!outside.path().join("pwned").exists());
}

#[test]
fn symlinks_cannot_lead_writes_out_of_the_layer() {
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().display().to_string();
    let (_t, d) = layer_dir();
    let tar = Tar::new()
        .dir("inside/", 0o755)
        .symlink("abs", "/inside")
        .file("abs/f-abs", b"x")
        .symlink("rel", "../../../../../../../../..")
        .file(&format!("rel{out}/pwned-rel"), b"x")
        .symlink("dir/up", "..")
        .file("dir/up/up/up/f-up", b"x")
        .bytes();
    unpack_bytes(&tar, &d, &IdShift::none()).unwrap();
    assert!(!outside.path().join("pwned-rel").exists(), "escaped");
    // Each resolved inside the layer, as the container would see it.
    assert!(d.join("inside/f-abs").exists());
    assert!(d
        .join(out.trim_start_matches('/'))
        .join("pwned-rel")
        .exists());
    assert!(d.join("up/up/f-up").exists());
}

#[test]
fn a_symlink_to_outside_is_no_way_out() {
    // The link leads (inside the layer) nowhere: writing through it fails
    // rather than making the directory it names, and nothing escapes.
    for replaced_dir in [false, true] {
        let outside = tempfile::tempdir().unwrap();
        let (_t, d) = layer_dir();
        let mut tar = Tar::new();
        if replaced_dir {
            tar.file("a/b", b"1");
        }
        tar.symlink("a", &outside.path().display().to_string())
            .file("a/pwned", b"x");
        let r = unpack_bytes(&tar.bytes(), &d, &IdShift::none());
        assert!(r.is_err(), "{r:?}");
        assert!(!outside.path().join("pwned").exists());
        assert!(d
            .join("a")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
    }
}

#[test]
fn the_last_component_symlink_is_replaced_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), b"keep").unwrap();
    let (_t, d) = layer_dir();
    let victim = outside.path().join("victim").display().to_string();
    let tar = Tar::new().symlink("f", &victim).file("f", b"new").bytes();
    unpack_bytes(&tar, &d, &IdShift::none()).unwrap();
    assert_eq!(
        std::fs::read(outside.path().join("victim")).unwrap(),
        b"keep"
    );
    assert_eq!(std::fs::read(d.join("f")).unwrap(), b"new");
}

#[test]
fn hard_links_cannot_reach_files_outside() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"s").unwrap();
    let out = outside.path().display().to_string();
    for tar in [
        Tar::new()
            .hardlink("h", &format!("../../../../..{out}/secret"))
            .bytes(),
        Tar::new()
            .symlink("s", &out)
            .hardlink("h", "s/secret")
            .bytes(),
        Tar::new().hardlink("h", &format!("{out}/secret")).bytes(),
    ] {
        let (_t, d) = layer_dir();
        assert!(unpack_bytes(&tar, &d, &IdShift::none()).is_err());
        assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 1);
    }
}

#[test]
fn whiteouts_become_overlayfs_whiteouts() {
    testkit::skip_if!(testkit::skip::not_root());
    let (_t, d) = layer_dir();
    let tar = Tar::new()
        .file("etc/.wh.gone", b"")
        .dir("opt/", 0o755)
        .file("opt/.wh..wh..opq", b"")
        .file("opt/new", b"n")
        .file("keep/.wh.here", b"")
        .file("keep/here", b"this layer's own file stays")
        .bytes();
    unpack_bytes(&tar, &d, &IdShift::none()).unwrap();
    let wh = std::fs::symlink_metadata(d.join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!d.join("etc/.wh.gone").exists());
    assert_eq!(
        xattr(&d.join("opt"), OPAQUE_XATTR).as_deref(),
        Some(&b"y"[..])
    );
    assert!(!d.join("opt/.wh..wh..opq").exists());
    assert!(d.join("opt/new").exists());
    assert!(d.join("keep/here").is_file());
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: buffers valid for the call.
    let len = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr() as *mut _,
            buf.len(),
        )
    };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

#[test]
fn owners_are_shifted_into_the_map() {
    testkit::skip_if!(testkit::skip::not_root());
    let tar = Tar::new()
        .owned_file("home/vcap/app", b"x", 2000, 2000, 0o640)
        .owned_file("root-file", b"x", 0, 0, 0o600)
        .symlink("l", "root-file")
        .bytes();
    let (_t, d) = layer_dir();
    unpack_bytes(&tar, &d, &IdShift::none()).unwrap();
    let owner = |p: &str| {
        let m = std::fs::symlink_metadata(d.join(p)).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner("home/vcap/app"), (2000, 2000));
    assert_eq!(owner("root-file"), (0, 0));

    let shift = IdShift::offset(100_000, 65536);
    let (_t2, d) = layer_dir();
    unpack_bytes(&tar, &d, &shift).unwrap();
    let owner = |p: &str| {
        let m = std::fs::symlink_metadata(d.join(p)).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner("home/vcap/app"), (102_000, 102_000));
    assert_eq!(owner("root-file"), (100_000, 100_000));
    assert_eq!(owner("l"), (100_000, 100_000), "symlinks themselves");
    assert_eq!(
        owner("home"),
        (100_000, 100_000),
        "implied directories: container root"
    );
    assert_eq!(
        std::fs::metadata(d.join("home/vcap/app"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );

    let outside = Tar::new().owned_file("x", b"x", 70_000, 0, 0o644).bytes();
    let (_t3, d) = layer_dir();
    let e = unpack_bytes(&outside, &d, &shift).unwrap_err();
    assert!(e.to_string().contains("uid 70000 has no host id"), "{e}");
}

#[test]
fn device_nodes_are_not_made() {
    let mut t = Tar::new();
    let mut h = Tar::header("dev/sda", tar::EntryType::Block, 0o660, 0);
    h.set_device_major(8).unwrap();
    t.push(h, &[]);
    t.file("ok", b"1");
    let (_t, d) = layer_dir();
    unpack_bytes(&t.bytes(), &d, &IdShift::none()).unwrap();
    assert!(!d.join("dev/sda").exists());
    assert!(d.join("ok").exists());
}

#[test]
fn layers_larger_than_allowed_stop() {
    let tar = Tar::new().file("big", &vec![1u8; 64 * 1024]).bytes();
    let (_t, d) = layer_dir();
    let mut r = io::BufReader::new(Cursor::new(tar));
    let budget = Budget::new(16 * 1024);
    let e = unpack(&mut r, &d, &IdShift::none(), Some(&budget)).unwrap_err();
    assert_eq!(TooLarge::find(&e), Some(TooLarge { limit: 16 * 1024 }));
    assert!(e.to_string().contains("unpacks to more than"), "{e}");
}

#[test]
fn the_layers_of_one_image_share_a_budget() {
    let budget = Budget::new(100 * 1024);
    let layer = Tar::new().file("f", &vec![1u8; 60 * 1024]).bytes();
    let (_t1, d1) = layer_dir();
    let mut r = io::BufReader::new(Cursor::new(layer.clone()));
    unpack(&mut r, &d1, &IdShift::none(), Some(&budget)).unwrap();
    let (_t2, d2) = layer_dir();
    let mut r = io::BufReader::new(Cursor::new(layer));
    let e = unpack(&mut r, &d2, &IdShift::none(), Some(&budget)).unwrap_err();
    assert!(TooLarge::find(&e).is_some(), "{e}");
    // Stopped before the file was written.
    assert!(!d2.join("f").exists());
}

#[test]
fn pax_times_parse() {
    let t = pax_time("1600000000.5").unwrap();
    assert_eq!((t.tv_sec, t.tv_nsec), (1_600_000_000, 500_000_000));
    assert_eq!(pax_time("12").unwrap().tv_nsec, 0);
    assert!(pax_time("x").is_none());
}
