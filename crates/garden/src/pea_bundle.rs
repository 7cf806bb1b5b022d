//! The OCI bundle of a pea: a process with a root filesystem and bind
//! mounts of its own, run as a runtime container next to its parent
//! container. It joins the parent's network, IPC, UTS and pid namespaces
//! (as Guardian's peas do: the parent sees the pea's processes, and a
//! health check signalled TERM is not a pid 1 that ignores it) and user
//! namespace, so its ids map as the parent's and it may use the parent's
//! network as that namespace's root; its mounts are its own.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, Process as OciProcess, RootBuilder,
    Spec,
};

use crate::api::{BindMount, GardenError, Limits};
use crate::bundle::bind;
use crate::idmap::IdMap;

pub struct PeaBundleSpec<'a> {
    /// The pea's process (its init).
    pub process: OciProcess,
    pub bind_mounts: &'a [BindMount],
    pub privileged: bool,
    /// The parent's user namespace map (None: a privileged parent, host ids).
    pub id_map: Option<IdMap>,
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The parent's init: its namespaces are joined.
    pub parent_pid: u32,
    /// The parent's named network namespace.
    pub netns: PathBuf,
    pub cgroups_path: String,
    /// Garden's OverrideContainerLimits (None: the pea sits in a cgroup
    /// under its parent's and counts against the parent's limits).
    pub limits: Option<Limits>,
    pub swap_accounting: bool,
    /// The parent's /etc/hosts and /etc/resolv.conf (the same network).
    pub hosts_file: PathBuf,
    pub resolv_file: PathBuf,
}

fn err(e: impl std::fmt::Display) -> GardenError {
    GardenError::Runtime(format!("pea spec: {e}"))
}

fn namespace(
    typ: LinuxNamespaceType,
    path: Option<PathBuf>,
) -> Result<LinuxNamespace, GardenError> {
    let mut b = LinuxNamespaceBuilder::default().typ(typ);
    if let Some(p) = path {
        b = b.path(p);
    }
    b.build().map_err(err)
}

pub fn build(b: &PeaBundleSpec<'_>) -> Result<Spec, GardenError> {
    let mut mounts = oci_spec::runtime::get_default_mounts();
    mounts.push(bind(&b.hosts_file, "/etc/hosts", false)?);
    mounts.push(bind(&b.resolv_file, "/etc/resolv.conf", false)?);
    for m in b.bind_mounts {
        if !m.dst_path.starts_with('/') {
            return Err(GardenError::InvalidSpec(format!(
                "bind mount destination must be absolute: {}",
                m.dst_path
            )));
        }
        if !Path::new(&m.src_path).exists() {
            return Err(GardenError::InvalidSpec(format!(
                "bind mount source does not exist: {}",
                m.src_path
            )));
        }
        mounts.push(bind(Path::new(&m.src_path), &m.dst_path, m.read_only)?);
    }

    let ns_of = |kind: &str| Some(PathBuf::from(format!("/proc/{}/ns/{kind}", b.parent_pid)));
    let mut namespaces = vec![
        namespace(LinuxNamespaceType::Pid, ns_of("pid"))?,
        namespace(LinuxNamespaceType::Mount, None)?,
        namespace(LinuxNamespaceType::Network, Some(b.netns.clone()))?,
        namespace(LinuxNamespaceType::Ipc, ns_of("ipc"))?,
        namespace(LinuxNamespaceType::Uts, ns_of("uts"))?,
    ];
    if b.id_map.is_some() {
        namespaces.push(namespace(LinuxNamespaceType::User, ns_of("user"))?);
    }

    // As the parent's: every device denied but the runtime's usual ones;
    // limits of its own when it overrides the parent's.
    let resources = crate::bundle::resources(b.limits.as_ref(), b.swap_accounting)?;

    let mut linux = oci_spec::runtime::Linux::default();
    linux
        .set_resources(Some(resources))
        .set_cgroups_path(Some(PathBuf::from(&b.cgroups_path)))
        .set_namespaces(Some(namespaces))
        .set_seccomp(b.seccomp.clone());
    if let Some(map) = &b.id_map {
        // The runtime needs the map of the namespace it joins to know
        // whose the pea's devices are.
        linux
            .set_uid_mappings(Some(vec![map.oci()]))
            .set_gid_mappings(Some(vec![map.oci()]));
    }
    if b.privileged {
        linux.set_masked_paths(None).set_readonly_paths(None);
    }

    let mut spec = Spec::default();
    // No hostname: the UTS namespace is the parent's.
    spec.set_hostname(None)
        .set_process(Some(b.process.clone()))
        .set_root(Some(
            RootBuilder::default()
                .path("rootfs")
                .readonly(false)
                .build()
                .map_err(err)?,
        ))
        .set_mounts(Some(mounts))
        .set_linux(Some(linux));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(limits: Option<Limits>) -> serde_json::Value {
        let dir = tempfile::tempdir().unwrap();
        let mounts = vec![BindMount {
            src_path: dir.path().display().to_string(),
            dst_path: "/assets".into(),
            read_only: true,
        }];
        let s = build(&PeaBundleSpec {
            process: OciProcess::default(),
            bind_mounts: &mounts,
            privileged: false,
            id_map: Some(IdMap {
                host_base: 100_000,
                size: 65_536,
            }),
            seccomp: None,
            parent_pid: 42,
            netns: "/run/netns/t-h1".into(),
            cgroups_path: "/garden-t/h1/h1+pea1".into(),
            limits,
            swap_accounting: false,
            hosts_file: "/d/hosts".into(),
            resolv_file: "/d/resolv.conf".into(),
        })
        .unwrap();
        serde_json::to_value(&s).unwrap()
    }

    #[test]
    fn a_pea_joins_its_parents_network_and_user_namespaces() {
        let v = spec(None);
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        let path = |t: &str| ns.iter().find(|n| n["type"] == t).unwrap().get("path");
        assert_eq!(path("network").unwrap(), "/run/netns/t-h1");
        assert_eq!(path("user").unwrap(), "/proc/42/ns/user");
        assert_eq!(path("ipc").unwrap(), "/proc/42/ns/ipc");
        assert_eq!(path("pid").unwrap(), "/proc/42/ns/pid");
        assert!(path("mount").is_none(), "its own mounts");
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        assert_eq!(v["linux"]["uidMappings"], map);
        assert!(v.get("hostname").is_none());
        let mounts = v["mounts"].as_array().unwrap();
        let assets = mounts
            .iter()
            .find(|m| m["destination"] == "/assets")
            .unwrap();
        assert_eq!(assets["options"], serde_json::json!(["rbind", "ro"]));
        assert!(v["linux"]["resources"].get("memory").is_none());
    }

    #[test]
    fn overridden_limits_are_the_peas_own() {
        let v = spec(Some(Limits {
            memory_bytes: 32 << 20,
            cpu_weight: 50,
            ..Default::default()
        }));
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 32 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["shares"], 512);
    }
}
