//! The processes under load: locket and the BBS run as child processes
//! (`diego locket`, `diego bbs`) so that their CPU time and peak memory
//! can be read from /proc.

use anyhow::{bail, Context as _};
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `diego` binary: `--diego-bin`, else next to this executable.
pub fn diego_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?
            .parent()
            .context("no parent directory of the bench binary")?
            .join("diego"),
    };
    if !path.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p diego) or give --diego-bin",
            path.display()
        );
    }
    Ok(path)
}

/// A running child; killed when dropped.
pub struct Proc {
    pub name: &'static str,
    child: Child,
    /// Converger pass lines (JSON) the BBS logged, and its LRP cache's
    /// load lines.
    pub converger_lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (with its status).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// User + system CPU seconds so far (/proc/<pid>/stat).
    pub fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(self.pid()).unwrap_or(0.0)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub async fn terminate(&mut self, grace: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let t = Instant::now();
        while self.exited().is_none() && t.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A field of /proc/<pid>/status in KiB (VmHWM: peak RSS).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        crate::report::proc_status_kib_of(&self.pid().to_string(), field)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Starts `diego <component> --config <file>` with `config` written to
/// `dir`; its stdout (the JSON log) goes to `<dir>/<name>.log`, and the
/// converger's pass lines are also kept in memory.
pub fn spawn(
    diego: &Path,
    name: &'static str,
    dir: &Path,
    config: &serde_json::Value,
    rust_log: &str,
) -> anyhow::Result<Proc> {
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(config)?)?;
    let mut child = Command::new(diego)
        .arg(name)
        .arg("--config")
        .arg(&file)
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {} {name}", diego.display()))?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().context("child stdout")?;
    let keep = lines.clone();
    let log_path = dir.join(format!("{name}.log"));
    let mut log = std::io::BufWriter::new(
        std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?,
    );
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            // Pass reports, and the LRP cache's load timings (read while
            // the process runs: the log file is written at exit).
            if line.contains("bbs.converger.pass") || line.contains("lrp cache loaded") {
                keep.lock().unwrap().push(line.clone());
            }
            // The log is for reading after the run; a full disk loses it, not the run.
            let _ = writeln!(log, "{line}");
        }
        let _ = log.flush();
    });
    Ok(Proc {
        name,
        child,
        converger_lines: lines,
    })
}

/// Starts `diego locket` on a free loopback port of the database `url`
/// and waits until it listens; the process and its address.
pub async fn spawn_locket(
    diego: &Path,
    dir: &Path,
    driver: &str,
    url: &str,
) -> anyhow::Result<(Proc, String)> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let config = serde_json::json!({
        "listen_address": addr,
        "database_driver": driver,
        "database_connection_string": url,
    });
    let mut locket = spawn(diego, "locket", dir, &config, "warn")?;
    wait_listening(&mut locket, &addr, Duration::from_secs(30)).await?;
    Ok((locket, addr))
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_listening(p: &mut Proc, addr: &str, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = p.exited() {
            bail!("{} exited before listening: {status}", p.name);
        }
        if start.elapsed() > timeout {
            bail!("{} did not listen on {addr} within {timeout:?}", p.name);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The LRP pass durations (ms) of the converger lines logged so far.
pub fn lrp_pass_durations_ms(lines: &[String]) -> Vec<f64> {
    pass_reports(lines)
        .iter()
        .filter_map(|r| r.get("lrp_duration_ms")?.as_f64())
        .collect()
}

/// The converger's pass reports (JSON objects) logged so far.
pub fn pass_reports(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter_map(|l| {
            let start = l.find('{')?;
            // The pass line is a JSON object logged as the message text.
            let v: serde_json::Value = serde_json::from_str(&l[start..]).ok()?;
            let msg = v.get("message")?;
            match msg {
                serde_json::Value::String(s) => serde_json::from_str(s).ok(),
                other => Some(other.clone()),
            }
        })
        .collect()
}

/// A pass report's non-zero counts, `name=value` (what the pass did).
pub fn pass_work(report: &serde_json::Value) -> String {
    let Some(m) = report.as_object() else {
        return String::new();
    };
    m.iter()
        .filter(|(k, v)| {
            !k.ends_with("_ms") && *k != "message" && v.as_f64().is_some_and(|n| n != 0.0)
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(proc_cpu_seconds(std::process::id()).unwrap() >= 0.0);
    }

    #[test]
    fn parses_converger_pass_lines() {
        let inner = serde_json::json!({"message": "bbs.converger.pass", "lrp_duration_ms": 12.5});
        let line = serde_json::json!({"level": "INFO", "message": inner.to_string(), "target": "converger"});
        assert_eq!(lrp_pass_durations_ms(&[line.to_string()]), vec![12.5]);
    }
}
