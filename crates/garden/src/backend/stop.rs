//! Garden's Stop on the runc backend: every process of the container but
//! its init is signalled through the container's cgroup and its peas'
//! (so processes run through `run`, their children and peas alike), SIGTERM first and
//! SIGKILL for whatever outlives the wait. The container keeps its init,
//! network and files; Info reports it "stopped" from then on.

use std::path::Path;
use std::time::{Duration, Instant};

use super::RuncBackend;
use crate::api::GardenError;
use crate::bundle::INIT_SLEEP_ARGS;
use crate::cgroups::Cgroup;

/// Marks a stopped container in its directory: Info reads it, and it
/// survives a restarted backend as the container does.
const STOPPED_MARK: &str = "stopped";

/// How often the cgroup is read again while waiting for processes to go.
const POLL: Duration = Duration::from_millis(50);

/// How long SIGKILLed processes get to disappear before Stop gives up
/// (only a process stuck in the kernel outlives SIGKILL that long).
const KILL_WAIT: Duration = Duration::from_secs(10);

impl RuncBackend {
    pub(super) async fn stop_container(&self, handle: &str, kill: bool) -> Result<(), GardenError> {
        let rec = self.record(handle)?;
        let dir = self.container_dir(handle);
        let mut cgroups = vec![Cgroup::new(
            self.inner.cgroup_version,
            rec.cgroups_path.clone(),
        )];
        cgroups.extend(self.detached_pea_cgroups(&rec));
        let init = std::fs::read_to_string(dir.join("init.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let others = || -> Vec<i32> {
            cgroups
                .iter()
                .flat_map(Cgroup::procs)
                .filter(|&p| Some(p) != init && !init.is_some_and(|i| is_inits_sleep(i, p)))
                .collect()
        };
        tracing::info!(handle = %handle, kill, "stopping");
        if !kill {
            signal_all(&others(), libc::SIGTERM);
            if !wait_gone(&others, self.inner.cfg.stop_timeout).await {
                tracing::info!(handle = %handle, "processes outlived SIGTERM; killing");
            }
        }
        // Killed again each round: a process forked while the others died
        // would otherwise be missed.
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            let left = others();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(GardenError::Runtime(format!(
                    "stop: processes {left:?} still running after SIGKILL"
                )));
            }
            signal_all(&left, libc::SIGKILL);
            tokio::time::sleep(POLL).await;
        }
        std::fs::write(dir.join(STOPPED_MARK), b"")?;
        tracing::info!(handle = %handle, "stopped");
        Ok(())
    }
}

/// Whether a container was stopped (Garden's state "stopped").
pub(super) fn is_stopped(container_dir: &Path) -> bool {
    container_dir.join(STOPPED_MARK).exists()
}

/// Whether `pid` is the sleep the container's init shell waits on (see
/// `bundle::init_args`), or that sleep just forked and not yet exec'd
/// (the init's own command line): part of the init, not a process of the
/// container's, and one the init would only start again if killed.
fn is_inits_sleep(init: i32, pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The parent pid is the second field after the command's ")".
    let ppid = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<i32>().ok());
    if ppid != Some(init) {
        return false;
    }
    let cmdline = |p: i32| std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
    let own = cmdline(pid);
    let args: Vec<&[u8]> = own.split(|&b| b == 0).filter(|a| !a.is_empty()).collect();
    let sleep: Vec<&[u8]> = INIT_SLEEP_ARGS.iter().map(|a| a.as_bytes()).collect();
    args == sleep || (!own.is_empty() && own == cmdline(init))
}

fn signal_all(pids: &[i32], signal: i32) {
    for &pid in pids {
        // SAFETY: kill has no memory-safety preconditions; a pid that has
        // exited meanwhile gets ESRCH, which is what we want anyway.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Waits up to `within` for `list` to come back empty.
async fn wait_gone(list: &impl Fn() -> Vec<i32>, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if list().is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}
