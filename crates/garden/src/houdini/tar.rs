//! Tar streams in and out of a houdini container, by the host's `tar`.

use crate::api::GardenError;
use bytes::Bytes;
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncRead;

/// Extracts `tar` into `dst` (created if missing).
pub(crate) async fn extract(
    dst: &Path,
    mut tar: Box<dyn AsyncRead + Send + Unpin>,
) -> Result<(), GardenError> {
    tokio::fs::create_dir_all(dst).await?;
    let mut child = tokio::process::Command::new("tar")
        .arg("-x")
        .arg("--no-same-owner")
        .arg("-C")
        .arg(dst)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let copied = tokio::io::copy(&mut tar, &mut stdin).await;
    drop(stdin);
    let out = child.wait_with_output().await?;
    copied?;
    if !out.status.success() {
        return Err(GardenError::Runtime(format!(
            "tar extract: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// A tar of `src`: one entry named after it (a file, or a directory with
/// its contents), or, when `contents_only`, the directory's contents.
pub(crate) async fn create(src: &Path, contents_only: bool) -> Result<Bytes, GardenError> {
    if tokio::fs::symlink_metadata(src).await.is_err() {
        return Err(GardenError::Runtime(format!(
            "stream out: {} does not exist",
            src.display()
        )));
    }
    let mut cmd = tokio::process::Command::new("tar");
    cmd.arg("-c");
    if contents_only {
        cmd.arg("-C").arg(src).arg(".");
    } else {
        let parent = src.parent().unwrap_or(Path::new("/"));
        let name = src
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        cmd.arg("-C").arg(parent).arg(name);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await?;
    if !out.status.success() {
        return Err(GardenError::Runtime(format!(
            "tar create: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(Bytes::from(out.stdout))
}
