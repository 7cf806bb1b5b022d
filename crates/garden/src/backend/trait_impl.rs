//! The `Backend` API on the runc backend.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

use super::lifecycle::valid_handle;
use super::RuncBackend;
use crate::api::*;
use crate::cgroups::Cgroup;
use crate::host::{disk_usage, mem_total, statvfs_total};
use crate::image_rootfs;
use crate::process::{oci_process, RuncProcess};
use crate::rootfs::lookup_user;
use crate::streams;

#[async_trait]
impl Backend for RuncBackend {
    async fn ping(&self) -> Result<(), GardenError> {
        crate::cmd::run(
            &self.inner.runtime.binary.display().to_string(),
            &["--version"],
            None,
        )
        .await
        .map(drop)
    }

    async fn create(&self, mut spec: ContainerSpec) -> Result<ContainerInfo, GardenError> {
        if !valid_handle(&spec.handle) {
            return Err(GardenError::InvalidSpec(format!(
                "invalid handle: {:?}",
                spec.handle
            )));
        }
        if spec.privileged && !self.inner.cfg.allow_privileged {
            return Err(GardenError::InvalidSpec(
                "privileged container creation is disabled".into(),
            ));
        }
        for rule in &spec.net_out {
            crate::network::netout::validate(rule)?;
        }
        spec.image = self.image_ref(&spec.image)?;
        // An image is pulled before anything is reserved: a failed pull
        // leaves nothing to undo (and the store keeps no partial layer).
        let image = if image_rootfs::is_image(&spec.image) {
            let userns = self.userns(spec.privileged);
            let image = self.inner.images.pull(&spec, userns).await?;
            spec.env = image_rootfs::merge_env(&image.env(), &spec.env);
            Some(image)
        } else {
            self.preloaded(&spec.image)?;
            None
        };
        let mut rec = self.reserve(&spec)?;
        let result = match self.ensure_host().await {
            Ok(()) => self.build(&mut rec, image.as_ref()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(handle = %rec.handle, error = %e, "create failed; rolling back");
            if let Err(e2) = self.teardown(&rec).await {
                tracing::error!(handle = %rec.handle, error = %e2, "rolling back a failed create");
            }
            self.inner
                .state
                .lock()
                .expect("state lock")
                .busy
                .remove(&rec.handle);
            return Err(e);
        }
        let info = self.info_of(&rec);
        let mut st = self.inner.state.lock().expect("state lock");
        st.busy.remove(&rec.handle);
        st.containers.insert(rec.handle.clone(), Arc::new(rec));
        tracing::info!(handle = %spec.handle, ip = %info.container_ip, "created");
        Ok(info)
    }

    async fn destroy(&self, handle: &str) -> Result<(), GardenError> {
        let rec = loop {
            {
                let mut st = self.inner.state.lock().expect("state lock");
                if let Some(rec) = st.containers.remove(handle) {
                    st.busy.insert(handle.into());
                    break rec;
                }
                if !st.busy.contains(handle) {
                    return Err(GardenError::ContainerNotFound(handle.into()));
                }
            }
            // Being created or destroyed: answer once that is over. An
            // early "not found" would let a cell exit while the other
            // destroy still unmounts, or a create finish after it.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let result = self.teardown(&rec).await;
        let mut st = self.inner.state.lock().expect("state lock");
        st.busy.remove(handle);
        if result.is_err() {
            st.containers.insert(handle.into(), rec);
        }
        result
    }

    async fn containers(&self, filter: &Properties) -> Result<Vec<String>, GardenError> {
        let st = self.inner.state.lock().expect("state lock");
        let mut handles: Vec<String> = st
            .containers
            .values()
            .filter(|r| filter.iter().all(|(k, v)| r.properties.get(k) == Some(v)))
            .map(|r| r.handle.clone())
            .collect();
        handles.sort();
        Ok(handles)
    }

    async fn info(&self, handle: &str) -> Result<ContainerInfo, GardenError> {
        let rec = self.record(handle)?;
        Ok(self.info_of(&rec))
    }

    async fn metrics(&self, handle: &str) -> Result<ContainerMetrics, GardenError> {
        let rec = self.record(handle)?;
        let cg = Cgroup::new(self.inner.cgroup_version, rec.cgroups_path.clone());
        let upper = self.overlay(&rec)?.upper();
        let disk = tokio::task::spawn_blocking(move || disk_usage(&upper))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        // The host end of the veth sees the container's traffic mirrored:
        // what it receives the container sent.
        let veth = rec.host_iface.clone().unwrap_or_default();
        let stat = |name: &str| {
            std::fs::read_to_string(format!("/sys/class/net/{veth}/statistics/{name}"))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        Ok(ContainerMetrics {
            memory_usage_bytes: cg.memory_usage(),
            disk_usage_bytes: disk,
            cpu_usage: cg.cpu_usage(),
            rx_bytes: stat("tx_bytes"),
            tx_bytes: stat("rx_bytes"),
        })
    }

    async fn run(
        &self,
        handle: &str,
        spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Box<dyn Process>, GardenError> {
        let rec = self.record(handle)?;
        if spec.is_pea() {
            return self.run_pea(&rec, spec, io).await;
        }
        let root = self.overlay(&rec)?.merged();
        let user = lookup_user(&root, &spec.user)?;
        let process = oci_process(&spec, &rec.env, &user, rec.privileged)?;
        let n = self.inner.next_process.fetch_add(1, Ordering::Relaxed);
        let id = format!("{handle}-{n}");
        let dir = self.container_dir(handle).join("processes");
        let owner = self.host_owner(&rec, &user);
        let p = RuncProcess::spawn(&self.inner.runtime, handle, id, dir, &process, io, owner)?;
        Ok(Box::new(p))
    }

    async fn stream_in(
        &self,
        handle: &str,
        dst_path: &str,
        user: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), GardenError> {
        let rec = self.record(handle)?;
        let root = self.overlay(&rec)?.merged();
        let user = lookup_user(&root, user)?;
        let owner = self.host_owner(&rec, &user);
        let dst = from_home(&user.home, dst_path);
        let reader = tokio_util::io::SyncIoBridge::new(tar);
        tokio::task::spawn_blocking(move || streams::stream_in(&root, &dst, owner, reader))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?
    }

    async fn stream_out(&self, handle: &str, src_path: &str) -> Result<Bytes, GardenError> {
        let rec = self.record(handle)?;
        let root = self.overlay(&rec)?.merged();
        let map = rec.userns.then_some(self.inner.cfg.id_map);
        // Streaming out has no user: relative paths are root's (as Garden,
        // which runs it as root in root's home).
        let src = from_home("/root", src_path);
        let tar =
            tokio::task::spawn_blocking(move || streams::stream_out(&root, &src, map.as_ref()))
                .await
                .map_err(|e| GardenError::Runtime(e.to_string()))??;
        Ok(Bytes::from(tar))
    }

    async fn capacity(&self) -> Result<Capacity, GardenError> {
        let memory_bytes = mem_total();
        let disk_bytes = statvfs_total(&self.inner.cfg.depot);
        let subnet_size = self.inner.net.capacity();
        let max_containers = match self.inner.cfg.max_containers {
            0 => subnet_size,
            n => n.min(subnet_size),
        };
        Ok(Capacity {
            memory_bytes,
            disk_bytes,
            max_containers,
        })
    }

    async fn release_parents(&self) {
        // Under the host lock: a create reserves its handle (under the
        // state lock) before it makes sure of the host (under this one),
        // so none is half-way while the host goes.
        let mut up = self.inner.host_up.lock().await;
        {
            let st = self.inner.state.lock().expect("state lock");
            let left = st.containers.len() + st.busy.len();
            if left > 0 {
                tracing::info!(
                    containers = left,
                    "containers left; keeping the host set up"
                );
                return;
            }
            self.parent_cgroup().remove_if_empty();
        }
        self.inner.net.teardown_host().await;
        *up = false;
        tracing::info!(tag = %self.inner.cfg.tag, "host released");
    }

    async fn stop(&self, handle: &str, kill: bool) -> Result<(), GardenError> {
        self.stop_container(handle, kill).await
    }

    async fn set_property(
        &self,
        handle: &str,
        key: &str,
        value: Option<String>,
    ) -> Result<(), GardenError> {
        let dir = self.container_dir(handle);
        let mut st = self.inner.state.lock().expect("state lock");
        let rec = st
            .containers
            .get(handle)
            .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))?;
        let mut changed = (**rec).clone();
        match value {
            Some(v) => changed.properties.insert(key.to_string(), v),
            None => changed.properties.remove(key),
        };
        // Saved first: a restarted backend reloads its containers from it.
        changed.save(&dir)?;
        st.containers.insert(handle.to_string(), Arc::new(changed));
        Ok(())
    }
}

/// A relative stream path is relative to the user's home, as Garden's
/// (nstar changes to the home directory first): a droplet downloaded to
/// "." lands in /home/vcap.
fn from_home(home: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", home.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod stream_path_tests {
    #[test]
    fn relative_paths_start_at_home() {
        assert_eq!(super::from_home("/home/vcap", "."), "/home/vcap/.");
        assert_eq!(super::from_home("/home/vcap/", "app"), "/home/vcap/app");
        assert_eq!(super::from_home("/home/vcap", "/tmp/app"), "/tmp/app");
    }
}
