//! Shared by the runc backend tests: skipping when the host cannot run
//! containers, a backend of the test's own (tag, subnet and port range
//! distinct per test so tests run in parallel), running processes and
//! collecting their output, and checking that nothing is left behind.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use garden::{Backend, ContainerSpec, ProcessIo, ProcessSpec, RuncBackend, RuncConfig};
use tokio::io::AsyncWrite;

/// Why the tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    garden::runc_unavailable()
}

macro_rules! skip_unless_able {
    () => {
        testkit::skip_if!(common::skip_reason());
    };
}
pub(crate) use skip_unless_able;

/// A test that fails midway still removes its containers and the
/// backend's bridge and chains (`_teardown` is dropped first, while the
/// backend's directory still exists).
pub struct TestBackend {
    _teardown: garden::DestroyOnDrop,
    pub backend: RuncBackend,
    pub dir: tempfile::TempDir,
    pub cfg: RuncConfig,
}

/// `n` (1..=200) makes the tag, subnet 10.251.n.0/24 and ports
/// 40000+n*50.. unique to the test.
pub async fn backend(n: u8) -> TestBackend {
    backend_with(n, Ipv4Addr::LOCALHOST).await
}

pub async fn backend_with(n: u8, external_ip: Ipv4Addr) -> TestBackend {
    backend_custom(n, |cfg| cfg.external_ip = external_ip).await
}

pub async fn backend_custom(n: u8, tweak: impl FnOnce(&mut RuncConfig)) -> TestBackend {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    let mut cfg = RuncConfig::new(dir.path().join("depot"));
    cfg.rootfs.insert("busybox".into(), rootfs);
    cfg.tag = format!("t{n}");
    cfg.subnet = Ipv4Addr::new(10, 251, n, 0);
    cfg.subnet_prefix = 24;
    // Below the kernel's ephemeral range (32768-60999), so outgoing
    // connections of other tests never hold a port of the range.
    let base = 20000 + u16::from(n) * 50;
    cfg.port_range = (base, base + 49);
    cfg.external_ip = Ipv4Addr::LOCALHOST;
    tweak(&mut cfg);
    let backend = RuncBackend::new(cfg.clone()).await.unwrap();
    TestBackend {
        _teardown: garden::DestroyOnDrop(backend.clone()),
        backend,
        dir,
        cfg,
    }
}

pub fn spec(handle: &str) -> ContainerSpec {
    ContainerSpec {
        handle: handle.into(),
        image: "preloaded:busybox".into(),
        ..Default::default()
    }
}

/// An AsyncWrite collecting into a shared buffer.
#[derive(Clone, Default)]
pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

impl Buf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl AsyncWrite for Buf {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs `sh -c script` in the container; (exit status, stdout, stderr).
pub async fn sh(b: &RuncBackend, handle: &str, script: &str) -> (i32, String, String) {
    sh_as(b, handle, "", script).await
}

pub async fn sh_as(
    b: &RuncBackend,
    handle: &str,
    user: &str,
    script: &str,
) -> (i32, String, String) {
    let (p, out, err) = spawn_sh(b, handle, "sh", user, script).await;
    let status = p.wait().await.unwrap();
    (status, out.text(), err.text())
}

/// Starts `<sh> -c script` as `user` in the container, its stdout and
/// stderr collected in the returned buffers.
pub async fn spawn_sh(
    b: &dyn Backend,
    handle: &str,
    sh: &str,
    user: &str,
    script: &str,
) -> (Box<dyn garden::Process>, Buf, Buf) {
    let spec = ProcessSpec {
        path: sh.into(),
        args: vec!["-c".into(), script.into()],
        user: user.into(),
        ..Default::default()
    };
    spawn(b, handle, spec).await
}

/// Starts `spec` in the container, its stdout and stderr collected in the
/// returned buffers.
pub async fn spawn(
    b: &dyn Backend,
    handle: &str,
    spec: ProcessSpec,
) -> (Box<dyn garden::Process>, Buf, Buf) {
    let (out, err) = (Buf::default(), Buf::default());
    let io = ProcessIo {
        stdin: None,
        stdout: Some(Box::new(out.clone())),
        stderr: Some(Box::new(err.clone())),
    };
    let p = b.run(handle, spec, io).await.unwrap();
    (p, out, err)
}

/// Everything a container could leave behind, listed (empty: clean).
pub async fn leftovers(t: &TestBackend, handle: &str) -> Vec<String> {
    let mut left = Vec::new();
    let dir = t.backend.container_dir(handle);
    if dir.exists() {
        left.push(format!("directory {}", dir.display()));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for l in mountinfo
        .lines()
        .filter(|l| l.contains(&*dir.to_string_lossy()))
    {
        left.push(format!("mount {l}"));
    }
    for d in t.backend.cgroup(handle).dirs() {
        left.push(format!("cgroup {}", d.display()));
    }
    let net = t.backend.network();
    if net.netns_path(handle).exists() {
        left.push(format!("netns {}", net.netns_name(handle)));
    }
    // The bridge's ports are the host ends of containers' veths (call
    // when the backend has no other container).
    let ports = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", &net.bridge()])
        .output()
        .unwrap();
    for l in String::from_utf8_lossy(&ports.stdout).lines() {
        left.push(format!("link {l}"));
    }
    if net.lease_holders().iter().any(|h| h == handle) {
        left.push(format!("IPAM lease of {handle}"));
    }
    for r in net.rules_of(handle).await {
        left.push(format!("iptables {r}"));
    }
    let table = std::process::Command::new("nft")
        .args(["list", "table", "inet", &format!("garden-{}", t.cfg.tag)])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&table.stdout).contains(&format!("comment \"garden:{handle}\"")) {
        left.push(format!("nft chain of {handle}"));
    }
    let loops = std::process::Command::new("losetup")
        .arg("-a")
        .output()
        .unwrap();
    for l in String::from_utf8_lossy(&loops.stdout).lines() {
        if l.contains(&*dir.to_string_lossy()) {
            left.push(format!("loop device {l}"));
        }
    }
    let runtime_state = t.cfg.depot.join("runtime").join(handle);
    if runtime_state.exists() {
        left.push(format!("runtime state {}", runtime_state.display()));
    }
    left
}

pub fn depot(t: &TestBackend) -> PathBuf {
    t.cfg.depot.clone()
}
