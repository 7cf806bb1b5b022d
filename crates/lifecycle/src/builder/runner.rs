//! Staging itself (Diego's `buildpackrunner.Runner`): set up the droplet's
//! contents, detect (or take the named buildpacks), supply, finalize or
//! compile, work out the start commands, write staging_info.yml and
//! result.json, and tar the droplet and the build artifacts cache.

use super::config::{is_url, BuilderConfig};
use super::download;
use super::errors::*;
use super::launch::{self, LaunchProcess};
use super::result::{BuildpackMetadata, StagingInfo, StagingResult, STAGING_INFO_FILE};
use crate::env::Env;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

pub struct Runner {
    config: BuilderConfig,
    /// The environment buildpack scripts run with.
    env: Env,
    /// The droplet's root while it is made (a temp dir), with `deps/` and
    /// `profile.d/`.
    contents_dir: Option<PathBuf>,
}

/// Which buildpack stages the app, and what its detect printed.
struct Chosen {
    key: String,
    dir: PathBuf,
    detect_output: String,
}

impl Runner {
    pub fn new(config: BuilderConfig, env: Env) -> Self {
        Self {
            config,
            env,
            contents_dir: None,
        }
    }

    pub fn config(&self) -> &BuilderConfig {
        &self.config
    }

    fn contents(&self) -> &Path {
        self.contents_dir.as_deref().expect("set up")
    }

    fn deps_dir(&self) -> PathBuf {
        self.contents().join("deps")
    }

    fn profile_dir(&self) -> PathBuf {
        self.contents().join("profile.d")
    }

    /// Stages the app; the droplet, the cache and result.json are written
    /// when it returns Ok.
    pub fn run(&mut self) -> Result<(), StagingError> {
        self.setup()?;
        self.go_like_lightning()
    }

    pub fn setup(&mut self) -> Result<(), StagingError> {
        self.make_directories().map_err(|e| {
            StagingError::wrap(e, "Failed to set up filesystem when generating droplet")
        })?;
        self.download_buildpacks()?;
        self.clean_cache_dir()?;
        Ok(())
    }

    fn make_directories(&mut self) -> Result<(), StagingError> {
        let c = &self.config;
        for file in [c.output_droplet(), c.output_metadata()] {
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
        }
        std::fs::create_dir_all(c.build_artifacts_cache_dir().join("final"))?;
        for bp in c.supply_buildpacks() {
            std::fs::create_dir_all(self.supply_cache_path(&bp))?;
        }
        let contents = make_temp_dir(&std::env::temp_dir(), "contents")?;
        for i in 0..=c.supply_buildpacks().len() {
            std::fs::create_dir_all(contents.join("deps").join(c.deps_index(i)))?;
        }
        std::fs::create_dir_all(contents.join("profile.d"))?;
        self.contents_dir = Some(contents);
        Ok(())
    }

    fn download_buildpacks(&self) -> Result<(), StagingError> {
        for key in self.config.buildpack_order() {
            if !is_url(&key) {
                continue;
            }
            let destination = self.config.buildpack_path(&key);
            if download::is_zip_url(&key) {
                let size =
                    download::download_zip(&key, &destination, self.config.skip_cert_verify())?;
                println!(
                    "Downloaded buildpack `{key}` ({})",
                    download::byte_size(size)
                );
            } else {
                download::git_clone(&key, &destination)?;
            }
        }
        Ok(())
    }

