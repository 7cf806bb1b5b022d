//! A rep over its own RuncBackend (root only): each caller picks a tag,
//! subnet and host port range no other test uses.

use garden::{RuncBackend, RuncConfig};
use rep::executor_store::StoreClient;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::World;

/// Why runc containers cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    garden::runc_unavailable()
}

/// A test failing midway still removes its containers, bridge and chains.
pub use garden::DestroyOnDrop as Teardown;

pub struct RuncCell {
    pub rep: rep::Rep,
    pub backend: RuncBackend,
    pub depot: std::path::PathBuf,
    pub cfg: rep::config::RepConfig,
    // Dropped last: cleans up whatever the rep left.
    pub teardown: Teardown,
}

/// Starts a rep named `cell_id` over a runc backend tagged `tag`, with
/// containers on 10.`subnet_octets`.0/24 and host ports `ports`.
pub async fn start(
    world: &World,
    cell_id: &str,
    tag: &str,
    subnet_octets: (u8, u8),
    ports: (u16, u16),
) -> RuncCell {
    start_with(world, cell_id, tag, subnet_octets, ports, |_| {}).await
}

/// As [`start`], with the backend's configuration changed by `tweak`.
pub async fn start_with(
    world: &World,
    cell_id: &str,
    tag: &str,
    subnet_octets: (u8, u8),
    ports: (u16, u16),
    tweak: impl FnOnce(&mut RuncConfig),
) -> RuncCell {
    let mut cfg = world.rep_config(cell_id, "z1");
    cfg.container_backend = "runc".into();
    let rootfs = world.dir().join(format!("{cell_id}-rootfs"));
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    cfg.preloaded_root_fs[0].path = rootfs.display().to_string();
    let depot = world.dir().join(format!("{cell_id}-depot"));
    let mut rc = RuncConfig::new(&depot);
    rc.rootfs.insert("cflinuxfs4".into(), rootfs);
    rc.tag = tag.into();
    rc.subnet = Ipv4Addr::new(10, subnet_octets.0, subnet_octets.1, 0);
    rc.subnet_prefix = 24;
    rc.port_range = ports;
    tweak(&mut rc);
    let backend = RuncBackend::new(rc).await.unwrap();
    let teardown = Teardown(backend.clone());
    let store = executor::ContainerStore::new(
        Arc::new(backend.clone()),
        executor::ExecutorConfig {
            capacity: Some(executor::ExecutorResources::new(4096, 8192, 250)),
            temp_dir: world.dir().join(format!("{cell_id}-executor-tmp")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rep = rep::Rep::start(&cfg, Arc::new(StoreClient::new(store)))
        .await
        .unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        rep.presence_registered(),
    )
    .await
    .expect("presence registered")
    .unwrap();
    RuncCell {
        rep,
        backend,
        depot,
        cfg,
        teardown,
    }
}

/// A TCP check on `port` every 100 ms.
pub fn tcp_check(port: u32) -> models::CheckDefinition {
    models::CheckDefinition {
        checks: vec![models::Check {
            tcp_check: Some(models::TcpCheck {
                port,
                connect_timeout_ms: 500,
                interval_ms: 100,
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Kills the instance's process (`kill -9` of the pid the test's run
/// action wrote to /home/vcap/pid) from inside its container, retried
/// until that pid file exists.
pub async fn kill_instance_process(backend: &RuncBackend, guid: &str, what: &str) {
    use garden::{Backend, ProcessIo, ProcessSpec};
    super::eventually(what, 10, || async {
        let killer = backend
            .run(
                guid,
                ProcessSpec {
                    path: "sh".into(),
                    args: vec!["-c".into(), "kill -9 $(cat /home/vcap/pid)".into()],
                    user: "vcap".into(),
                    ..Default::default()
                },
                ProcessIo::default(),
            )
            .await
            .ok()?;
        (killer.wait().await.ok()? == 0).then_some(())
    })
    .await;
}
