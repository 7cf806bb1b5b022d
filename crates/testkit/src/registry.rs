//! A real OCI registry for tests: Debian's `docker-registry` (the CNCF
//! distribution registry) on a free loopback port, storing in a temporary
//! directory, optionally behind htpasswd basic auth, its access log kept
//! (to count downloads); killed on drop.
//! None (the test recorded as skipped, see [`crate::skip`]) when it is not
//! installed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    auth: Option<(String, String)>,
}

impl Registry {
    /// A registry anyone may pull from and push to.
    pub fn start() -> Option<Registry> {
        Self::start_inner(None)
    }

    /// A registry that wants `user`/`password` (basic auth, as
    /// distribution's htpasswd does) for everything.
    pub fn start_with_auth(user: &str, password: &str) -> Option<Registry> {
        Self::start_inner(Some((user.to_string(), password.to_string())))
    }

    fn start_inner(auth: Option<(String, String)>) -> Option<Registry> {
        if let Some(why) = crate::skip::missing_programs(&["docker-registry", "htpasswd"]) {
            crate::skip::skip(&why);
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut auth_section = String::new();
        if let Some((user, password)) = &auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd runs");
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            auth_section = format!(
                "auth:\n  htpasswd:\n    realm: diego-tests\n    path: {}\n",
                file.display()
            );
        }
        // The port is found free, then given to the registry: another
        // process may take it in between, so a failed start tries again.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {addr}\n  secret: diego-tests\n{auth_section}",
                    dir.path().join("storage").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry starts");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if matches!(v2_status(addr), Some(200) | Some(401)) {
                    return Some(Registry {
                        child: Some(child),
                        addr,
                        dir,
                        auth,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start:\n{}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// `127.0.0.1:PORT`, as image references name it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Where the registry keeps a blob's bytes (tests corrupt them there:
    /// the registry serves them as they are).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// How many times a blob was served whole (`GET .../blobs/DIGEST`
    /// answered 200), from the registry's access log.
    pub fn blob_downloads(&self, digest: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        let needle = format!("/blobs/{digest} HTTP/1.1\" 200 ");
        log.lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains(&needle))
            .count()
    }

    pub fn storage(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the registry (it is then down, its port closed).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The status of `GET /v2/`, if anything answers.
fn v2_status(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: registry\r\n\r\n")
        .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
