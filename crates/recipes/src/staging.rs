//! The buildpack staging Task (Cloud Controller's `TaskRecipeBuilder
//! #build_staging_task` with the buildpack `StagingActionBuilder`), and
//! reading how it ended.

use crate::actions::*;
use crate::constants::*;
use crate::env::{var, AppFacts, EnvVar};
use lifecycle::builder::config::{self as builder_flags, key_hash, BuilderConfig};
use models::{
    CachedDependency, CertificateProperties, DownloadAction, ResourceLimits, RunAction,
    SecurityGroupRule, TaskDefinition, UploadAction,
};

pub use lifecycle::builder::result::StagingResult;

/// Something the cell downloads, with the SHA-256 it must have (hex;
/// empty: not checked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Download {
    pub url: String,
    pub sha256: String,
}

/// A buildpack staging may use: an admin buildpack (a zip the cell caches
/// under its key) or, with `name` "custom", a URL the builder fetches
/// itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buildpack {
    /// e.g. "python_buildpack"; "custom" for a URL given by the user.
    pub name: String,
    /// The key the builder knows it by (Cloud Controller: the admin
    /// buildpack's key; for a custom one, its URL).
    pub key: String,
    pub url: String,
    /// Hex; empty: not checked.
    pub sha256: String,
    /// The user named the buildpacks (`-b`): no detection, every one but
    /// the last supplies.
    pub skip_detect: bool,
}

/// Everything the staging Task needs.
#[derive(Debug, Clone, Default)]
pub struct StagingRequest {
    /// The Task's guid (Cloud Controller: the build's guid).
    pub staging_guid: String,
    pub app: AppFacts,
    /// e.g. "cflinuxfs4": the Task runs on `preloaded:<stack>`.
    pub stack: String,
    /// `buildpack_app_lifecycle.tgz` on the file server.
    pub lifecycle_bundle_url: String,
    /// In the order to try (or to apply, with skip_detect).
    pub buildpacks: Vec<Buildpack>,
    /// The app's bits (a zip or tgz).
    pub package: Download,
    /// The previous staging's build artifacts cache, if any.
    pub build_cache: Option<Download>,
    /// Where the droplet goes (the file server's `/v1/droplet/<guid>`).
    pub droplet_upload_url: String,
    /// Where the new build cache goes (`/v1/build_artifacts/<app_guid>`).
    pub build_artifacts_upload_url: String,
    /// Where the BBS posts the finished Task (empty: nowhere).
    pub completion_callback_url: String,
    pub memory_mb: i32,
    pub disk_mb: i32,
    /// The staging run's environment (see
    /// [`crate::env::staging_environment`]).
    pub environment: Vec<EnvVar>,
    /// 0: Cloud Controller's default (900 s).
    pub timeout_s: u64,
    pub skip_cert_verify: bool,
    pub privileged: bool,
    /// 0: no limit.
    pub max_pids: i32,
    /// What the staging container may reach (Cloud Controller: the space's
    /// staging security groups). The cell denies all other egress but DNS;
    /// the package, buildpack and cache downloads and the uploads are the
    /// cell's, made from the host, so only a custom buildpack URL, which
    /// the builder fetches itself, or a buildpack that downloads needs one.
    pub egress_rules: Vec<SecurityGroupRule>,
}

/// Where a buildpack key's directory is in the staging container.
pub fn buildpack_path(key: &str) -> String {
    format!("{BUILDPACKS_DIR}/{}", key_hash(key))
}

/// The builder's arguments, in Cloud Controller's order.
pub fn builder_args(req: &StagingRequest) -> Vec<String> {
    let order: Vec<&str> = req.buildpacks.iter().map(|b| b.key.as_str()).collect();
    let skip_detect = req.buildpacks.iter().any(|b| b.skip_detect);
    let mut cfg = BuilderConfig::new();
    let mut arg = |name: &str, value: &str| {
        cfg.set(name, value);
        format!("-{name}={value}")
    };
    vec![
        arg(builder_flags::BUILDPACK_ORDER, &order.join(",")),
        arg(
            builder_flags::SKIP_CERT_VERIFY,
            &req.skip_cert_verify.to_string(),
        ),
        arg(builder_flags::SKIP_DETECT, &skip_detect.to_string()),
        arg(builder_flags::BUILD_DIR, "/tmp/app"),
        arg(builder_flags::OUTPUT_DROPLET, "/tmp/droplet"),
        arg(builder_flags::OUTPUT_METADATA, STAGING_RESULT_FILE),
        arg(
            builder_flags::OUTPUT_BUILD_ARTIFACTS_CACHE,
            "/tmp/output-cache",
        ),
        arg(builder_flags::BUILDPACKS_DIR, BUILDPACKS_DIR),
        arg(builder_flags::BUILD_ARTIFACTS_CACHE_DIR, "/tmp/cache"),
    ]
}

