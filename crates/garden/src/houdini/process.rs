//! houdini's processes: host processes, each leading its own process group
//! so signals reach everything it started.

use crate::api::{GardenError, Process, ProcessIo, ProcessSpec, Signal};
use crate::output::{drained, Exit};
use async_trait::async_trait;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

/// PATH when the container's env has none (Garden's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) struct HoudiniProcess {
    id: String,
    pid: u32,
    exit: watch::Receiver<Option<i32>>,
}

impl HoudiniProcess {
    pub(crate) fn spawn(
        id: String,
        dir: &Path,
        container_env: &[String],
        spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Self, GardenError> {
        let program = if spec.path.starts_with('/') {
            let inside = super::in_container(dir, &spec.path);
            if inside.exists() {
                inside.to_string_lossy().into_owned()
            } else {
                spec.path.clone()
            }
        } else {
            spec.path.clone()
        };
        let mut cmd = match spec.nofile {
            // The limit is set by a shell that then becomes the program.
            Some(n) => {
                let mut c = tokio::process::Command::new("/bin/sh");
                c.arg("-c")
                    .arg("ulimit -n \"$0\" && exec \"$@\"")
                    .arg(n.to_string())
                    .arg(&program);
                c
            }
            None => tokio::process::Command::new(&program),
        };
        cmd.args(&spec.args);
        cmd.env_clear();
        cmd.env("PATH", DEFAULT_PATH);
        cmd.env("HOME", dir);
        for kv in container_env.iter().chain(spec.env.iter()) {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        // A missing working directory is created, as Garden does.
        let cwd = super::in_container(dir, &spec.dir);
        std::fs::create_dir_all(&cwd)?;
        cmd.current_dir(cwd);
        cmd.process_group(0);
        cmd.stdin(if io.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped());
        cmd.stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| GardenError::Runtime(format!("exec {}: {e}", spec.path)))?;
        let pid = child.id().unwrap_or(0);

        if let (Some(mut input), Some(mut pipe)) = (io.stdin, child.stdin.take()) {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut input, &mut pipe).await;
                let _ = pipe.shutdown().await;
            });
        }
        let exited = Exit::new();
        let mut copies = Vec::new();
        if let Some(out) = child.stdout.take() {
            copies.push(exited.copy(out, io.stdout));
        }
        if let Some(err) = child.stderr.take() {
            copies.push(exited.copy(err, io.stderr));
        }

        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                Err(_) => 255,
            };
            // Output the process wrote before exiting is delivered before
            // its exit status; a background child still holding the pipes
            // does not delay it.
            exited.exited();
            drained(copies).await;
            let _ = tx.send(Some(status));
        });
        Ok(Self { id, pid, exit })
    }

    pub(crate) fn exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    pub(crate) async fn wait(&self) -> Result<i32, GardenError> {
        let mut rx = self.exit.clone();
        let status = rx
            .wait_for(|s| s.is_some())
            .await
            .map_err(|_| GardenError::Runtime("process reaper went away".into()))?;
        Ok(status.unwrap_or(255))
    }

    fn signal_group(&self, name: &str) {
        if self.pid == 0 {
            return;
        }
        // Negative pid: the whole process group.
        let _ = std::process::Command::new("kill")
            .args(["-s", name, "--", &format!("-{}", self.pid)])
            .stderr(Stdio::null())
            .status();
    }

    pub(crate) fn terminate_group(&self) {
        self.signal_group("TERM");
    }

    /// Also after the leader exited: background children it left are
    /// still in its group (whose id stays reserved while they live).
    pub(crate) fn kill_group(&self) {
        self.signal_group("KILL");
    }
}

/// What [`crate::Backend::run`] hands out.
pub(crate) struct ProcessHandle(pub(crate) Arc<HoudiniProcess>);

#[async_trait]
impl Process for ProcessHandle {
    fn id(&self) -> String {
        self.0.id.clone()
    }

    async fn wait(&self) -> Result<i32, GardenError> {
        self.0.wait().await
    }

    async fn signal(&self, signal: Signal) -> Result<(), GardenError> {
        let name = match signal {
            Signal::Terminate => "TERM",
            Signal::Kill => "KILL",
        };
        let p = self.0.clone();
        if p.exited() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || p.signal_group(name))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))
    }
}
