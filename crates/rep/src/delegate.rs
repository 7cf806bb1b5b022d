//! The container calls the processors make, logging failures as Diego's
//! container delegate does, and the context they share.

use crate::evacuation_context::EvacuationContext;
use crate::executor_client::{ExecutorClient, ExecutorError};
use bbs_client::InternalBbsClient;
use executor::{Container, RunInfo, Tags};
use std::io::Read;
use std::sync::Arc;

/// Diego's rep reads at most this much of a task's result file.
pub const MAX_RESULT_SIZE: usize = 1024 * 50;

/// Everything an operation needs.
#[derive(Clone)]
pub struct Context {
    pub cell_id: String,
    pub zone: String,
    pub bbs: Arc<dyn InternalBbsClient>,
    pub executor: Arc<dyn ExecutorClient>,
    pub evacuation: EvacuationContext,
}

fn log_failure(what: &str, guid: &str, e: &ExecutorError) {
    match e {
        ExecutorError::ContainerNotFound => tracing::info!(guid, "{what}: container not found"),
        e => tracing::error!(guid, error = %e, "{what}"),
    }
}

impl Context {
    pub async fn get_container(&self, guid: &str) -> Option<Container> {
        match self.executor.get_container(guid).await {
            Ok(c) => Some(c),
            Err(e) => {
                log_failure("failed-fetch-container", guid, &e);
                None
            }
        }
    }

    /// Runs the container; on failure deletes it. Whether it runs.
    pub async fn run_container(&self, guid: &str, info: RunInfo, tags: Tags) -> bool {
        match self.executor.run_container(guid, info, tags).await {
            Ok(()) => true,
            Err(e) => {
                log_failure("failed-running-container", guid, &e);
                self.delete_container(guid).await;
                false
            }
        }
    }

    pub async fn stop_container(&self, guid: &str) -> bool {
        match self.executor.stop_container(guid).await {
            Ok(()) => true,
            Err(e) => {
                log_failure("failed-stopping-container", guid, &e);
                false
            }
        }
    }

    pub async fn delete_container(&self, guid: &str) -> bool {
        match self.executor.delete_container(guid).await {
            Ok(()) => true,
            Err(e) => {
                log_failure("failed-deleting-container", guid, &e);
                false
            }
        }
    }

    /// The first file of the tar stream of `path` in the container, at most
    /// [`MAX_RESULT_SIZE`] bytes.
    pub async fn fetch_result_file(&self, guid: &str, path: &str) -> anyhow::Result<String> {
        let tar = self.executor.get_files(guid, path).await?;
        first_tar_entry(&tar, MAX_RESULT_SIZE)
    }
}

fn first_tar_entry(tar: &[u8], max: usize) -> anyhow::Result<String> {
    let mut archive = tar::Archive::new(tar);
    let mut entry = archive
        .entries()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("empty result stream"))??;
    let mut buf = Vec::new();
    (&mut entry).take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        anyhow::bail!("result file is too large (over {max} bytes)");
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "result", data).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn result_file_is_read_up_to_the_limit() {
        assert_eq!(first_tar_entry(&tar_of(b"42"), 10).unwrap(), "42");
        assert_eq!(first_tar_entry(&tar_of(&[b'x'; 10]), 10).unwrap().len(), 10);
        assert!(first_tar_entry(&tar_of(&[b'x'; 11]), 10).is_err());
    }
}