/// The lifecycle bundle and every admin buildpack, cached on the cell by
/// key and mounted where the builder looks for them.
pub fn cached_dependencies(req: &StagingRequest) -> Vec<CachedDependency> {
    let mut deps = vec![CachedDependency {
        from: req.lifecycle_bundle_url.clone(),
        to: LIFECYCLE_DIR.into(),
        cache_key: format!("buildpack-{}-lifecycle", req.stack),
        ..Default::default()
    }];
    for bp in req.buildpacks.iter().filter(|b| b.name != "custom") {
        let (algorithm, value) = checksum(&bp.sha256);
        deps.push(CachedDependency {
            name: bp.name.clone(),
            from: bp.url.clone(),
            to: buildpack_path(&bp.key),
            cache_key: bp.key.clone(),
            checksum_algorithm: algorithm,
            checksum_value: value,
            ..Default::default()
        });
    }
    deps
}

fn checksum(sha256: &str) -> (String, String) {
    if sha256.is_empty() {
        (String::new(), String::new())
    } else {
        ("sha256".into(), sha256.into())
    }
}

/// The staging Task: download the package (and, if there is one, try the
/// build cache), run the builder, upload the droplet and the new cache:
/// `timeout(serial[parallel[download, try(download)], run builder,
/// emit_progress(parallel[upload droplet, upload cache])])`.
pub fn staging_task(req: &StagingRequest) -> TaskDefinition {
    let mut downloads = vec![{
        let (algorithm, value) = checksum(&req.package.sha256);
        download(DownloadAction {
            artifact: "app package".into(),
            from: req.package.url.clone(),
            to: "/tmp/app".into(),
            user: APP_USER.into(),
            checksum_algorithm: algorithm,
            checksum_value: value,
            ..Default::default()
        })
    }];
    if let Some(cache) = &req.build_cache {
        let (algorithm, value) = checksum(&cache.sha256);
        downloads.push(try_action(download(DownloadAction {
            artifact: "build artifacts cache".into(),
            from: cache.url.clone(),
            to: "/tmp/cache".into(),
            user: APP_USER.into(),
            checksum_algorithm: algorithm,
            checksum_value: value,
            ..Default::default()
        })));
    }
    // A plain run action, as Cloud Controller long sent it. Its newest
    // builder wraps it in a codependent action (to put a deprecated-stack
    // LogAction beside it); Diego's executor fails a codependent action
    // whose member exits 0 ("Codependent step exited"), so we do not.
    let stage = run(RunAction {
        path: format!("{LIFECYCLE_DIR}/builder"),
        args: builder_args(req),
        user: APP_USER.into(),
        env: req.environment.clone(),
        resource_limits: Some(ResourceLimits {
            optional_nofile: Some(models::resource_limits::OptionalNofile::Nofile(
                STAGING_FILE_DESCRIPTOR_LIMIT,
            )),
            ..Default::default()
        }),
        ..Default::default()
    });
    let uploads = parallel(vec![
        upload(UploadAction {
            artifact: "droplet".into(),
            from: "/tmp/droplet".into(),
            to: req.droplet_upload_url.clone(),
            user: APP_USER.into(),
            ..Default::default()
        }),
        upload(UploadAction {
            artifact: "build artifacts cache".into(),
            from: "/tmp/output-cache".into(),
            to: req.build_artifacts_upload_url.clone(),
            user: APP_USER.into(),
            ..Default::default()
        }),
    ]);
    let action = serial(vec![
        parallel(downloads),
        stage,
        emit_progress(
            uploads,
            "Uploading droplet, build artifacts cache...",
            "Uploading complete",
            "Uploading failed",
        ),
    ]);
    let timeout_s = if req.timeout_s > 0 {
        req.timeout_s
    } else {
        DEFAULT_STAGING_TIMEOUT_S
    };
    TaskDefinition {
        root_fs: format!("preloaded:{}", req.stack),
        environment_variables: vec![var("LANG", DEFAULT_LANG)],
        action: Some(timeout(action, (timeout_s * 1000) as i64)),
        disk_mb: req.disk_mb,
        memory_mb: req.memory_mb,
        cpu_weight: STAGING_TASK_CPU_WEIGHT,
        privileged: req.privileged,
        log_source: STAGING_LOG_SOURCE.into(),
        log_guid: req.app.app_guid.clone(),
        result_file: STAGING_RESULT_FILE.into(),
        completion_callback_url: req.completion_callback_url.clone(),
        cached_dependencies: cached_dependencies(req),
        legacy_download_user: STAGING_LEGACY_DOWNLOAD_USER.into(),
        trusted_system_certificates_path: TRUSTED_SYSTEM_CERT_PATH.into(),
        max_pids: req.max_pids,
        egress_rules: req.egress_rules.clone(),
        certificate_properties: Some(CertificateProperties {
            organizational_unit: vec![format!("app:{}", req.app.app_guid)],
        }),
        ..Default::default()
    }
}

