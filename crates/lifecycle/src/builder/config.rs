//! The builder's flags (Diego's `LifecycleBuilderConfig`): names, defaults
//! and the paths derived from them.

use crate::flags::{FlagError, FlagSet, Kind};
use std::path::{Path, PathBuf};

pub const BUILD_DIR: &str = "buildDir";
pub const OUTPUT_DROPLET: &str = "outputDroplet";
pub const OUTPUT_METADATA: &str = "outputMetadata";
pub const OUTPUT_BUILD_ARTIFACTS_CACHE: &str = "outputBuildArtifactsCache";
pub const BUILDPACKS_DIR: &str = "buildpacksDir";
pub const BUILDPACKS_DOWNLOAD_DIR: &str = "buildpacksDownloadDir";
pub const BUILD_ARTIFACTS_CACHE_DIR: &str = "buildArtifactsCacheDir";
pub const BUILDPACK_ORDER: &str = "buildpackOrder";
pub const SKIP_DETECT: &str = "skipDetect";
pub const SKIP_CERT_VERIFY: &str = "skipCertVerify";
pub const CREDHUB_CONNECT_ATTEMPTS: &str = "credhubConnectAttempts";
pub const CREDHUB_RETRY_DELAY: &str = "credhubRetryDelay";

#[derive(Debug, Clone)]
pub struct BuilderConfig {
    flags: FlagSet,
}

/// Adds the CredHub flags the builder and launcher accept (we take them and
/// have no CredHub to use them with).
pub fn add_credhub_flags(f: &mut FlagSet) {
    f.define(
        CREDHUB_CONNECT_ATTEMPTS,
        Kind::Int,
        "3",
        "number of times that the credhub client will attempt to connect to credhub",
    );
    f.define(
        CREDHUB_RETRY_DELAY,
        Kind::Duration,
        "1s",
        "delay duration that the credhub client will wait before retrying the connection to credhub",
    );
}

impl BuilderConfig {
    /// The flags with Diego's defaults.
    pub fn new() -> Self {
        let mut f = FlagSet::new("builder");
        f.define(
            BUILD_DIR,
            Kind::String,
            "/tmp/app",
            "directory containing raw app bits",
        );
        f.define(
            OUTPUT_DROPLET,
            Kind::String,
            "/tmp/droplet",
            "file where compressed droplet should be written",
        );
        f.define(
            OUTPUT_METADATA,
            Kind::String,
            "/tmp/result.json",
            "directory in which to write the app metadata",
        );
        f.define(
            OUTPUT_BUILD_ARTIFACTS_CACHE,
            Kind::String,
            "/tmp/output-cache",
            "file where compressed contents of new cached build artifacts should be written",
        );
        f.define(
            BUILDPACKS_DIR,
            Kind::String,
            "/tmp/buildpacks",
            "directory containing the buildpacks to try",
        );
        f.define(
            BUILDPACKS_DOWNLOAD_DIR,
            Kind::String,
            "/tmp/buildpackdownloads",
            "directory to download buildpacks to",
        );
        f.define(
            BUILD_ARTIFACTS_CACHE_DIR,
            Kind::String,
            "/tmp/cache",
            "directory where previous cached build artifacts should be extracted",
        );
        f.define(
            BUILDPACK_ORDER,
            Kind::String,
            "",
            "comma-separated list of buildpacks, to be tried in order",
        );
        f.define(SKIP_DETECT, Kind::Bool, "false", "skip buildpack detect");
        f.define(
            SKIP_CERT_VERIFY,
            Kind::Bool,
            "false",
            "skip SSL certificate verification",
        );
        add_credhub_flags(&mut f);
        Self { flags: f }
    }

    pub fn parse(&mut self, args: &[String]) -> Result<(), FlagError> {
        self.flags.parse(args)
    }

