//! The OCI runtime's command line (runc; youki and crun take the same).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::api::GardenError;
use crate::cmd::run;

#[derive(Debug, Clone)]
pub struct Runtime {
    pub binary: PathBuf,
    /// The runtime's own state directory (`--root`), private to the backend.
    pub root: PathBuf,
}

impl Runtime {
    fn base(&self) -> Vec<String> {
        vec!["--root".into(), self.root.display().to_string()]
    }

    fn bin(&self) -> String {
        self.binary.display().to_string()
    }

    async fn call(&self, args: &[&str]) -> Result<String, GardenError> {
        let base = self.base();
        let mut all: Vec<&str> = base.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        run(&self.bin(), &all, None).await
    }

    /// `create`: the init process is started but held before exec; the
    /// runtime's messages go to `log` (stdout/stderr of the runtime are the
    /// init's, so they cannot be pipes we wait to close).
    pub async fn create(&self, id: &str, bundle: &Path) -> Result<(), GardenError> {
        let log = bundle.join("runtime.log");
        let stderr = std::fs::File::create(&log)?;
        let status = Command::new(&self.binary)
            .args(self.base())
            .args(["create", "--bundle"])
            .arg(bundle)
            .arg("--pid-file")
            .arg(bundle.join("init.pid"))
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .status()
            .await
            .map_err(|e| GardenError::Runtime(format!("{}: {e}", self.bin())))?;
        if !status.success() {
            let msg = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(GardenError::Runtime(format!(
                "runtime create {id}: {}",
                msg.trim()
            )));
        }
        Ok(())
    }

    pub async fn start(&self, id: &str) -> Result<(), GardenError> {
        self.call(&["start", id]).await.map(drop)
    }

    /// SIGKILLs the container's init (its pid namespace then dies with it)
    /// and waits until it is gone. `delete --force` alone would do this
    /// too, but polls every 100 ms; this takes about a millisecond. The
    /// pid is only trusted while it is still in the container's cgroup.
    pub async fn kill_init(&self, bundle: &Path, cgroups_path: &str) {
        let Some(pid) = std::fs::read_to_string(bundle.join("init.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            return;
        };
        let ours = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.lines().any(|l| l.ends_with(cgroups_path)));
        if !ours {
            return;
        }
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        for _ in 0..1000 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for its reaper.
            let zombie = state
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            if state.is_empty() || zombie {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Kills what is left and forgets the container; quiet when it is
    /// already unknown to the runtime.
    pub async fn delete(&self, id: &str) -> Result<(), GardenError> {
        match self.call(&["delete", "--force", id]).await {
            Ok(_) => Ok(()),
            Err(e)
                if e.to_string().contains("does not exist")
                    || e.to_string().contains("not exist") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The command that creates and starts the container of `bundle`,
    /// whose init is the process to wait for (a pea).
    pub fn run_command(&self, id: &str, bundle: &Path, pid_file: &Path) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(self.base())
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id);
        cmd
    }

    /// The command that runs a process in the container (stdio set by the
    /// caller).
    pub fn exec_command(&self, id: &str, process_json: &Path, pid_file: &Path) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(self.base())
            .arg("exec")
            .arg("--process")
            .arg(process_json)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id);
        cmd
    }
}
