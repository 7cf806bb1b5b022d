//! The OCI bundle of a container: config.json for the runtime.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, UserBuilder,
};

use crate::api::{BindMount, GardenError, Limits};

/// Where the host's static busybox appears in every container; the init
/// process runs from it. Its file name must stay `busybox`: busybox picks
/// the applet from argv[0], and only as `busybox` takes it from argv[1].
pub const INIT_PATH: &str = "/.garden/busybox";

/// The init process: a shell loop that only waits. Not `sleep`: processes
/// whose parent exits are re-parented to pid 1 of the container, and ash's
/// `wait` reaps any child (waitpid(-1)), so zombies never pile up against
/// the pids limit. It exits on TERM so `runc kill` stops it gracefully.
pub fn init_args() -> Vec<String> {
    vec![
        INIT_PATH.into(),
        "sh".into(),
        "-c".into(),
        format!("trap 'exit 0' TERM; while :; do {INIT_PATH} sleep 2147483647 & wait; done"),
    ]
}

/// Docker's (and Garden's) default capabilities of unprivileged containers.
const UNPRIVILEGED_CAPS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

pub struct BundleSpec<'a> {
    pub handle: &'a str,
    pub env: &'a [String],
    pub bind_mounts: &'a [BindMount],
    pub limits: &'a Limits,
    pub privileged: bool,
    pub netns_path: PathBuf,
    pub cgroups_path: String,
    pub init_binary: &'a Path,
    /// Files in the bundle bind-mounted over /etc/hosts and /etc/resolv.conf.
    pub hosts_file: PathBuf,
    pub resolv_file: PathBuf,
    /// Whether the kernel accounts swap (memsw / memory.swap.max).
    pub swap_accounting: bool,
}

fn err(e: impl std::fmt::Display) -> GardenError {
    GardenError::Runtime(format!("oci spec: {e}"))
}

pub fn capabilities(privileged: bool) -> oci_spec::runtime::Capabilities {
    if privileged {
        oci_spec::runtime::Capabilities::from_iter(all_caps())
    } else {
        UNPRIVILEGED_CAPS.iter().copied().collect()
    }
}

fn all_caps() -> Vec<Capability> {
    use Capability::*;
    vec![
        AuditControl,
        AuditRead,
        AuditWrite,
        BlockSuspend,
        Bpf,
        CheckpointRestore,
        Chown,
        DacOverride,
        DacReadSearch,
        Fowner,
        Fsetid,
        IpcLock,
        IpcOwner,
        Kill,
        Lease,
        LinuxImmutable,
        MacAdmin,
        MacOverride,
        Mknod,
        NetAdmin,
        NetBindService,
        NetBroadcast,
        NetRaw,
        Perfmon,
        Setgid,
        Setfcap,
        Setpcap,
        Setuid,
        SysAdmin,
        SysBoot,
        SysChroot,
        SysModule,
        SysNice,
        SysPacct,
        SysPtrace,
        SysRawio,
        SysResource,
        SysTime,
        SysTtyConfig,
        Syslog,
        WakeAlarm,
    ]
}

fn bind(src: &Path, dst: &str, read_only: bool) -> Result<Mount, GardenError> {
    let mut options = vec!["rbind".to_string()];
    options.push(if read_only { "ro" } else { "rw" }.into());
    MountBuilder::default()
        .destination(dst)
        .typ("bind")
        .source(src)
        .options(options)
        .build()
        .map_err(err)
}

