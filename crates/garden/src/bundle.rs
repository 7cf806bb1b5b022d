//! The OCI bundle of a container: config.json for the runtime.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, UserBuilder,
};

use crate::api::{BindMount, GardenError, Limits};
use crate::idmap::IdMap;

/// Where the host's static busybox appears in every container; the init
/// process runs from it. Its file name must stay `busybox`: busybox picks
/// the applet from argv[0], and only as `busybox` takes it from argv[1].
pub const INIT_PATH: &str = "/.garden/busybox";

/// The init process: a shell loop that only waits. Not `sleep`: processes
/// whose parent exits are re-parented to pid 1 of the container, and ash's
/// `wait` reaps any child (waitpid(-1)), so zombies never pile up against
/// the pids limit. It exits on TERM so `runc kill` stops it gracefully.
pub fn init_args() -> Vec<String> {
    let sleep = INIT_SLEEP_ARGS.join(" ");
    vec![
        INIT_PATH.into(),
        "sh".into(),
        "-c".into(),
        format!("trap 'exit 0' TERM; while :; do {sleep} & wait; done"),
    ]
}

/// The command the init's loop waits on (Stop leaves it alone).
pub const INIT_SLEEP_ARGS: [&str; 3] = [INIT_PATH, "sleep", "2147483647"];

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
    /// Unprivileged containers: the user namespace's map (None: the host's
    /// ids, as privileged containers have).
    pub id_map: Option<IdMap>,
    /// The seccomp profile (None: no filter).
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    pub cgroups_path: String,
    pub init_binary: &'a Path,
    /// Files in the bundle bind-mounted over /etc/hosts and /etc/resolv.conf.
    pub hosts_file: PathBuf,
    pub resolv_file: PathBuf,
    /// Whether the kernel accounts swap (memsw / memory.swap.max).
    pub swap_accounting: bool,
}

/// A container's (or a pea's) cgroup settings: every device denied but the
/// runtime's usual ones, and the limits given (none: the parent's).
pub(crate) fn resources(
    limits: Option<&Limits>,
    swap_accounting: bool,
) -> Result<oci_spec::runtime::LinuxResources, GardenError> {
    let mut resources = LinuxResourcesBuilder::default().devices(vec![
        // Deny every device; the runtime adds the usual allow list (null,
        // zero, full, random, urandom, tty, ptmx, pts).
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .map_err(err)?,
    ]);
    let Some(limits) = limits else {
        return resources.build().map_err(err);
    };
    if limits.memory_bytes > 0 {
        let mut mem = LinuxMemoryBuilder::default().limit(limits.memory_bytes as i64);
        if swap_accounting {
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
    resources.build().map_err(err)
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

/// Every capability with its number, for the host's bounding set.
fn all_caps() -> Vec<Capability> {
    use Capability::*;
    let numbered = [
        (Chown, 0),
        (DacOverride, 1),
        (DacReadSearch, 2),
        (Fowner, 3),
        (Fsetid, 4),
        (Kill, 5),
        (Setgid, 6),
        (Setuid, 7),
        (Setpcap, 8),
        (LinuxImmutable, 9),
        (NetBindService, 10),
        (NetBroadcast, 11),
        (NetAdmin, 12),
        (NetRaw, 13),
        (IpcLock, 14),
        (IpcOwner, 15),
        (SysModule, 16),
        (SysRawio, 17),
        (SysChroot, 18),
        (SysPtrace, 19),
        (SysPacct, 20),
        (SysAdmin, 21),
        (SysBoot, 22),
        (SysNice, 23),
        (SysResource, 24),
        (SysTime, 25),
        (SysTtyConfig, 26),
        (Mknod, 27),
        (Lease, 28),
        (AuditWrite, 29),
        (AuditControl, 30),
        (Setfcap, 31),
        (MacOverride, 32),
        (MacAdmin, 33),
        (Syslog, 34),
        (WakeAlarm, 35),
        (BlockSuspend, 36),
        (AuditRead, 37),
        (Perfmon, 38),
        (Bpf, 39),
        (CheckpointRestore, 40),
    ];
    let bounding = host_bounding_set();
    numbered
        .into_iter()
        .filter(|(_, bit)| bounding & (1u64 << bit) != 0)
        .map(|(c, _)| c)
        .collect()
}

/// The capabilities this process may pass on (a host that is itself a
/// container may lack some): privileged containers get all of these.
fn host_bounding_set() -> u64 {
    static SET: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SET.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let hex = s.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
                u64::from_str_radix(hex.trim(), 16).ok()
            })
            .unwrap_or(u64::MAX)
    })
}

pub(crate) fn bind(src: &Path, dst: &str, read_only: bool) -> Result<Mount, GardenError> {
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

    let resources = resources(Some(b.limits), b.swap_accounting)?;

    // A new network namespace of the runtime's making: in a user
    // namespace it belongs to that namespace, so the container can mount
    // its own sysfs (the host's network devices stay out of sight). The
    // backend wires it up between the runtime's create and start.
    let mut namespaces: Vec<LinuxNamespace> = oci_spec::runtime::get_default_namespaces();
    if b.id_map.is_some() {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .map_err(err)?,
        );
    }

    let mut linux = oci_spec::runtime::Linux::default();
    linux
        .set_resources(Some(resources))
        .set_cgroups_path(Some(PathBuf::from(&b.cgroups_path)))
        .set_namespaces(Some(namespaces))
        .set_seccomp(b.seccomp.clone());
    if let Some(map) = &b.id_map {
        linux
            .set_uid_mappings(Some(vec![map.oci()]))
            .set_gid_mappings(Some(vec![map.oci()]));
        // Any group may ping through ICMP sockets (no CAP_NET_RAW needed),
        // as on Garden; the range is in the container's own gids.
        linux.set_sysctl(Some(
            [(
                "net.ipv4.ping_group_range".to_string(),
                format!("0 {}", map.size - 1),
            )]
            .into(),
        ));
    }
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
            id_map: (!privileged).then_some(IdMap {
                host_base: 100_000,
                size: 65_536,
            }),
            seccomp: Some(if privileged {
                crate::seccomp::privileged()
            } else {
                crate::seccomp::unprivileged()
            }),
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
        let ns = linux["namespaces"].as_array().unwrap();
        let net = ns.iter().find(|n| n["type"] == "network").unwrap();
        assert!(net.get("path").is_none(), "the runtime makes the netns");
        assert!(ns.iter().any(|n| n["type"] == "user"));
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        assert_eq!(linux["uidMappings"], map);
        assert_eq!(linux["gidMappings"], map);
        assert_eq!(linux["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(linux["sysctl"]["net.ipv4.ping_group_range"], "0 65535");
        assert_eq!(v["process"]["noNewPrivileges"], true);
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
        // No user namespace: host root is container root.
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "user"));
        assert!(v["linux"].get("uidMappings").is_none());
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
    }
}
