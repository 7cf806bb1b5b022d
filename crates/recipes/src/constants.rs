//! Cloud Controller's Diego constants (cloud_controller_ng
//! lib/cloud_controller/diego/constants.rb and its defaults).

pub const STAGING_DOMAIN: &str = "cf-app-staging";
pub const STAGING_LOG_SOURCE: &str = "STG";
pub const STAGING_RESULT_FILE: &str = "/tmp/result.json";
pub const STAGING_TASK_CPU_WEIGHT: u32 = 50;
pub const STAGING_LEGACY_DOWNLOAD_USER: &str = "vcap";
pub const TRUSTED_SYSTEM_CERT_PATH: &str = "/etc/cf-system-certificates";
pub const DEFAULT_LANG: &str = "en_US.UTF-8";
/// Cloud Controller's `staging.minimum_staging_file_descriptor_limit`.
pub const STAGING_FILE_DESCRIPTOR_LIMIT: u64 = 16384;
/// `staging.timeout_in_seconds`.
pub const DEFAULT_STAGING_TIMEOUT_S: u64 = 900;

/// The domain of app LRPs Cloud Controller keeps fresh.
pub const APP_LRP_DOMAIN: &str = "cf-apps";
pub const DEFAULT_APP_PORT: u32 = 8080;
/// Executor lifecycle lines of an app instance are tagged CELL; the app's
/// own run action says APP/PROC/<TYPE>.
pub const LRP_LOG_SOURCE: &str = "CELL";
pub const HEALTH_LOG_SOURCE: &str = "HEALTH";
pub const DEFAULT_FILE_DESCRIPTOR_LIMIT: u64 = 1024;
/// `default_health_check_timeout` (seconds).
pub const DEFAULT_HEALTH_CHECK_TIMEOUT_S: u64 = 60;

/// Where the lifecycle bundle is mounted in containers.
pub const LIFECYCLE_DIR: &str = "/tmp/lifecycle";
/// Where staging finds the buildpacks (one directory per key hash).
pub const BUILDPACKS_DIR: &str = "/tmp/buildpacks";
pub const APP_USER: &str = "vcap";
