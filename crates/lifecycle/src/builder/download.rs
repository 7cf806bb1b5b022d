//! Buildpacks named by URL (`cf push -b https://.../bp.zip` or a git URL):
//! fetched into the download directory before staging, as Diego's builder
//! does, with the stack's own `curl`, `unzip` and `git` (the builder stays a
//! small static binary without an HTTP or TLS stack of its own).

use super::errors::StagingError;
use std::path::Path;
use std::process::Command;

/// Whether the URL's path names a zip file.
pub fn is_zip_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Downloads the zip at `url` and extracts it into `destination`; the
/// downloaded size in bytes.
pub fn download_zip(
    url: &str,
    destination: &Path,
    skip_cert_verify: bool,
) -> Result<u64, StagingError> {
    std::fs::create_dir_all(destination)?;
    let tmp = destination.with_extension("zip.download");
    let mut curl = Command::new("curl");
    curl.args(["--fail", "--silent", "--show-error", "--location"]);
    if skip_cert_verify {
        curl.arg("--insecure");
    }
    curl.arg("--output").arg(&tmp).arg(url);
    let out = curl
        .output()
        .map_err(|e| format!("Could not create zip file: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Failed to download buildpack '{url}': {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let size = std::fs::metadata(&tmp)
        .map(|m| m.len())
        .map_err(|e| format!("Failed to obtain the size of the buildpack '{url}': {e}"))?;
    let out = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&tmp)
        .arg("-d")
        .arg(destination)
        .output();
    let _ = std::fs::remove_file(&tmp);
    match out {
        Ok(o) if o.status.success() => Ok(size),
        Ok(o) => Err(format!(
            "Failed to extract buildpack '{url}': {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )
        .into()),
        Err(e) => Err(format!("Failed to extract buildpack '{url}': {e}").into()),
    }
}

/// Clones the git repository at `url` (a `#branch` fragment picks the
/// branch) into `destination`.
pub fn git_clone(url: &str, destination: &Path) -> Result<(), StagingError> {
    let (repo, branch) = match url.split_once('#') {
        Some((r, b)) => (r, Some(b)),
        None => (url, None),
    };
    if destination.exists() {
        std::fs::remove_dir_all(destination).map_err(|e| {
            format!(
                "Failed to remove {} prior to cloning on top: {e}",
                destination.display()
            )
        })?;
    }
    let mut git = Command::new("git");
    git.args(["clone", "--depth", "1", "--recursive"]);
    if let Some(b) = branch.filter(|b| !b.is_empty()) {
        git.args(["-b", b]);
    }
    git.arg(repo).arg(destination);
    match git.output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err(format!("Failed to clone git repository at {repo}").into()),
    }
}

/// Go's bytefmt.ByteSize, as "Downloaded buildpack ... (1.5M)" shows it.
pub fn byte_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
        (1, "B"),
    ];
    if bytes == 0 {
        return "0B".into();
    }
    let (unit, suffix) = UNITS.iter().find(|(u, _)| bytes >= *u).expect("bytes > 0");
    let value = format!("{:.1}", bytes as f64 / *unit as f64);
    format!("{}{suffix}", value.strip_suffix(".0").unwrap_or(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_urls_by_their_path() {
        assert!(is_zip_url("https://example.com/bp/python.zip"));
        assert!(is_zip_url("http://fs/v1/static/bp.ZIP?token=x"));
        assert!(!is_zip_url(
            "https://github.com/cloudfoundry/python-buildpack#v1.0"
        ));
        assert_eq!(byte_size(1536), "1.5K");
        assert_eq!(byte_size(5 << 20), "5M");
    }
}
