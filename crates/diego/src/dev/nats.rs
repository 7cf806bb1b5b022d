//! The NATS server of `diego dev`: Debian's `nats-server` as a child
//! process (the route-emitter publishes to it, the router listens), killed
//! with the system.

use anyhow::Context;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub struct NatsServer {
    pub addr: SocketAddr,
    child: Child,
}

impl NatsServer {
    /// Starts `nats-server` on `addr` (port 0: a free port) and waits until
    /// it accepts connections. None when the binary is not installed.
    pub async fn start(addr: SocketAddr) -> anyhow::Result<Option<Self>> {
        let Some(binary) = super::binaries::find("nats-server") else {
            return Ok(None);
        };
        let addr = if addr.port() == 0 {
            std::net::TcpListener::bind(addr)?.local_addr()?
        } else {
            addr
        };
        let child = Command::new(&binary)
            .args(["-a", &addr.ip().to_string(), "-p", &addr.port().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "nats-server did not listen on {addr} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Some(Self { addr, child }))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