/// The BBS request that desires the staging Task.
pub fn desire_staging_task(req: &StagingRequest) -> models::DesireTaskRequest {
    models::DesireTaskRequest {
        task_definition: Some(staging_task(req)),
        task_guid: req.staging_guid.clone(),
        domain: STAGING_DOMAIN.into(),
    }
}

/// How staging ended: the builder's result.json, or the failure Cloud
/// Controller reports.
#[derive(Debug, Clone, PartialEq)]
pub enum StagingOutcome {
    Staged(StagingResult),
    Failed(StagingFailure),
}

impl StagingOutcome {
    /// From a completed Task's `failed`, `failure_reason` and `result`.
    pub fn from_parts(failed: bool, failure_reason: &str, result: &str) -> Self {
        if failed {
            return StagingOutcome::Failed(StagingFailure::from_reason(failure_reason));
        }
        match serde_json::from_str::<StagingResult>(result) {
            Ok(r) => StagingOutcome::Staged(r),
            Err(e) => StagingOutcome::Failed(StagingFailure::staging_error(&format!(
                "malformed staging result: {e}"
            ))),
        }
    }

    pub fn from_task(task: &models::Task) -> Self {
        Self::from_parts(task.failed, &task.failure_reason, &task.result)
    }

    /// From the BBS's completion callback body (`TaskCallbackResponse`).
    pub fn from_callback(body: &[u8]) -> Result<(String, Self), serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Callback {
            task_guid: String,
            failed: bool,
            #[serde(default)]
            failure_reason: String,
            #[serde(default)]
            result: String,
        }
        let c: Callback = serde_json::from_slice(body)?;
        Ok((
            c.task_guid,
            Self::from_parts(c.failed, &c.failure_reason, &c.result),
        ))
    }
}

/// A staging failure as Cloud Controller names it (its
/// `FailureReasonSanitizer` and the errors of its v2.yml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingFailure {
    /// e.g. "NoAppDetectedError".
    pub id: String,
    /// Cloud Controller's error code, e.g. 170003.
    pub code: u32,
    /// What the user is told, e.g. "An app was not successfully detected
    /// by any available buildpack".
    pub description: String,
    /// The Task's failure reason, as the cell gave it.
    pub reason: String,
}

impl StagingFailure {
    pub fn from_reason(reason: &str) -> Self {
        let r = reason.trim_end();
        let (id, code, description) = if r.ends_with("222") {
            (
                "NoAppDetectedError",
                170003,
                "An app was not successfully detected by any available buildpack".to_string(),
            )
        } else if r.ends_with("223") {
            (
                "BuildpackCompileFailed",
                170004,
                "App staging failed in the buildpack compile phase".to_string(),
            )
        } else if r.ends_with("224") {
            (
                "BuildpackReleaseFailed",
                170005,
                "App staging failed in the buildpack release phase".to_string(),
            )
        } else if r.starts_with("insufficient resources") {
            (
                "InsufficientResources",
                170008,
                "Insufficient resources".to_string(),
            )
        } else if r.starts_with("found no compatible cell") {
            (
                "NoCompatibleCell",
                170009,
                "Found no compatible cell".to_string(),
            )
        } else {
            return Self::staging_error_with_reason(reason, "staging failed");
        };
        Self {
            id: id.into(),
            code,
            description,
            reason: reason.into(),
        }
    }

    /// StagingError (170001) with `message`.
    pub fn staging_error(message: &str) -> Self {
        Self::staging_error_with_reason(message, message)
    }

    fn staging_error_with_reason(reason: &str, message: &str) -> Self {
        Self {
            id: "StagingError".into(),
            code: 170001,
            description: format!("Staging error: {message}"),
            reason: reason.into(),
        }
    }

    /// How the cf CLI shows it: "NoAppDetectedError - An app was not ...".
    pub fn display(&self) -> String {
        format!("{} - {}", self.id, self.description)
    }
}

#[cfg(test)]
mod tests;
