//! Peas: processes with a root filesystem and bind mounts of their own
//! (Garden's; Diego runs its health checks and Envoy so, on its sidecar
//! rootfs). Each is a runtime container of its own in a directory under
//! its parent's (`peas/ID`): an overlay over its image, the parent's
//! network, pid, user, IPC and UTS namespaces (see `pea_bundle`), a cgroup
//! under the parent's (or of its own when it overrides the limits). When
//! its process exits the pea is removed, and the parent's teardown
//! removes the peas still running first.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::RuncBackend;
use crate::api::*;
use crate::cgroups::{self, Cgroup};
use crate::image_rootfs;
use crate::pea_bundle::{self, PeaBundleSpec};
use crate::process::{oci_process, OnExit, RuncProcess};
use crate::record::Record;
use crate::rootfs::{lookup_user, Overlay};

const PEAS_DIR: &str = "peas";
/// The pea's cgroup path, kept for its removal (also after a restart).
const CGROUP_FILE: &str = "cgroup";

impl RuncBackend {
    pub(super) async fn run_pea(
        &self,
        rec: &Record,
        mut spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Box<dyn Process>, GardenError> {
        if spec.image.is_empty() {
            return Err(GardenError::InvalidSpec(
                "bind mounts of a process need an image of its own".into(),
            ));
        }
        spec.image = self.image_ref(&spec.image)?;
        // Guardian's default for a pea (a container's process: the home).
        if spec.dir.is_empty() {
            spec.dir = "/".into();
        }
        let parent_dir = self.container_dir(&rec.handle);
        let parent_pid = self.running_init(rec)?;
        let netns = self.inner.net.netns_path(&rec.handle);
        if !netns.exists() {
            return Err(GardenError::Runtime(format!(
                "container {} has no network namespace",
                rec.handle
            )));
        }
        let n = self.inner.next_process.fetch_add(1, Ordering::Relaxed);
        // '+' is in no handle: a pea's id never names a container.
        let id = format!("{}+pea{n}", rec.handle);
        let dir = parent_dir.join(PEAS_DIR).join(&id);
        let cgroups_path = match spec.override_limits {
            Some(_) => cgroups::cgroups_path(&self.inner.cfg.tag, &id),
            None => format!("{}/{id}", rec.cgroups_path),
        };
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(CGROUP_FILE), &cgroups_path)?;
        let made = self
            .start_pea(rec, &spec, io, &id, &dir, parent_pid, netns, &cgroups_path)
            .await;
        // A destroy that began meanwhile may have listed the peas before
        // this one: then it is this run's to remove.
        let destroyed = self.record(&rec.handle).is_err();
        match made {
            Ok(_) if destroyed => {
                self.remove_pea(&dir).await;
                Err(GardenError::ContainerNotFound(rec.handle.clone()))
            }
            Ok(p) => Ok(p),
            Err(e) => {
                self.remove_pea(&dir).await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_pea(
        &self,
        rec: &Record,
        spec: &ProcessSpec,
        io: ProcessIo,
        id: &str,
        dir: &Path,
        parent_pid: u32,
        netns: PathBuf,
        cgroups_path: &str,
    ) -> Result<Box<dyn Process>, GardenError> {
        let mut image_env = Vec::new();
        let lowers = if image_rootfs::is_image(&spec.image) {
            let pulled = self
                .inner
                .images
                .pull(
                    &ContainerSpec {
                        handle: id.to_string(),
                        image: spec.image.clone(),
                        image_username: spec.image_username.clone(),
                        image_password: spec.image_password.clone(),
                        ..Default::default()
                    },
                    rec.userns,
                )
                .await?;
            image_env = pulled.env();
            self.inner.images.attach(dir, id, &pulled)?;
            image_rootfs::lower_dirs(dir)?
        } else {
            self.prepare_lower(&spec.image, rec.userns).await?;
            vec![self.lower_dir(&spec.image, rec.userns)?]
        };
        let overlay = Overlay {
            lowers,
            dir: dir.to_path_buf(),
        };
        overlay.mount(self.root_owner(rec))?;
        let user = lookup_user(&overlay.merged(), &spec.user)?;
        let process = oci_process(spec, &image_env, &user, rec.privileged)?;
        let parent_dir = self.container_dir(&rec.handle);
        let bundle = pea_bundle::build(&PeaBundleSpec {
            process,
            bind_mounts: &spec.bind_mounts,
            privileged: rec.privileged,
            id_map: rec.userns.then_some(self.inner.cfg.id_map),
            seccomp: self.seccomp(rec.privileged),
            parent_pid,
            netns,
            cgroups_path: cgroups_path.to_string(),
            limits: spec.override_limits.clone(),
            swap_accounting: cgroups::swap_accounting(self.inner.cgroup_version),
            hosts_file: parent_dir.join("hosts"),
            resolv_file: parent_dir.join("resolv.conf"),
        })?;
        crate::bundle::write(&bundle, dir)?;
        let pid_file = dir.join("init.pid");
        let command = self.inner.runtime.run_command(id, dir, &pid_file);
        let (this, pea_dir) = (self.clone(), dir.to_path_buf());
        let on_exit: OnExit = Box::pin(async move { this.remove_pea(&pea_dir).await });
        let owner = self.host_owner(rec, &user);
        tracing::info!(handle = %rec.handle, pea = %id, image = %spec.image, "starting pea");
        let p = RuncProcess::start(
            &self.inner.runtime,
            id.to_string(),
            &command,
            pid_file,
            io,
            owner,
            on_exit,
        )?;
        Ok(Box::new(p))
    }

    /// The host pid of the container's init, if it still runs.
    fn running_init(&self, rec: &Record) -> Result<u32, GardenError> {
        let dir = self.container_dir(&rec.handle);
        std::fs::read_to_string(dir.join("init.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .is_ok_and(|c| c.lines().any(|l| l.ends_with(&rec.cgroups_path)))
            })
            .ok_or_else(|| GardenError::Runtime(format!("container {} is not running", rec.handle)))
    }

    /// The cgroups of the container's peas that are not below its own
    /// (those with limits of their own), so Stop reaches them too.
    pub(super) fn detached_pea_cgroups(&self, rec: &Record) -> Vec<Cgroup> {
        let parent_dir = self.container_dir(&rec.handle);
        let Ok(entries) = std::fs::read_dir(parent_dir.join(PEAS_DIR)) else {
            return Vec::new();
        };
        let below = format!("{}/", rec.cgroups_path);
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join(CGROUP_FILE)).ok())
            .filter(|path| !path.is_empty() && !path.starts_with(&below))
            .map(|path| Cgroup::new(self.inner.cgroup_version, path))
            .collect()
    }

    /// Kills and removes every pea of the container in `parent_dir`.
    pub(super) async fn remove_peas(&self, parent_dir: &Path) {
        let Ok(entries) = std::fs::read_dir(parent_dir.join(PEAS_DIR)) else {
            return;
        };
        for e in entries.flatten() {
            self.remove_pea(&e.path()).await;
        }
    }

    /// Undoes a pea (whatever of it was made): its init killed, its
    /// runtime container deleted, its rootfs unmounted and image released,
    /// its cgroup and directory removed. Both its exit and its parent's
    /// destruction may run it, also at once: every step tolerates its
    /// work done already.
    pub(super) async fn remove_pea(&self, dir: &Path) {
        let Some(id) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return;
        };
        let cgroups_path = std::fs::read_to_string(dir.join(CGROUP_FILE)).unwrap_or_default();
        if !cgroups_path.is_empty() {
            self.inner.runtime.kill_init(dir, &cgroups_path).await;
        }
        if let Err(e) = self.inner.runtime.delete(&id).await {
            tracing::warn!(pea = %id, error = %e, "deleting a pea's runtime container");
        }
        let overlay = Overlay {
            lowers: Vec::new(),
            dir: dir.to_path_buf(),
        };
        if let Err(e) = overlay.unmount() {
            tracing::warn!(pea = %id, error = %e, "unmounting a pea's rootfs");
            return;
        }
        if image_rootfs::lower_dirs(dir).is_ok() {
            self.inner.images.detach(&id).await;
        }
        if !cgroups_path.is_empty() {
            Cgroup::new(self.inner.cgroup_version, cgroups_path).remove();
        }
        let dir = dir.to_path_buf();
        let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
        if let Ok(Err(e)) = removed {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(pea = %id, error = %e, "removing a pea's directory");
            }
        }
        tracing::info!(pea = %id, "pea removed");
    }
}
