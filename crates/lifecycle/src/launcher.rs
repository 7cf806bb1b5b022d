//! The buildpack `launcher` (Diego's buildpackapplifecycle/launcher):
//! starts an app from its droplet. Cloud Controller's LRP runs
//! `/tmp/lifecycle/launcher app "<start command or empty>" "<metadata>"`
//! in /home/vcap, where the droplet was extracted; the launcher sets the
//! app's environment and execs bash, which sources the buildpacks'
//! profile.d scripts, the app's .profile.d scripts and .profile, then
//! execs the start command.

use crate::builder::result::{StagingInfo, STAGING_INFO_FILE};
use crate::env::{self, Env};
use std::path::{Path, PathBuf};

pub const PRE_START_MESSAGE: &str = "Invoking pre-start scripts.";
pub const START_MESSAGE: &str = "Invoking start command.";

/// The bash script the launcher execs with `$1` the app directory and `$2`
/// the start command (Diego's, word for word in effect).
pub fn script(entrypoint_prefix: &str) -> String {
    let entrypoint = if entrypoint_prefix.is_empty() {
        "bash -c"
    } else {
        entrypoint_prefix
    };
    format!(
        r#"
cd "$1"

echo '{PRE_START_MESSAGE}'

if [ -n "$(ls ../profile.d/* 2> /dev/null)" ]; then
  for env_file in ../profile.d/*; do
    source $env_file
  done
fi

if [ -n "$(ls .profile.d/* 2> /dev/null)" ]; then
  for env_file in .profile.d/*; do
    source $env_file
  done
fi

if [ -f .profile ]; then
  source .profile
fi

shift

echo '{START_MESSAGE}'

exec {entrypoint} "$@"
"#
    )
}

/// What to exec: the program, its arguments (argv[1..]) and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub arg0: String,
    pub args: Vec<String>,
    pub env: Env,
}

/// A failure: the message and exit status Diego's launcher gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchError {
    pub message: String,
    pub code: i32,
}

fn fail(code: i32, message: String) -> LaunchError {
    LaunchError { message, code }
}

/// Reads `staging_info.yml` from `dir` (missing: nothing staged there,
/// which is fine when a start command is given).
pub fn read_staging_info(dir: &Path) -> Result<StagingInfo, String> {
    match std::fs::read_to_string(dir.join(STAGING_INFO_FILE)) {
        Ok(text) => serde_norway::from_str(&text)
            .map_err(|e| format!("failed to unmarshal {STAGING_INFO_FILE}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StagingInfo::default()),
        Err(e) => Err(e.to_string()),
    }
}

/// Works out the launch from `argv` (with the program name), the current
/// directory `cwd` and the process environment.
pub fn plan(argv: &[String], cwd: &Path, process_env: Env) -> Result<Launch, LaunchError> {
    let program = argv.first().map(String::as_str).unwrap_or("launcher");
    if argv.len() < 4 {
        return Err(fail(
            1,
            format!(
                "{program}: received only {} arguments\nUsage: {program} <app-directory> <start-command> <metadata>",
                argv.len().saturating_sub(1)
            ),
        ));
    }
    let dir = env::clean(&cwd.join(&argv[1]));
    let info =
        read_staging_info(cwd).map_err(|e| fail(1, format!("Invalid staging info - {e}")))?;
    let command = if argv[2].is_empty() {
        info.start_command.clone()
    } else {
        argv[2].clone()
    };
    if command.is_empty() {
        return Err(fail(
            1,
            format!("{program}: no start command specified or detected in droplet"),
        ));
    }
    // The CredHub flags after the metadata: taken, and of no use without
    // a CredHub.
    let mut credhub = crate::flags::FlagSet::new("launcher");
    crate::builder::config::add_credhub_flags(&mut credhub);
    if let Err(crate::flags::FlagError::Invalid(e)) = credhub.parse(&argv[3..]) {
        return Err(fail(
            1,
            format!("{program}: could not parse credhub flags: {e}"),
        ));
    }
    let env = env::calc_env(process_env, &dir).map_err(|e| fail(3, e))?;
    Ok(Launch {
        program: PathBuf::from("/bin/bash"),
        arg0: "bash".into(),
        args: vec![
            "-c".into(),
            script(info.entrypoint_prefix()),
            program.to_string(),
            dir.display().to_string(),
            command,
        ],
        env,
    })
}

/// Replaces this process with the launch; returns only on failure.
pub fn exec(launch: &Launch) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(&launch.program)
        .arg0(&launch.arg0)
        .args(&launch.args)
        .env_clear()
        .envs(&launch.env)
        .exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn start_command_from_argument_or_droplet() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(STAGING_INFO_FILE),
            r#"{"detected_buildpack":"python","start_command":"python app.py"}"#,
        )
        .unwrap();
        let env: Env = [
            ("VCAP_APPLICATION".to_string(), "{}".to_string()),
            ("PORT".to_string(), "8080".to_string()),
        ]
        .into();
        let l = plan(
            &argv(&["/tmp/lifecycle/launcher", "app", "", ""]),
            home.path(),
            env.clone(),
        )
        .unwrap();
        assert_eq!(l.program, PathBuf::from("/bin/bash"));
        assert_eq!(l.args[4], "python app.py");
        assert_eq!(l.args[3], home.path().join("app").display().to_string());
        assert!(l.args[1].contains("exec bash -c \"$@\""));
        assert_eq!(l.env["HOME"], home.path().join("app").display().to_string());
        assert!(l.env["VCAP_APPLICATION"].contains("\"port\":8080"));

        let l = plan(
            &argv(&["launcher", "app", "./serve --port $PORT", "{}"]),
            home.path(),
            env,
        )
        .unwrap();
        assert_eq!(l.args[4], "./serve --port $PORT");
    }

    #[test]
    fn missing_command_and_arguments_fail_as_diegos() {
        let home = tempfile::tempdir().unwrap();
        let e = plan(&argv(&["launcher", "app", ""]), home.path(), Env::new()).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e
            .message
            .starts_with("launcher: received only 2 arguments\n"));
        let e = plan(&argv(&["launcher", "app", "", ""]), home.path(), Env::new()).unwrap_err();
        assert_eq!(
            e.message,
            "launcher: no start command specified or detected in droplet"
        );
        std::fs::write(home.path().join(STAGING_INFO_FILE), "{not yaml: [").unwrap();
        let e = plan(
            &argv(&["launcher", "app", "x", ""]),
            home.path(),
            Env::new(),
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("Invalid staging info - "),
            "{}",
            e.message
        );
    }

    #[test]
    fn entrypoint_prefix_replaces_bash_c() {
        assert!(script("").contains("exec bash -c \"$@\""));
        assert!(script("tini -g --").contains("exec tini -g -- \"$@\""));
    }
}
