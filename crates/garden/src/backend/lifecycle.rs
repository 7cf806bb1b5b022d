//! Creating and destroying containers: reserving a handle and ports;
//! building the rootfs, network (CNI ADD) and bundle and starting it; and
//! undoing all of that, also for a container whose creation failed.

use super::RuncBackend;
use crate::api::*;
use crate::bundle::{self, BundleSpec};
use crate::cgroups::{self, Cgroup};
use crate::image_rootfs;
use crate::record::Record;
use crate::rootfs::Overlay;

pub(super) fn valid_handle(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 128
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !h.starts_with('.')
}

impl RuncBackend {
    /// Reserves the handle, an address and host ports, and writes the
    /// record first: whatever happens later, destroy can undo it.
    pub(super) fn reserve(&self, spec: &ContainerSpec) -> Result<Record, GardenError> {
        let mut st = self.inner.state.lock().expect("state lock");
        if st.containers.contains_key(&spec.handle) || st.busy.contains(&spec.handle) {
            return Err(GardenError::HandleExists(spec.handle.clone()));
        }
        let max = self.inner.cfg.max_containers;
        if max > 0 && (st.containers.len() + st.busy.len()) as u64 >= max {
            return Err(GardenError::InsufficientResources(
                "max containers reached".into(),
            ));
        }
        let mut ports = Vec::new();
        for m in &spec.net_in {
            let host_port = if m.host_port == 0 {
                take_unbound_port(&mut st.pools)
            } else {
                st.pools.claim_port(m.host_port).then_some(m.host_port)
            };
            match host_port {
                Some(hp) => ports.push(PortMapping {
                    host_port: hp,
                    container_port: m.container_port,
                }),
                None => {
                    for p in &ports {
                        st.pools.release_port(p.host_port);
                    }
                    return Err(GardenError::InsufficientResources(format!(
                        "host port {} not available",
                        m.host_port
                    )));
                }
            }
        }
        st.busy.insert(spec.handle.clone());
        drop(st);
        let limits = with_defaults(&spec.limits, &self.inner.cfg.default_limits);
        let rec = Record::new(
            spec,
            &limits,
            &ports,
            cgroups::cgroups_path(&self.inner.cfg.tag, &spec.handle),
            self.userns(spec.privileged),
        );
        Ok(rec)
    }

    /// Whether a container runs in the user namespace: unprivileged ones,
    /// unless the backend is configured without.
    pub(super) fn userns(&self, privileged: bool) -> bool {
        !privileged && self.inner.cfg.user_namespace
    }

    /// The seccomp profile of a container (None: the backend filters
    /// nothing).
    pub(super) fn seccomp(&self, privileged: bool) -> Option<oci_spec::runtime::LinuxSeccomp> {
        self.inner.cfg.seccomp.then(|| {
            if privileged {
                crate::seccomp::privileged()
            } else {
                crate::seccomp::unprivileged()
            }
        })
    }

    /// The host ids of the container's root.
    pub(super) fn root_owner(&self, rec: &Record) -> (u32, u32) {
        if rec.userns {
            let id = self.inner.cfg.id_map.to_host(0);
            (id, id)
        } else {
            (0, 0)
        }
    }

