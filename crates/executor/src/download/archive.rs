//! Downloads become tar streams for the container: a tgz is unzipped, a zip
//! rewritten as a tar, a tar kept.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

pub const UNKNOWN_FORMAT: &str = "unknown archive format";

/// Writes `src` (tgz, zip or tar) as a plain tar to `dst`.
pub fn to_tar(src: &Path, dst: &Path) -> io::Result<()> {
    let mut f = File::open(src)?;
    let mut magic = [0u8; 262];
    let n = read_up_to(&mut f, &mut magic)?;
    f.seek(SeekFrom::Start(0))?;
    let mut out = File::create(dst)?;
    if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        io::copy(
            &mut flate2::read::GzDecoder::new(BufReader::new(f)),
            &mut out,
        )?;
    } else if n >= 4 && (magic[..4] == *b"PK\x03\x04" || magic[..4] == *b"PK\x05\x06") {
        zip_to_tar(f, out)?;
    } else if n >= 262 && &magic[257..262] == b"ustar" {
        io::copy(&mut f, &mut out)?;
    } else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, UNKNOWN_FORMAT));
    }
    Ok(())
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn zip_to_tar(f: File, out: File) -> io::Result<()> {
    let mut zip = zip::ZipArchive::new(BufReader::new(f))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut tar = tar::Builder::new(out);
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        // Names that would climb out of the destination are refused.
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let mode = entry.unix_mode();
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        if entry.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(mode.map(|m| m & 0o7777).unwrap_or(0o755));
            header.set_size(0);
            tar.append_data(&mut header, &name, io::empty())?;
        } else if mode.is_some_and(|m| m & 0o170000 == 0o120000) {
            let mut target = String::new();
            entry.read_to_string(&mut target)?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            tar.append_link(&mut header, &name, target)?;
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(mode.map(|m| m & 0o7777).unwrap_or(0o644));
            header.set_size(entry.size());
            tar.append_data(&mut header, &name, &mut entry)?;
        }
    }
    tar.into_inner()?;
    Ok(())
}