    /// Keeps only the cache directories this staging uses (`final` and
    /// one per supply buildpack).
    fn clean_cache_dir(&self) -> Result<(), StagingError> {
        let cache = self.config.build_artifacts_cache_dir();
        let mut keep = vec![cache.join("final")];
        for bp in self.config.supply_buildpacks() {
            keep.push(self.supply_cache_path(&bp));
        }
        for entry in std::fs::read_dir(&cache)? {
            let path = entry?.path();
            if !keep.contains(&path) {
                let meta = std::fs::symlink_metadata(&path)?;
                if meta.is_dir() {
                    std::fs::remove_dir_all(&path)?;
                } else {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }

    fn supply_cache_path(&self, buildpack: &str) -> PathBuf {
        self.config
            .build_artifacts_cache_dir()
            .join(super::config::key_hash(buildpack))
    }

    /// Detects or supplies, builds, and packages the droplet.
    pub fn go_like_lightning(&mut self) -> Result<(), StagingError> {
        let (chosen, keys) = if self.config.skip_detect() {
            (self.run_supply_buildpacks()?, self.config.buildpack_order())
        } else {
            let chosen = self
                .detect()
                .ok_or_else(|| StagingError::new(DETECT_FAIL_MSG))?;
            let keys = vec![chosen.key.clone()];
            (chosen, keys)
        };
        if let Err(e) = self.build(&chosen) {
            // result.json still says which buildpacks ran.
            let result = StagingResult::new(None, self.buildpacks_metadata(&keys));
            let _ = std::fs::write(self.config.output_metadata(), result.to_json());
            return Err(e);
        }
        self.package_droplet()
    }

    /// The first buildpack whose `bin/detect` exits 0.
    fn detect(&self) -> Option<Chosen> {
        for key in self.config.buildpack_order() {
            let dir = match self.buildpack_dir(&key) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{e}");
                    continue;
                }
            };
            let detect = dir.join("bin").join("detect");
            match std::fs::metadata(&detect) {
                Err(e) => {
                    eprintln!("{}", go_path_error("stat", &detect, &e));
                    continue;
                }
                Ok(m) => {
                    use std::os::unix::fs::PermissionsExt;
                    if m.permissions().mode() & 0o111 != 0o111 {
                        println!("WARNING: buildpack script '/bin/detect' is not executable");
                    }
                }
            }
            let build_dir = self.config.build_dir();
            let mut cmd = Command::new(&detect);
            cmd.arg(&build_dir);
            if let Ok(output) = self.capture(cmd) {
                return Some(Chosen {
                    key,
                    dir,
                    detect_output: output.trim_end_matches(['\r', '\n']).to_string(),
                });
            }
        }
        None
    }

    /// Runs `bin/supply` of every buildpack but the last; the last one is
    /// the final buildpack.
    fn run_supply_buildpacks(&self) -> Result<Chosen, StagingError> {
        let supply = self.config.supply_buildpacks();
        for key in &supply {
            let dir = self.buildpack_dir(key).map_err(|e| {
                eprintln!("{e}");
                StagingError::wrap(e, SUPPLY_FAIL_MSG)
            })?;
            if !dir.join("bin").join("supply").exists() {
                return Err(StagingError::new(NO_SUPPLY_SCRIPT_FAIL_MSG));
            }
        }
        for (i, key) in supply.iter().enumerate() {
            let dir = self.buildpack_dir(key).map_err(|e| {
                eprintln!("{e}");
                StagingError::wrap(e, SUPPLY_FAIL_MSG)
            })?;
            let mut cmd = Command::new(dir.join("bin").join("supply"));
            cmd.arg(self.config.build_dir())
                .arg(self.supply_cache_path(key))
                .arg(self.deps_dir())
                .arg(self.config.deps_index(i));
            self.stream(cmd)
                .map_err(|e| StagingError::wrap(e, SUPPLY_FAIL_MSG))?;
        }
        let key = self.config.buildpack_order()[supply.len()].clone();
        let dir = self
            .buildpack_dir(&key)
            .map_err(|e| StagingError::wrap(e, SUPPLY_FAIL_MSG))?;
        Ok(Chosen {
            key,
            dir,
            detect_output: String::new(),
        })
    }

    fn build(&self, chosen: &Chosen) -> Result<(), StagingError> {
        self.run_finalize(&chosen.dir)
            .map_err(|e| StagingError::wrap(e, COMPILE_FAIL_MSG))?;
        let mut processes = Vec::new();
        for i in 0..self.config.supply_buildpacks().len() {
            processes = self.merge_launch_yml(i, processes)?;
        }
        let processes = self.process_final_buildpack(&chosen.dir, processes)?;
        self.write_start_commands(chosen, processes)
    }

    /// `bin/supply` (if any) then `bin/finalize` of the final buildpack, or
    /// the legacy `bin/compile`.
    fn run_finalize(&self, dir: &Path) -> Result<(), StagingError> {
        let c = &self.config;
        let index = c.deps_index(c.supply_buildpacks().len());
        let cache = c.build_artifacts_cache_dir().join("final");
        let bin = dir.join("bin");
        if bin.join("finalize").exists() {
            if bin.join("supply").exists() {
                let mut cmd = Command::new(bin.join("supply"));
                cmd.arg(c.build_dir())
                    .arg(&cache)
                    .arg(self.deps_dir())
                    .arg(&index);
                self.stream(cmd)
                    .map_err(|e| StagingError::wrap(e, SUPPLY_FAIL_MSG))?;
            }
            let mut cmd = Command::new(bin.join("finalize"));
            cmd.arg(c.build_dir())
                .arg(&cache)
                .arg(self.deps_dir())
                .arg(&index)
                .arg(self.profile_dir());
            self.stream(cmd)
                .map_err(|e| StagingError::wrap(e, FINALIZE_FAIL_MSG))?;
        } else {
            if !c.supply_buildpacks().is_empty() {
                eprintln!("{MISSING_FINALIZE_WARN_MSG}");
            }
            // A legacy buildpack has no use for its deps directory.
            let unused = self.deps_dir().join(&index);
            if unused.exists() {
                std::fs::remove_dir_all(&unused)
                    .map_err(|e| StagingError::wrap(e, COMPILE_FAIL_MSG))?;
            }
            let mut cmd = Command::new(bin.join("compile"));
            cmd.arg(c.build_dir()).arg(&cache);
            self.stream(cmd)
                .map_err(|e| StagingError::wrap(e, COMPILE_FAIL_MSG))?;
        }
        Ok(())
    }

    fn launch_yml(&self, index: usize) -> PathBuf {
        // Diego names it by the plain index here (not the padded deps
        // index); the two agree below ten buildpacks.
        self.deps_dir().join(index.to_string()).join("launch.yml")
    }

    fn merge_launch_yml(
        &self,
        index: usize,
        processes: Vec<LaunchProcess>,
    ) -> Result<Vec<LaunchProcess>, StagingError> {
        let path = self.launch_yml(index);
        if !path.exists() {
            return Ok(processes);
        }
        let text = std::fs::read_to_string(&path)?;
        let data = launch::parse_launch_yml(&text)?;
        Ok(launch::merge(processes, data.processes))
    }

    /// The final buildpack's processes (its launch.yml, or what its
    /// `bin/release` prints), then the Procfile's over them.
    fn process_final_buildpack(
        &self,
        dir: &Path,
        processes: Vec<LaunchProcess>,
    ) -> Result<Vec<LaunchProcess>, StagingError> {
        let index = self.config.buildpack_order().len() - 1;
        let processes = if self.launch_yml(index).exists() {
            self.merge_launch_yml(index, processes)?
        } else {
            let release = self
                .release(dir)
                .map_err(|e| StagingError::wrap(e, RELEASE_FAIL_MSG))?;
            launch::merge(processes, launch::from_types(release.default_process_types))
        };
        let procfile = self
            .read_procfile()
            .map_err(|e| StagingError::wrap(e, "Failed to read command from Procfile"))?;
        Ok(launch::merge(processes, launch::from_types(procfile)))
    }

    fn release(&self, dir: &Path) -> Result<launch::Release, StagingError> {
        let mut cmd = Command::new(dir.join("bin").join("release"));
        cmd.arg(self.config.build_dir());
        let output = self.capture(cmd)?;
        launch::parse_release(&output)
            .map_err(|e| StagingError::wrap(e, "buildpack's release output invalid"))
    }

    fn read_procfile(&self) -> Result<std::collections::BTreeMap<String, String>, StagingError> {
        match std::fs::read_to_string(self.config.build_dir().join("Procfile")) {
            Ok(text) => Ok(launch::parse_procfile(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(e.into()),
        }
    }

    fn write_start_commands(
        &self,
        chosen: &Chosen,
        processes: Vec<LaunchProcess>,
    ) -> Result<(), StagingError> {
        let (types, list, sidecars) = launch::split(processes);
        if types.get("web").is_none_or(|c| c.is_empty()) {
            eprintln!("No start command specified by buildpack or via Procfile.");
            eprintln!("App will not start unless a command is provided at runtime.");
        }
        let buildpacks = if self.config.skip_detect() {
            self.buildpacks_metadata(&self.config.buildpack_order())
        } else {
            let mut m = self.buildpacks_metadata(std::slice::from_ref(&chosen.key));
            if m[0].name.is_empty() {
                m[0].name = chosen.detect_output.clone();
            }
            m
        };
        let last = buildpacks.last().cloned().unwrap_or_default();
        let info = StagingInfo {
            detected_buildpack: last.name.clone(),
            start_command: types.get("web").cloned().unwrap_or_default(),
            config: last.config.clone(),
        };
        std::fs::write(self.contents().join(STAGING_INFO_FILE), info.to_json())?;
        let mut result = StagingResult::new(Some(types), buildpacks);
        result.processes = list;
        result.sidecars = sidecars;
        std::fs::write(self.config.output_metadata(), result.to_json())?;
        Ok(())
    }

    /// Each buildpack's key, with what its deps directory's `config.yml`
    /// (name, version, config) says over it.
    fn buildpacks_metadata(&self, keys: &[String]) -> Vec<BuildpackMetadata> {
        keys.iter()
            .enumerate()
            .map(|(i, key)| {
                let mut m = BuildpackMetadata {
                    key: key.clone(),
                    ..Default::default()
                };
                let path = self.contents_dir.as_ref().map(|c| {
                    c.join("deps")
                        .join(self.config.deps_index(i))
                        .join("config.yml")
                });
                if let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) {
                    if let Ok(from_file) = serde_norway::from_str::<ConfigYml>(&text) {
                        from_file.apply(&mut m);
                    }
                }
                m
            })
            .collect()
    }

    /// The droplet (`app/`, `deps/`, `profile.d/`, `tmp/`, `logs/`,
    /// `staging_info.yml`) and the build artifacts cache, as gzipped tars.
    fn package_droplet(&self) -> Result<(), StagingError> {
        for d in ["tmp", "logs"] {
            std::fs::create_dir_all(self.contents().join(d))
                .map_err(|e| StagingError::wrap(e, "Failed to set up droplet filesystem"))?;
        }
        let mut cp = Command::new("cp");
        cp.arg("-a")
            .arg(self.config.build_dir())
            .arg(self.contents().join("app"));
        self.stream(cp)
            .map_err(|e| StagingError::wrap(e, "Failed to copy compiled droplet"))?;

        let mut tar = Command::new("tar");
        tar.arg("-czf")
            .arg(self.config.output_droplet())
            .arg("-C")
            .arg(self.contents())
            .arg(".");
        combined(tar).map_err(|(e, out)| {
            StagingError::wrap(e, format!("Failed to compress droplet filesystem: {out}"))
        })?;

        let cache_out = self.config.output_build_artifacts_cache();
        if let Some(parent) = cache_out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StagingError::wrap(e, "Failed to create output build artifacts cache dir")
            })?;
        }
        let mut tar = Command::new("tar");
        tar.arg("-czf")
            .arg(&cache_out)
            .arg("-C")
            .arg(self.config.build_artifacts_cache_dir())
            .arg(".");
        combined(tar).map_err(|(e, out)| {
            StagingError::wrap(e, format!("Failed to compress build artifacts: {out}"))
        })?;
        Ok(())
    }

    /// Where buildpack `key` is: its hashed directory (or the legacy md5
    /// one) with a `bin/`, or the single directory inside it that has one
    /// (a zip with a top-level folder).
    fn buildpack_dir(&self, key: &str) -> Result<PathBuf, StagingError> {
        let path = self.config.buildpack_path(key);
        if path.join("bin").exists() {
            return Ok(path);
        }
        let legacy = self.config.legacy_buildpack_path(key);
        if legacy.join("bin").exists() {
            return Ok(legacy);
        }
        let mut base = path.clone();
        let mut entries = read_dir_names(&base);
        if entries.as_ref().map(|e| e.is_empty()).unwrap_or(true) {
            base = legacy;
            entries = read_dir_names(&base);
        }
        let entries = entries.map_err(|_| {
            StagingError::new(format!(
                "Failed to read buildpack directory '{}' for buildpack '{}'",
                path.display(),
                path.display()
            ))
        })?;
        if entries.len() == 1 {
            let nested = base.join(&entries[0]);
            if nested.join("bin").exists() {
                return Ok(nested);
            }
        }
        Err(StagingError::new(format!(
            "malformed buildpack does not contain a /bin dir: {key}"
        )))
    }

    fn command(&self, mut cmd: Command) -> Command {
        cmd.env_clear().envs(&self.env);
        cmd
    }

    /// Runs a buildpack script with its output on ours.
    fn stream(&self, cmd: Command) -> Result<(), StagingError> {
        let mut cmd = self.command(cmd);
        // Go's os/exec writes the child's stdout to ours; flush what we
        // printed first so the log keeps its order.
        let _ = std::io::stdout().flush();
        let status = cmd
            .stdin(Stdio::null())
            .status()
            .map_err(|e| spawn_error(&cmd, &e))?;
        exit_error(status)
    }

    /// Runs a script and returns its stdout (stderr is ours).
    fn capture(&self, cmd: Command) -> Result<String, StagingError> {
        let mut cmd = self.command(cmd);
        let out = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| spawn_error(&cmd, &e))?;
        exit_error(out.status)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Removes the droplet's temp contents.
    pub fn clean_up(&mut self) {
        if let Some(dir) = self.contents_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// `config.yml` of a buildpack's deps directory.
#[derive(serde::Deserialize)]
struct ConfigYml {
    key: Option<String>,
    name: Option<String>,
    version: Option<String>,
    config: Option<super::result::BuildpackConfig>,
    output_metadata: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl ConfigYml {
    fn apply(self, m: &mut BuildpackMetadata) {
        if let Some(k) = self.key {
            m.key = k;
        }
        if let Some(n) = self.name {
            m.name = n;
        }
        if let Some(v) = self.version {
            m.version = v;
        }
        if self.config.is_some() {
            m.config = self.config;
        }
        if self.output_metadata.is_some() {
            m.output_metadata = self.output_metadata;
        }
    }
}

fn read_dir_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `cmd` with stdout and stderr together; on failure, the error and
/// that output (Go's `CombinedOutput`).
fn combined(mut cmd: Command) -> Result<(), (StagingError, String)> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| (spawn_error(&cmd, &e), String::new()))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    exit_error(out.status).map_err(|e| (e, text))
}

