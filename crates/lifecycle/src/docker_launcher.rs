//! The docker `launcher` (Diego's dockerapplifecycle/launcher): starts an
//! app from an OCI image. Cloud Controller runs `/tmp/lifecycle/launcher
//! app "<start command or empty>" '<execution metadata JSON>'`; the first
//! argument is ignored. It patches VCAP_APPLICATION and DATABASE_URL,
//! changes to the image's working directory, and execs the start command
//! through `/bin/sh -c`, or else the image's Entrypoint followed by its Cmd.
//! It runs in images without a libc, so it is built static.

use crate::env::{self, Env};
use std::path::{Path, PathBuf};

/// The image facts the docker builder recorded (dockerapplifecycle's
/// `protocol.ExecutionMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ExecutionMetadata {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workdir: String,
    #[serde(default, rename = "ports", skip_serializing_if = "Vec::is_empty")]
    pub exposed_ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Port {
    #[serde(rename = "Port")]
    pub port: u16,
    #[serde(rename = "Protocol")]
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerLaunch {
    pub workdir: PathBuf,
    /// argv: the resolved program first.
    pub argv: Vec<String>,
    pub env: Env,
}

/// Works out the launch; Err is the message (exit status 1, or 3 for bad
/// platform options).
pub fn plan(argv: &[String], process_env: Env) -> Result<DockerLaunch, (i32, String)> {
    let program = argv.first().map(String::as_str).unwrap_or("launcher");
    if argv.len() < 4 {
        return Err((
            1,
            format!("Usage: {program} <ignored> <start command> <metadata>"),
        ));
    }
    let start_command = &argv[2];
    let metadata = &argv[3];
    let mut env = process_env;
    match env::credhub_uri(&env) {
        Err(_) => return Err((3, "Invalid platform options".into())),
        Ok(Some(_)) if env::has_credhub_refs(&env) => return Err((
            4,
            "Unable to interpolate credhub references: CredHub is not supported by this lifecycle"
                .into(),
        )),
        Ok(_) => {}
    }
    if let Some(url) = env
        .get("VCAP_SERVICES")
        .filter(|s| !s.is_empty())
        .and_then(|s| env::database_url(s))
    {
        env.insert("DATABASE_URL".into(), url);
    }
    if let Some(app) = env::patched_vcap_application(&env) {
        env.insert("VCAP_APPLICATION".into(), app);
    }
    let meta: ExecutionMetadata =
        serde_json::from_str(metadata).map_err(|e| (1, format!("Invalid metadata - {e}")))?;
    let workdir = if meta.workdir.is_empty() {
        PathBuf::from("/")
    } else {
        PathBuf::from(&meta.workdir)
    };
    if meta.entrypoint.is_empty() && meta.cmd.is_empty() && start_command.is_empty() {
        return Err((1, "No start command found or specified".into()));
    }
    let argv = if !start_command.is_empty() {
        vec!["/bin/sh".into(), "-c".into(), start_command.clone()]
    } else {
        let mut argv: Vec<String> = meta.entrypoint.iter().chain(&meta.cmd).cloned().collect();
        let path = env.get("PATH").cloned().unwrap_or_default();
        argv[0] = look_path(&argv[0], &path, &workdir)
            .map_err(|e| (1, format!("Failed to resolve path: {e}")))?;
        argv
    };
    Ok(DockerLaunch { workdir, argv, env })
}

/// Go's `exec.LookPath`: a name with a slash is used as it is (if it is an
/// executable file); otherwise the first executable of that name on PATH.
pub fn look_path(file: &str, path: &str, cwd: &Path) -> Result<String, String> {
    if file.contains('/') {
        let p = cwd.join(file);
        return match executable(&p) {
            Ok(()) => Ok(file.to_string()),
            Err(e) => Err(format!("exec: {file:?}: {e}")),
        };
    }
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(file);
        if executable(&cwd.join(&candidate)).is_ok() {
            return Ok(candidate.display().to_string());
        }
    }
    Err(format!(
        "exec: {file:?}: executable file not found in $PATH"
    ))
}

fn executable(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(p).map_err(|e| {
        let s = e.to_string();
        let s = s.split(" (os error").next().unwrap_or(&s).to_lowercase();
        format!("stat {}: {s}", p.display())
    })?;
    if m.is_dir() || m.permissions().mode() & 0o111 == 0 {
        return Err("permission denied".into());
    }
    Ok(())
}

/// Changes to the working directory and execs; returns only on failure,
/// with the message to print.
pub fn exec(launch: &DockerLaunch) -> String {
    use std::os::unix::process::CommandExt;
    if let Err(e) = std::env::set_current_dir(&launch.workdir) {
        return format!(
            "Couldn't change directories to {}: {e}",
            launch.workdir.display()
        );
    }
    let e = std::process::Command::new(&launch.argv[0])
        .args(&launch.argv[1..])
        .env_clear()
        .envs(&launch.env)
        .exec();
    format!("Failed to run: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn env() -> Env {
        [
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("VCAP_APPLICATION".to_string(), "{}".to_string()),
            ("INSTANCE_INDEX".to_string(), "1".to_string()),
        ]
        .into()
    }

    #[test]
    fn start_command_runs_through_sh() {
        let l = plan(
            &argv(&["launcher", "ignored", "echo hi", r#"{"workdir":"/app"}"#]),
            env(),
        )
        .unwrap();
        assert_eq!(l.argv, ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(l.workdir, PathBuf::from("/app"));
        assert!(l.env["VCAP_APPLICATION"].contains("\"instance_index\":1"));
    }

    #[test]
    fn entrypoint_then_cmd_resolved_on_path() {
        let l = plan(
            &argv(&[
                "launcher",
                "app",
                "",
                r#"{"entrypoint":["sh","-c"],"cmd":["echo $0"]}"#,
            ]),
            env(),
        )
        .unwrap();
        assert!(l.argv[0].ends_with("/sh"), "{:?}", l.argv);
        assert_eq!(&l.argv[1..], ["-c", "echo $0"]);
        assert_eq!(l.workdir, PathBuf::from("/"));

        let e = plan(
            &argv(&["launcher", "app", "", r#"{"cmd":["no-such-program"]}"#]),
            env(),
        )
        .unwrap_err();
        assert_eq!(
            e.1,
            "Failed to resolve path: exec: \"no-such-program\": executable file not found in $PATH"
        );
    }

    #[test]
    fn nothing_to_run_and_bad_metadata_fail() {
        let e = plan(&argv(&["launcher", "app", "", "{}"]), env()).unwrap_err();
        assert_eq!(e, (1, "No start command found or specified".into()));
        let e = plan(&argv(&["launcher", "app", "x", "nope"]), env()).unwrap_err();
        assert!(e.1.starts_with("Invalid metadata - "));
        let e = plan(&argv(&["launcher", "app"]), env()).unwrap_err();
        assert_eq!(e.1, "Usage: launcher <ignored> <start command> <metadata>");
    }
}
