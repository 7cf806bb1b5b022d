//! A real nats-server on a free loopback port (optionally with extra
//! arguments, e.g. TLS options), killed on drop; None (the test recorded as
//! skipped, see [`crate::skip`]) when nats-server is not installed.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NatsServer {
    pub url: String,
    child: Child,
}

impl NatsServer {
    /// Starts nats-server, or None (the test skipped) when it is not
    /// installed.
    pub async fn start() -> Option<NatsServer> {
        Self::start_with(&[]).await
    }

    /// Starts nats-server with extra arguments (e.g. TLS options).
    pub async fn start_with(extra: &[&str]) -> Option<NatsServer> {
        if let Some(why) = crate::skip::missing_programs(&["nats-server"]) {
            crate::skip::skip(&why);
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(NatsServer {
                    url: format!("nats://127.0.0.1:{port}"),
                    child,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("nats-server did not listen on {port}");
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