/// Go's text for a process that failed: "exit status N" or "signal: killed".
fn exit_error(status: ExitStatus) -> Result<(), StagingError> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return Ok(());
    }
    if let Some(code) = status.code() {
        return Err(StagingError::new(format!("exit status {code}")));
    }
    let signal = status.signal().unwrap_or(0);
    Err(StagingError::new(format!(
        "signal: {}",
        signal_name(signal)
    )))
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc_signal::SIGKILL => "killed".into(),
        libc_signal::SIGTERM => "terminated".into(),
        libc_signal::SIGSEGV => "segmentation fault".into(),
        libc_signal::SIGABRT => "aborted".into(),
        libc_signal::SIGINT => "interrupt".into(),
        n => format!("signal {n}"),
    }
}

/// The signal numbers we name (Linux).
mod libc_signal {
    pub const SIGINT: i32 = 2;
    pub const SIGABRT: i32 = 6;
    pub const SIGKILL: i32 = 9;
    pub const SIGSEGV: i32 = 11;
    pub const SIGTERM: i32 = 15;
}

/// Go's text for a program that could not start:
/// "fork/exec PATH: permission denied".
fn spawn_error(cmd: &Command, e: &std::io::Error) -> StagingError {
    StagingError::new(format!(
        "fork/exec {}: {}",
        cmd.get_program().to_string_lossy(),
        os_error_text(e)
    ))
}

/// Go's `*PathError` text: "stat PATH: no such file or directory".
pub fn go_path_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), os_error_text(e))
}

/// An OS error's description as Go prints it (lower case, no code).
fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A new directory `<base>/<prefix><random>` (Go's `os.MkdirTemp`).
fn make_temp_dir(base: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..100 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        let dir = base.join(format!("{prefix}{}", h.finish() % 1_000_000_000));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("could not make a temp directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_error_texts() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(
            go_path_error("stat", Path::new("/x/bin/detect"), &e),
            "stat /x/bin/detect: no such file or directory"
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            exit_error(ExitStatus::from_raw(3 << 8))
                .unwrap_err()
                .to_string(),
            "exit status 3"
        );
        assert_eq!(
            exit_error(ExitStatus::from_raw(9)).unwrap_err().to_string(),
            "signal: killed"
        );
        let dir = tempfile::tempdir().unwrap();
        let a = make_temp_dir(dir.path(), "contents").unwrap();
        let b = make_temp_dir(dir.path(), "contents").unwrap();
        assert_ne!(a, b);
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("contents"));
    }
}