pub fn build(b: &BundleSpec<'_>) -> Result<Spec, GardenError> {
    let caps = capabilities(b.privileged);
    let process = ProcessBuilder::default()
        .args(init_args())
        .env(b.env.to_vec())
        .cwd("/")
        .user(
            UserBuilder::default()
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(err)?,
        )
        .no_new_privileges(!b.privileged)
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps.clone())
                .inheritable(caps.clone())
                .ambient(caps)
                .build()
                .map_err(err)?,
        )
        .build()
        .map_err(err)?;

    let mut mounts = oci_spec::runtime::get_default_mounts();
    mounts.push(bind(b.init_binary, INIT_PATH, true)?);
    mounts.push(bind(&b.hosts_file, "/etc/hosts", false)?);
    mounts.push(bind(&b.resolv_file, "/etc/resolv.conf", false)?);
    for m in b.bind_mounts {
        if !m.dst_path.starts_with('/') {
            return Err(GardenError::InvalidSpec(format!(
                "bind mount destination must be absolute: {}",
                m.dst_path
            )));
        }
        mounts.push(bind(Path::new(&m.src_path), &m.dst_path, m.read_only)?);
    }

    let mut resources = LinuxResourcesBuilder::default().devices(vec![
        // Deny every device; the runtime adds the usual allow list (null,
        // zero, full, random, urandom, tty, ptmx, pts).
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .map_err(err)?,
    ]);
    let limits = b.limits;
    if limits.memory_bytes > 0 {
        let mut mem = LinuxMemoryBuilder::default().limit(limits.memory_bytes as i64);
        if b.swap_accounting {
            // memory+swap = memory: a container never swaps past its limit,
            // it is OOM-killed as Garden's are.
            mem = mem.swap(limits.memory_bytes as i64);
        }
        resources = resources.memory(mem.build().map_err(err)?);
    }
    if limits.max_pids > 0 {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(limits.max_pids as i64)
                .build()
                .map_err(err)?,
        );
    }
    if limits.cpu_weight > 0 {
        // Diego's weight (1..=100) scaled to cgroup v1 shares (max 1024) as
        // the executor does; runc turns shares into cpu.weight on v2.
        let shares = (1024 * u64::from(limits.cpu_weight.min(100)) / 100).max(2);
        resources = resources.cpu(
            LinuxCpuBuilder::default()
                .shares(shares)
                .build()
                .map_err(err)?,
        );
    }

    let mut namespaces: Vec<LinuxNamespace> = oci_spec::runtime::get_default_namespaces();
    for ns in namespaces.iter_mut() {
        if ns.typ() == LinuxNamespaceType::Network {
            *ns = LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(b.netns_path.clone())
                .build()
                .map_err(err)?;
        }
    }

    let mut linux = oci_spec::runtime::Linux::default();
    linux
        .set_resources(Some(resources.build().map_err(err)?))
        .set_cgroups_path(Some(PathBuf::from(&b.cgroups_path)))
        .set_namespaces(Some(namespaces));
    if b.privileged {
        linux.set_masked_paths(None).set_readonly_paths(None);
    }

    let mut spec = Spec::default();
    spec.set_hostname(Some(hostname(b.handle)))
        .set_process(Some(process))
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

/// Hostnames are at most 64 bytes.
pub fn hostname(handle: &str) -> String {
    handle.chars().take(63).collect()
}

pub fn write(spec: &Spec, bundle_dir: &Path) -> Result<(), GardenError> {
    let json = serde_json::to_vec_pretty(spec).map_err(err)?;
    std::fs::write(bundle_dir.join("config.json"), json)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(privileged: bool) -> serde_json::Value {
        let limits = Limits {
            memory_bytes: 64 << 20,
            disk_bytes: 0,
            max_pids: 100,
            cpu_weight: 25,
        };
        let mounts = vec![BindMount {
            src_path: "/srv/x".into(),
            dst_path: "/x".into(),
            read_only: true,
        }];
        let env = vec!["A=b".to_string()];
        let s = build(&BundleSpec {
            handle: "h1",
            env: &env,
            bind_mounts: &mounts,
            limits: &limits,
            privileged,
            netns_path: "/run/netns/t-h1".into(),
            cgroups_path: "/garden-t/h1".into(),
            init_binary: Path::new("/usr/bin/busybox"),
            hosts_file: "/d/hosts".into(),
            resolv_file: "/d/resolv.conf".into(),
            swap_accounting: false,
        })
        .unwrap();
        serde_json::to_value(&s).unwrap()
    }

    #[test]
    fn config_carries_limits_namespace_and_mounts() {
        let v = spec(false);
        let linux = &v["linux"];
        assert_eq!(linux["cgroupsPath"], "/garden-t/h1");
        assert_eq!(linux["resources"]["memory"]["limit"], 64 << 20);
        assert!(linux["resources"]["memory"].get("swap").is_none());
        assert_eq!(linux["resources"]["pids"]["limit"], 100);
        assert_eq!(linux["resources"]["cpu"]["shares"], 256);
        let net = linux["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "network")
            .unwrap();
        assert_eq!(net["path"], "/run/netns/t-h1");
        let mounts = v["mounts"].as_array().unwrap();
        let x = mounts.iter().find(|m| m["destination"] == "/x").unwrap();
        assert_eq!(x["options"], serde_json::json!(["rbind", "ro"]));
        assert!(mounts.iter().any(|m| m["destination"] == INIT_PATH));
        assert_eq!(v["process"]["args"][0], INIT_PATH);
        assert_eq!(v["root"]["readonly"], false);
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert!(!caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
    }

    #[test]
    fn privileged_containers_keep_every_capability() {
        let v = spec(true);
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(v["linux"].get("maskedPaths").is_none());
    }
}