    /// Every flag must have a value: "missing flag: -buildpackOrder, ...".
    pub fn validate(&self) -> Result<(), String> {
        let missing: Vec<String> = self
            .flags
            .visit_all()
            .filter(|(_, v)| v.is_empty())
            .map(|(n, _)| format!("missing flag: -{n}"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    }

    pub fn usage(&self) -> String {
        self.flags.usage()
    }

    /// The flags as arguments, `-name=value` in name order (Diego's
    /// `Args()`, which Cloud Controller's recipe mirrors).
    pub fn args(&self) -> Vec<String> {
        self.flags
            .visit_all()
            .map(|(n, v)| format!("-{n}={v}"))
            .collect()
    }

    pub fn set(&mut self, name: &str, value: &str) {
        let arg = format!("-{name}={value}");
        self.flags.parse(&[arg]).expect("a defined flag");
    }

    fn path(&self, name: &str) -> PathBuf {
        crate::env::clean(Path::new(self.flags.get(name)))
    }

    pub fn build_dir(&self) -> PathBuf {
        self.path(BUILD_DIR)
    }
    pub fn output_droplet(&self) -> PathBuf {
        self.path(OUTPUT_DROPLET)
    }
    pub fn output_metadata(&self) -> PathBuf {
        self.path(OUTPUT_METADATA)
    }
    pub fn output_build_artifacts_cache(&self) -> PathBuf {
        self.path(OUTPUT_BUILD_ARTIFACTS_CACHE)
    }
    pub fn buildpacks_dir(&self) -> PathBuf {
        self.path(BUILDPACKS_DIR)
    }
    pub fn buildpacks_download_dir(&self) -> PathBuf {
        self.path(BUILDPACKS_DOWNLOAD_DIR)
    }
    pub fn build_artifacts_cache_dir(&self) -> PathBuf {
        self.path(BUILD_ARTIFACTS_CACHE_DIR)
    }
    pub fn skip_detect(&self) -> bool {
        self.flags.get_bool(SKIP_DETECT)
    }
    pub fn skip_cert_verify(&self) -> bool {
        self.flags.get_bool(SKIP_CERT_VERIFY)
    }

    /// The buildpack keys, in order.
    pub fn buildpack_order(&self) -> Vec<String> {
        self.flags
            .get(BUILDPACK_ORDER)
            .split(',')
            .map(str::to_string)
            .collect()
    }

    /// With skip-detect, every buildpack but the last supplies
    /// dependencies; otherwise none does.
    pub fn supply_buildpacks(&self) -> Vec<String> {
        let order = self.buildpack_order();
        if !self.skip_detect() || order.is_empty() {
            return Vec::new();
        }
        order[..order.len() - 1].to_vec()
    }

    /// The deps directory name of buildpack `i`: zero-padded to as many
    /// digits as the number of buildpacks has.
    pub fn deps_index(&self, i: usize) -> String {
        let n = self.supply_buildpacks().len() + 1;
        let width = n.to_string().len();
        format!("{i:0width$}")
    }

    /// Where buildpack `key` lives: `<buildpacksDir>/<xxhash64(key)>`, or
    /// under the download directory when the key is a URL.
    pub fn buildpack_path(&self, key: &str) -> PathBuf {
        self.base_dir(key).join(key_hash(key))
    }

    /// The md5-named path older Cloud Controllers used.
    pub fn legacy_buildpack_path(&self, key: &str) -> PathBuf {
        use md5::Digest;
        let digest = md5::Md5::digest(key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.base_dir(key).join(hex)
    }

    fn base_dir(&self, key: &str) -> PathBuf {
        if is_url(key) {
            self.buildpacks_download_dir()
        } else {
            self.buildpacks_dir()
        }
    }
}

impl Default for BuilderConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Diego's (and Cloud Controller's) name for a buildpack key's directory:
/// its xxhash64, 16 hex digits.
pub fn key_hash(key: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh64::xxh64(key.as_bytes(), 0))
}

/// An absolute URL (Go's `url.IsAbs`: it has a scheme).
pub fn is_url(key: &str) -> bool {
    match key.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> BuilderConfig {
        let mut c = BuilderConfig::new();
        c.parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        c
    }

    #[test]
    fn defaults_are_diegos() {
        let c = cfg(&["-buildpackOrder=a"]);
        assert_eq!(c.build_dir(), PathBuf::from("/tmp/app"));
        assert_eq!(c.output_droplet(), PathBuf::from("/tmp/droplet"));
        assert_eq!(c.output_metadata(), PathBuf::from("/tmp/result.json"));
        assert_eq!(
            c.output_build_artifacts_cache(),
            PathBuf::from("/tmp/output-cache")
        );
        assert_eq!(c.buildpacks_dir(), PathBuf::from("/tmp/buildpacks"));
        assert_eq!(
            c.buildpacks_download_dir(),
            PathBuf::from("/tmp/buildpackdownloads")
        );
        assert_eq!(c.build_artifacts_cache_dir(), PathBuf::from("/tmp/cache"));
        assert!(c.validate().is_ok());
        assert_eq!(
            BuilderConfig::new().validate().unwrap_err(),
            "missing flag: -buildpackOrder"
        );
        assert!(c.args().contains(&"-skipDetect=false".to_string()));
    }

    #[test]
    fn supply_buildpacks_only_with_skip_detect() {
        let c = cfg(&["-buildpackOrder=a,b,c"]);
        assert!(c.supply_buildpacks().is_empty());
        assert_eq!(c.deps_index(0), "0");
        let c = cfg(&["-buildpackOrder=a,b,c", "-skipDetect=true"]);
        assert_eq!(c.supply_buildpacks(), ["a", "b"]);
        let many: Vec<String> = (0..12).map(|i| format!("bp{i}")).collect();
        let c = cfg(&[
            &format!("-buildpackOrder={}", many.join(",")),
            "-skipDetect",
        ]);
        assert_eq!(c.deps_index(3), "03");
        assert_eq!(c.deps_index(11), "11");
    }

    #[test]
    fn buildpack_paths_are_hashed_keys() {
        let c = cfg(&["-buildpackOrder=a"]);
        // Cloud Controller's Digest::XXH64.hexdigest("python_buildpack").
        assert_eq!(key_hash(""), "ef46db3751d8e999");
        assert_eq!(
            c.buildpack_path("python_buildpack"),
            PathBuf::from(format!("/tmp/buildpacks/{}", key_hash("python_buildpack")))
        );
        assert!(c
            .buildpack_path("https://example.com/bp.zip")
            .starts_with("/tmp/buildpackdownloads"));
        assert_eq!(
            c.legacy_buildpack_path("abc"),
            PathBuf::from("/tmp/buildpacks/900150983cd24fb0d6963f7d28e17f72")
        );
        assert!(is_url("https://x/y.zip"));
        assert!(!is_url("python_buildpack"));
        assert!(!is_url("/abs/path"));
    }
}
