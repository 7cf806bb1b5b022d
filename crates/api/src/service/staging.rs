//! Buildpack staging, as Cloud Controller drives it: a build of a bits
//! package on a stack with a lifecycle runs the `cf-app-staging` Task
//! (`recipes::staging`) on the BBS. The cell downloads the package from
//! this API and the lifecycle bundle and buildpacks from the file server,
//! runs the builder, and uploads the droplet and the build cache to the
//! file server (cc-uploader's role, the blobstore here); the BBS's
//! completion callback then records the droplet (or the failure, with
//! Cloud Controller's error names).

use super::Api;
use crate::clock::now_ns;
use crate::error::{ApiError, ApiResult};
use crate::store::{put, AppRec, BuildRec, DropletRec, PackageRec, ProcessRec};
use models::capi::{build_state, Buildpack as BuildpackView, Stack, WEB};
use recipes::{AppFacts, Buildpack, Download, StagingOutcome, StagingRequest};

/// Where staging finds and puts things (config's `file_server_url`).
#[derive(Debug, Clone, Default)]
pub struct StagingSettings {
    /// The file server (empty: no staging; bits run as they are).
    pub file_server_url: String,
    /// The admin buildpacks, in detection order (`<name>_buildpack.zip`
    /// on the file server).
    pub buildpacks: Vec<String>,
    /// Stacks without a lifecycle: a package runs there as it is.
    pub unstaged_stacks: Vec<String>,
    pub memory_mb: i32,
    pub disk_mb: i32,
}

/// The organization and space every app is in (the API has no others).
const ORG: &str = "diego";
const SPACE: &str = "dev";

impl StagingSettings {
    fn static_url(&self, relative: &str) -> String {
        format!(
            "{}/v1/static/{relative}",
            self.file_server_url.trim_end_matches('/')
        )
    }

    pub fn lifecycle_bundle_url(&self) -> String {
        self.static_url("lifecycle/buildpack_app_lifecycle.tgz")
    }

    fn buildpack_zip(name: &str) -> String {
        format!("buildpacks/{name}_buildpack.zip")
    }
}

/// `name`, `name_buildpack` → `name`.
fn short_name(name: &str) -> &str {
    name.strip_suffix("_buildpack").unwrap_or(name)
}

impl Api {
    /// Whether a build of `app`'s bits stages (else the package is the
    /// droplet).
    pub fn stages(&self, app: &AppRec) -> bool {
        let s = &self.staging;
        !s.file_server_url.is_empty() && !s.unstaged_stacks.contains(&app.lifecycle.data.stack)
    }