    pub(super) async fn build(
        &self,
        rec: &mut Record,
        image: Option<&image::PulledImage>,
    ) -> Result<(), GardenError> {
        let dir = self.container_dir(&rec.handle);
        std::fs::create_dir_all(&dir)?;
        rec.save(&dir)?;
        if let Some(image) = image {
            self.inner.images.attach(&dir, &rec.handle, image)?;
        }
        if self.inner.cfg.enforce_disk_limits && rec.disk_bytes > 0 {
            let templates = self.inner.cfg.depot.join("disk-templates");
            crate::quota::make_limited_layer(&dir, &templates, rec.disk_bytes).await?;
        }
        self.prepare_lower(&rec.image, rec.userns).await?;
        let overlay = self.overlay(rec)?;
        let owner = self.root_owner(rec);
        overlay.mount(owner)?;

        // The address line is added once the plugins gave one.
        std::fs::write(dir.join("hosts"), "127.0.0.1 localhost\n")?;
        std::fs::write(dir.join("resolv.conf"), &self.inner.resolv_conf)?;
        // The container's root may change them, as on Garden.
        for f in ["hosts", "resolv.conf"] {
            crate::rootfs::chown(&dir.join(f), owner.0, owner.1)?;
        }

        let mut env = rec.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(
                0,
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            );
        }
        let spec = bundle::build(&BundleSpec {
            handle: &rec.handle,
            env: &env,
            bind_mounts: &rec.bind_mounts(),
            limits: &rec.limits(),
            privileged: rec.privileged,
            id_map: rec.userns.then_some(self.inner.cfg.id_map),
            seccomp: self.seccomp(rec.privileged),
            cgroups_path: rec.cgroups_path.clone(),
            init_binary: &self.inner.cfg.init_binary,
            hosts_file: dir.join("hosts"),
            resolv_file: dir.join("resolv.conf"),
            swap_accounting: cgroups::swap_accounting(self.inner.cgroup_version),
        })?;
        bundle::write(&spec, &dir)?;
        // The runtime makes the namespaces; the network is plugged into
        // the init's before it runs anything.
        self.inner.runtime.create(&rec.handle, &dir).await?;
        let pid = std::fs::read_to_string(dir.join("init.pid"))?
            .trim()
            .parse::<u32>()
            .map_err(|e| GardenError::Runtime(format!("runtime's pid file: {e}")))?;
        let result = self
            .inner
            .net
            .setup_container(&rec.handle, pid, &rec.ports())
            .await;
        // Saved before anything can fail again: DEL is given it.
        let result = result?;
        rec.ip = crate::network::cni::ipv4_of(&result);
        let bridge = self.inner.net.bridge();
        rec.host_iface = crate::network::cni::host_iface_of(&result, Some(&bridge));
        rec.cni_result = Some(result);
        rec.save(&dir)?;
        let ip = rec
            .ip
            .ok_or_else(|| GardenError::Runtime("the CNI plugins gave no IPv4 address".into()))?;
        // Rewritten in place: the container's bind mount sees it.
        std::fs::write(
            dir.join("hosts"),
            format!(
                "127.0.0.1 localhost\n{ip} {}\n",
                bundle::hostname(&rec.handle)
            ),
        )?;
        let member = self
            .member(rec)
            .ok_or_else(|| GardenError::Runtime("the CNI plugins gave no host interface".into()))?;
        self.inner.net.firewall().add(&member).await?;
        self.inner.runtime.start(&rec.handle).await?;
        Ok(())
    }

    /// Undoes everything `build` may have done, in reverse, tolerating
    /// steps that never happened; then frees the address and ports.
    pub(super) async fn teardown(&self, rec: &Record) -> Result<(), GardenError> {
        let mut first_err = None;
        let dir = self.container_dir(&rec.handle);
        // Its peas first: they run in its network and user namespaces.
        self.remove_peas(&dir).await;
        self.inner.runtime.kill_init(&dir, &rec.cgroups_path).await;
        if let Err(e) = self.inner.runtime.delete(&rec.handle).await {
            first_err.get_or_insert(e);
        }
        if let (Some(ip), Some(port)) = (rec.ip, &rec.host_iface) {
            if let Err(e) = self.inner.net.firewall().delete(ip, port).await {
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = self
            .inner
            .net
            .teardown_container(&rec.handle, &rec.ports(), rec.cni_result.as_ref())
            .await
        {
            first_err.get_or_insert(e);
        }
        let unmounted = match self.overlay(rec) {
            Ok(overlay) => overlay.unmount(),
            Err(_) => Overlay {
                lowers: Vec::new(),
                dir: dir.clone(),
            }
            .unmount(),
        };
        match unmounted {
            // Unmounted: the container no longer uses its layers (while
            // mounted, they stay leased; a retried destroy releases them).
            Ok(()) if image_rootfs::is_image(&rec.image) => {
                self.inner.images.detach(&rec.handle).await
            }
            Ok(()) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
        // After the overlay: it holds the layer's filesystem busy.
        let layer_dir = dir.clone();
        let unmounted =
            tokio::task::spawn_blocking(move || crate::quota::unmount_layer(&layer_dir))
                .await
                .map_err(|e| GardenError::Runtime(e.to_string()))
                .and_then(|r| r);
        if let Err(e) = unmounted {
            first_err.get_or_insert(e);
        }
        Cgroup::new(self.inner.cgroup_version, rec.cgroups_path.clone()).remove();
        if let Some(e) = first_err {
            // Keep the record: destroy can be retried.
            return Err(e);
        }
        let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        if let Err(e) = removed {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(e.into());
            }
        }
        let mut st = self.inner.state.lock().expect("state lock");
        for (hp, _) in &rec.mapped_ports {
            st.pools.release_port(*hp);
        }
        Ok(())
    }
}

fn with_defaults(l: &Limits, d: &Limits) -> Limits {
    let pick = |a: u64, b: u64| if a > 0 { a } else { b };
    Limits {
        memory_bytes: pick(l.memory_bytes, d.memory_bytes),
        disk_bytes: pick(l.disk_bytes, d.disk_bytes),
        max_pids: pick(l.max_pids, d.max_pids),
        cpu_weight: if l.cpu_weight > 0 {
            l.cpu_weight
        } else {
            d.cpu_weight
        },
    }
}

/// A port from the pool that no host process listens on: the DNAT rule
/// would otherwise hide that service. Ports found busy go back to the pool.
fn take_unbound_port(pools: &mut crate::pools::Pools) -> Option<u16> {
    let mut busy = Vec::new();
    let mut found = None;
    for _ in 0..64 {
        let Some(port) = pools.take_port() else { break };
        if std::net::TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, port)).is_ok() {
            found = Some(port);
            break;
        }
        busy.push(port);
    }
    for p in busy {
        pools.release_port(p);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_names_not_paths() {
        assert!(valid_handle("a1b2-c3_d.e"));
        assert!(!valid_handle("../etc"));
        assert!(!valid_handle("a/b"));
        assert!(!valid_handle(""));
        assert!(!valid_handle(".hidden"));
    }

    #[test]
    fn spec_limits_override_defaults() {
        let d = Limits {
            memory_bytes: 1,
            disk_bytes: 2,
            max_pids: 3,
            cpu_weight: 4,
        };
        let l = Limits {
            memory_bytes: 10,
            ..Default::default()
        };
        assert_eq!(
            with_defaults(&l, &d),
            Limits {
                memory_bytes: 10,
                disk_bytes: 2,
                max_pids: 3,
                cpu_weight: 4
            }
        );
    }
}
