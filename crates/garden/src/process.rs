//! Processes run in a container with `runtime exec`: the process spec, the
//! stdio pumps, and waiting for and signalling the process.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use oci_spec::runtime::{
    LinuxCapabilitiesBuilder, PosixRlimitBuilder, PosixRlimitType, Process as OciProcess,
    ProcessBuilder, UserBuilder,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::api::{GardenError, Process, ProcessIo, ProcessSpec, Signal};
use crate::bundle::capabilities;
use crate::detached_exec;
use crate::output::{drained, Exit};
use crate::rootfs::User;
use crate::runc::Runtime;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn err(e: impl std::fmt::Display) -> GardenError {
    GardenError::Runtime(format!("process spec: {e}"))
}

/// The exec'd process: the container's env, then HOME/USER, then the
/// spec's own (later entries win, as Garden's do).
pub fn oci_process(
    spec: &ProcessSpec,
    container_env: &[String],
    user: &User,
    privileged: bool,
) -> Result<OciProcess, GardenError> {
    let mut env: Vec<String> = Vec::new();
    if !container_env
        .iter()
        .chain(&spec.env)
        .any(|e| e.starts_with("PATH="))
    {
        env.push(DEFAULT_PATH.into());
    }
    env.push(format!("HOME={}", user.home));
    env.push(format!("USER={}", user.name));
    env.extend(container_env.iter().cloned());
    env.extend(spec.env.iter().cloned());
    let mut args = vec![spec.path.clone()];
    args.extend(spec.args.iter().cloned());
    let cwd = if spec.dir.is_empty() {
        user.home.clone()
    } else {
        spec.dir.clone()
    };
    let cwd = if cwd.is_empty() { "/".into() } else { cwd };
    let caps = capabilities(privileged);
    // A non-root user keeps no capabilities, as on a normal exec.
    let caps = if user.uid == 0 {
        caps
    } else {
        Default::default()
    };
    let mut b = ProcessBuilder::default()
        .args(args)
        .env(env)
        .cwd(cwd)
        .no_new_privileges(!privileged)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .build()
                .map_err(err)?,
        )
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps.clone())
                .inheritable(caps.clone())
                .ambient(caps)
                .build()
                .map_err(err)?,
        );
    if let Some(n) = spec.nofile {
        b = b.rlimits(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(n)
            .soft(n)
            .build()
            .map_err(err)?]);
    }
    b.build().map_err(err)
}

/// What is undone once a process exited (its files; a pea's container).
pub type OnExit = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

pub struct RuncProcess {
    id: String,
    pid_file: PathBuf,
    status: watch::Receiver<Option<i32>>,
}

impl RuncProcess {
    /// Starts `runtime exec` and the tasks that pump its stdio and wait for
    /// it. The files under `dir` (process.json, pid file) go when it exits.
    pub fn spawn(
        runtime: &Runtime,
        container_id: &str,
        id: String,
        dir: PathBuf,
        process: &OciProcess,
        io: ProcessIo,
        owner: (u32, u32),
    ) -> Result<Self, GardenError> {
        std::fs::create_dir_all(&dir)?;
        let spec_file = dir.join(format!("{id}.json"));
        let pid_file = dir.join(format!("{id}.pid"));
        std::fs::write(&spec_file, serde_json::to_vec(process).map_err(err)?)?;
        let command = runtime.exec_command(container_id, &spec_file, &pid_file);
        let cleanup: OnExit = Box::pin(async move {
            let _ = std::fs::remove_file(&spec_file);
        });
        Self::start(runtime, id, &command, pid_file, io, owner, cleanup)
    }

    /// Starts `command` (a foreground `runtime exec` or `run`) detached
    /// under a waiter, and the tasks that pump its stdio and wait for the
    /// process the runtime names in `pid_file`. `on_exit` runs after the
    /// process exited, before its status is reported.
    pub fn start(
        runtime: &Runtime,
        id: String,
        command: &tokio::process::Command,
        pid_file: PathBuf,
        io: ProcessIo,
        owner: (u32, u32),
        on_exit: OnExit,
    ) -> Result<Self, GardenError> {
        let started = detached_exec::start(
            command,
            &pid_file,
            detached_exec::Pipes {
                stdin: io.stdin.is_some(),
                stdout: io.stdout.is_some(),
                stderr: io.stderr.is_some(),
                owner,
            },
        )
        .map_err(|e| GardenError::Runtime(format!("{}: {e}", runtime.binary.display())))?;

        if let (Some(mut src), Some(mut pipe)) = (io.stdin, started.stdin) {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut src, &mut pipe).await;
                let _ = pipe.shutdown().await;
            });
        }
        let exit = Exit::new();
        let mut copies = Vec::new();
        if let (Some(dst), Some(pipe)) = (io.stdout, started.stdout) {
            copies.push(exit.copy(pipe, Some(dst)));
        }
        if let (Some(dst), Some(pipe)) = (io.stderr, started.stderr) {
            copies.push(exit.copy(pipe, Some(dst)));
        }

        let (tx, rx) = watch::channel(None);
        let done_pid_file = pid_file.clone();
        let status = started.status;
        tokio::spawn(async move {
            // The waiter's exit status is the process's (128+N when it was
            // killed by signal N), or the runtime's when that failed.
            let code = status.await.unwrap_or(255);
            // Output written before the exit is delivered before the exit
            // status; a background child still holding the pipes does not
            // delay it (see output.rs).
            exit.exited();
            drained(copies).await;
            on_exit.await;
            let _ = std::fs::remove_file(&done_pid_file);
            let _ = tx.send(Some(code));
        });
        Ok(RuncProcess {
            id,
            pid_file,
            status: rx,
        })
    }
}

#[async_trait]
impl Process for RuncProcess {
    fn id(&self) -> String {
        self.id.clone()
    }

    async fn wait(&self) -> Result<i32, GardenError> {
        let mut rx = self.status.clone();
        let status = rx
            .wait_for(|s| s.is_some())
            .await
            .map_err(|_| GardenError::Runtime("process waiter went away".into()))?;
        Ok(status.expect("some"))
    }

    /// Signals the process itself (its host pid from the runtime's pid
    /// file): the runtime forwards TERM but cannot forward KILL.
    async fn signal(&self, signal: Signal) -> Result<(), GardenError> {
        let sig = match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        for _ in 0..100 {
            if self.status.borrow().is_some() {
                return Ok(());
            }
            if let Some(pid) = std::fs::read_to_string(&self.pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, sig) };
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(GardenError::Runtime(format!(
            "process {} has no pid yet",
            self.id
        )))
    }
}