    /// A published file's SHA-256 (the file server keeps `<file>.sha256`
    /// beside each blob); None when it is not there.
    async fn published_sha256(&self, relative: &str) -> ApiResult<Option<String>> {
        let url = self.staging.static_url(&format!("{relative}.sha256"));
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| ApiError::Diego(format!("the file server at {url}: {e}")))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(ApiError::Diego(format!(
                "the file server answered {} for {url}",
                resp.status()
            )));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| ApiError::Diego(format!("reading {url}: {e}")))?;
        Ok(Some(text.trim().to_string()))
    }

    /// The admin buildpacks, in order, with whether each is published.
    pub async fn buildpacks(&self) -> ApiResult<Vec<BuildpackView>> {
        let mut out = Vec::new();
        for (i, name) in self.staging.buildpacks.iter().enumerate() {
            let relative = StagingSettings::buildpack_zip(name);
            let sha = self.published_sha256(&relative).await?;
            out.push(BuildpackView {
                name: format!("{name}_buildpack"),
                position: i as i32 + 1,
                stack: String::new(),
                state: if sha.is_some() {
                    "READY"
                } else {
                    "AWAITING_UPLOAD"
                }
                .into(),
                filename: format!("{name}_buildpack.zip"),
                enabled: sha.is_some(),
            });
        }
        Ok(out)
    }

    /// The stacks the cells offer (their `preloaded:` root filesystems).
    pub async fn stacks(&self) -> ApiResult<Vec<Stack>> {
        let mut names = std::collections::BTreeSet::new();
        for cell in self.bbs.cells().await? {
            for p in &cell.rootfs_providers {
                if p.name == "preloaded" {
                    names.extend(p.properties.iter().cloned());
                }
            }
        }
        Ok(names
            .into_iter()
            .map(|name| Stack {
                description: if self.staging.unstaged_stacks.contains(&name) {
                    "runs packages as they are (no buildpacks)".into()
                } else {
                    "buildpack apps, staged with the lifecycle".into()
                },
                default: name == self.settings.default_stack,
                name,
            })
            .collect())
    }

    /// The buildpacks a staging of `app` uses: the ones it names (applied
    /// in order, no detection, as Cloud Controller does), else every admin
    /// buildpack (detected in order).
    async fn staging_buildpacks(&self, app: &AppRec) -> ApiResult<Vec<Buildpack>> {
        let named = &app.lifecycle.data.buildpacks;
        let skip_detect = !named.is_empty();
        let names: Vec<String> = if skip_detect {
            named.clone()
        } else {
            self.staging.buildpacks.clone()
        };
        let mut out = Vec::new();
        for n in names {
            if n.starts_with("http://") || n.starts_with("https://") {
                out.push(Buildpack {
                    name: "custom".into(),
                    key: n.clone(),
                    url: n,
                    sha256: String::new(),
                    skip_detect,
                });
                continue;
            }
            let short = short_name(&n);
            if !self.staging.buildpacks.iter().any(|b| b == short) {
                return Err(ApiError::Unprocessable(format!(
                    "no buildpack named {n:?}: `diego buildpacks` lists them"
                )));
            }
            let relative = StagingSettings::buildpack_zip(short);
            let sha = self.published_sha256(&relative).await?.ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "buildpack {short} is not published on the file server"
                ))
            })?;
            let key = format!("{short}_buildpack");
            out.push(Buildpack {
                name: key.clone(),
                key,
                url: self.staging.static_url(&relative),
                sha256: sha,
                skip_detect,
            });
        }
        Ok(out)
    }

    pub fn app_facts(&self, app: &AppRec, web: Option<&ProcessRec>) -> AppFacts {
        AppFacts {
            app_guid: app.guid.clone(),
            app_name: app.name.clone(),
            space_guid: format!("{SPACE}-space"),
            space_name: SPACE.into(),
            organization_guid: format!("{ORG}-org"),
            organization_name: ORG.into(),
            uris: app.routes.clone(),
            cf_api: self.settings.external_url.clone(),
            memory_mb: web.map_or(self.settings.default_memory_mb, |p| p.memory_mb),
            disk_mb: web.map_or(self.settings.default_disk_mb, |p| p.disk_mb),
            ..Default::default()
        }
    }

    /// The staging Task's request for `build` of `pkg`.
    pub(super) async fn staging_request(
        &self,
        app: &AppRec,
        pkg: &PackageRec,
        build_guid: &str,
    ) -> ApiResult<StagingRequest> {
        let buildpacks = self.staging_buildpacks(app).await?;
        let web = self.web_processes(&app.guid).await?.pop();
        let facts = self.app_facts(app, web.as_ref());
        let cache = format!("build_artifacts/{}.tgz", app.guid);
        let build_cache = self.published_sha256(&cache).await?.map(|sha256| Download {
            url: self.staging.static_url(&cache),
            sha256,
        });
        let fs = self.staging.file_server_url.trim_end_matches('/');
        let stack = app.lifecycle.data.stack.clone();
        let user_env: Vec<(String, String)> = app
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(StagingRequest {
            staging_guid: build_guid.into(),
            environment: recipes::env::staging_environment(&facts, &stack, "", &user_env),
            app: facts,
            lifecycle_bundle_url: self.staging.lifecycle_bundle_url(),
            stack,
            buildpacks,
            package: Download {
                url: format!(
                    "{}/internal/v3/packages/{}/download",
                    self.settings.external_url, pkg.guid
                ),
                sha256: pkg.sha256.clone().unwrap_or_default(),
            },
            build_cache,
            droplet_upload_url: format!("{fs}/v1/droplet/{build_guid}"),
            build_artifacts_upload_url: format!("{fs}/v1/build_artifacts/{}", app.guid),
            completion_callback_url: format!(
                "{}/internal/v3/staging/{build_guid}/build_completed",
                self.settings.external_url
            ),
            memory_mb: self.staging.memory_mb,
            disk_mb: self.staging.disk_mb,
            ..Default::default()
        })
    }

    /// Desires the staging Task; a refusal fails the build. The caller
    /// holds the writes lock.
    pub(super) async fn start_staging(&self, req: &StagingRequest) -> ApiResult<()> {
        let desire = recipes::staging::desire_staging_task(req);
        if let Err(e) = self
            .bbs
            .desire_task(&desire.task_guid, &desire.domain, desire.task_definition)
            .await
        {
            let reason = format!("the BBS refused the staging task: {e}");
            let mut build: BuildRec = self.owned(&req.staging_guid, "build").await?;
            build.state = build_state::FAILED.into();
            build.error = Some(recipes::StagingFailure::staging_error(&reason).display());
            self.repo.put(&build).await?;
            return Err(ApiError::Diego(reason));
        }
        Ok(())
    }

    /// The BBS's completion callback of a staging Task.
    pub async fn staging_completed(&self, build_guid: &str, body: &[u8]) -> ApiResult<()> {
        let (task_guid, outcome) = StagingOutcome::from_callback(body)
            .map_err(|e| ApiError::BadRequest(format!("not a task callback: {e}")))?;
        if task_guid != build_guid {
            return Err(ApiError::Unprocessable("task guid mismatch".into()));
        }
        self.finish_build(build_guid, outcome).await
    }

    /// Records how staging ended: the droplet, or the build's error.
    pub async fn finish_build(&self, build_guid: &str, outcome: StagingOutcome) -> ApiResult<()> {
        // The droplet's digest, read before the write lock is taken.
        let droplet_blob = format!("droplets/{build_guid}.tgz");
        let outcome = match outcome {
            StagingOutcome::Staged(r) => match self.published_sha256(&droplet_blob).await? {
                Some(sha) => Ok((r, sha)),
                None => Err(recipes::StagingFailure::staging_error(
                    "the droplet was not uploaded",
                )),
            },
            StagingOutcome::Failed(f) => Err(f),
        };
        let _w = self.writes.lock().await;
        let mut build: BuildRec = self.owned(build_guid, "build").await?;
        if build.state != build_state::STAGING {
            return Ok(()); // a callback repeated
        }
        let app = self.app(&build.app_guid).await?;
        let mut rows = Vec::new();
        match outcome {
            Ok((result, sha)) => {
                let mut process_types = result.process_types.clone().unwrap_or_default();
                process_types.entry(WEB.to_string()).or_default();
                let droplet = DropletRec {
                    guid: build.guid.clone(),
                    app_guid: app.guid.clone(),
                    package_guid: build.package_guid.clone(),
                    state: build_state::STAGED.into(),
                    process_types,
                    execution_metadata: result.execution_metadata.clone(),
                    sha256: Some(sha),
                    stack: app.lifecycle.data.stack.clone(),
                    created_at: now_ns(),
                    download_url: Some(self.staging.static_url(&droplet_blob)),
                    buildpacks: result
                        .lifecycle_metadata
                        .buildpacks
                        .iter()
                        .map(|b| b.name.clone())
                        .collect(),
                    ..Default::default()
                };
                build.state = build_state::STAGED.into();
                build.droplet_guid = Some(droplet.guid.clone());
                rows.push(put(&self.event(
                    &app,
                    "audit.app.droplet.create",
                    "diego",
                    serde_json::json!({
                        "droplet_guid": droplet.guid,
                        "buildpack": result.lifecycle_metadata.detected_buildpack,
                    }),
                )));
                rows.push(put(&droplet));
            }
            Err(f) => {
                tracing::info!(build = build_guid, reason = %f.reason, "staging failed");
                build.state = build_state::FAILED.into();
                build.error = Some(f.display());
            }
        }
        rows.push(put(&build));
        self.repo.store.apply(&rows).await?;
        Ok(())
    }

    /// The staging output of a build, from the cell running its Task;
    /// NotFound until the Task is placed.
    pub async fn build_logs(
        &self,
        build_guid: &str,
        follow: bool,
    ) -> ApiResult<impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>>> {
        use futures::StreamExt;
        let _: BuildRec = self.owned(build_guid, "build").await?;
        let task = self
            .bbs
            .task_by_guid(build_guid)
            .await?
            .filter(|t| !t.cell_id.is_empty())
            .ok_or_else(|| ApiError::NotFound(format!("build {build_guid} is not placed yet")))?;
        let cell = self
            .bbs
            .cells()
            .await?
            .into_iter()
            .find(|c| c.cell_id == task.cell_id)
            .ok_or_else(|| ApiError::NotFound(format!("cell {} is gone", task.cell_id)))?;
        let rep = self
            .reps
            .client_for(&cell)
            .map_err(|e| ApiError::Diego(e.to_string()))?;
        let s = rep
            .task_logs(build_guid, follow)
            .await
            .map_err(|e| ApiError::NotFound(format!("the staging log: {e}")))?;
        Ok(s.map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))))
    }
}
