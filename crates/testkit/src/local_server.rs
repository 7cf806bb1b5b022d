//! What the throwaway database servers (PostgreSQL, MariaDB) share:
//! running their programs as a service user when we are root (they refuse
//! to run as root), a temp dir that user owns, free ports, commands.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub(crate) fn euid_is_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("Uid:") {
                // real, effective, saved, fs
                return rest.split_whitespace().nth(1) == Some("0");
            }
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub(crate) fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

pub(crate) fn run(mut cmd: Command, what: &str) -> Result<Output, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

/// `program` run as `user` (through `runuser`, or `su` without it), or as
/// ourselves.
pub(crate) fn run_as_command(user: Option<&str>, program: &Path) -> Command {
    match user {
        None => Command::new(program),
        Some(user) => {
            let mut c =
                if Path::new("/usr/sbin/runuser").exists() || Path::new("/sbin/runuser").exists() {
                    let mut c = Command::new("runuser");
                    c.arg("-u").arg(user).arg("--");
                    c
                } else {
                    let mut c = Command::new("su");
                    c.arg(user)
                        .arg("-s")
                        .arg("/bin/sh")
                        .arg("-c")
                        .arg("exec \"$0\" \"$@\"");
                    c
                };
            c.arg(program);
            c
        }
    }
}

/// The user a database server runs as: None when we are not root (it
/// runs as us), else `service` or, failing that, `nobody`.
pub(crate) fn server_user(service: &str) -> Result<Option<String>, String> {
    if !euid_is_root() {
        return Ok(None);
    }
    [service, "nobody"]
        .into_iter()
        .find(|u| user_exists(u))
        .map(|u| Some(u.to_string()))
        .ok_or_else(|| {
            format!("running as root and neither a `{service}` nor a `nobody` user exists")
        })
}

/// A temp dir (removed on drop) owned by `user` when one is given, private
/// to it.
pub(crate) fn server_dir(prefix: &str, user: Option<&str>) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    if let Some(user) = user {
        let mut c = Command::new("chown");
        c.arg("-R").arg(format!("{user}:")).arg(dir.path());
        run(c, "chown temp dir")?;
        let _ = std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        );
    }
    Ok(dir)
}
