//! Packages (bits uploaded through the API, or a docker image), builds
//! and droplets.
//!
//! A build of bits on a stack with a lifecycle stages (see `staging`);
//! on a stack without one (busybox) the package is the droplet, run with
//! `sh -c` (busybox's web server unless a command is given); a build of an
//! image makes a droplet naming the image.

use super::{new_guid, Api};
use crate::blobs::BlobKind;
use crate::clock::now_ns;
use crate::error::{ApiError, ApiResult};
use crate::lrp::DEFAULT_START_COMMAND;
use crate::store::{put, BuildRec, DropletRec, PackageRec};
use bytes::Bytes;
use futures::Stream;
use models::capi::{build_state, package_state, CreateBuild, CreatePackage, BITS, DOCKER, WEB};
use std::collections::BTreeMap;

/// How long an unfinished push holds an app against another.
const PUSH_LEASE_NS: i64 = 10 * 60 * 1_000_000_000;

impl Api {
    pub async fn create_package(&self, req: CreatePackage, actor: &str) -> ApiResult<PackageRec> {
        let app_guid = req.relationships.app.data.guid.clone();
        let data = req.data.unwrap_or_default();
        let (state, image) = match req.kind.as_str() {
            BITS => (package_state::AWAITING_UPLOAD, None),
            DOCKER => {
                let image = data
                    .image
                    .clone()
                    .filter(|i| !i.trim().is_empty())
                    .ok_or_else(|| {
                        ApiError::Unprocessable("a docker package needs data.image".into())
                    })?;
                if image.chars().any(char::is_whitespace) {
                    return Err(ApiError::Unprocessable(format!(
                        "invalid image reference {image:?}"
                    )));
                }
                (package_state::READY, Some(image))
            }
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "package type {other:?} is not one of bits, docker"
                )))
            }
        };
        let _w = self.writes.lock().await;
        let app = self.app(&app_guid).await?;
        if (req.kind == DOCKER) != (app.lifecycle.kind == DOCKER) {
            return Err(ApiError::Unprocessable(format!(
                "{} is a {} app: it takes {} packages",
                app.name,
                app.lifecycle.kind,
                if app.lifecycle.kind == DOCKER {
                    "docker"
                } else {
                    "bits"
                }
            )));
        }
        self.refuse_concurrent_push(&app).await?;
        let pkg = PackageRec {
            guid: new_guid(),
            app_guid: app.guid.clone(),
            kind: req.kind.clone(),
            state: state.into(),
            image,
            image_username: data.username,
            image_password: data.password,
            sha256: None,
            size: 0,
            created_at: now_ns(),
        };
        let ev = self.event(
            &app,
            "audit.app.package.create",
            actor,
            serde_json::json!({
                "package_guid": pkg.guid, "type": pkg.kind,
            }),
        );
        self.repo.store.apply(&[put(&pkg), put(&ev)]).await?;
        Ok(pkg)
    }

    /// Another push of the app is under way when one of its packages
    /// still waits for bits or a build, or a build stages.
    async fn refuse_concurrent_push(&self, app: &crate::store::AppRec) -> ApiResult<()> {
        let now = now_ns();
        let builds = self.repo.of_app::<BuildRec>(&app.guid).await?;
        let packages = self.repo.of_app::<PackageRec>(&app.guid).await?;
        let busy = packages.iter().any(|p| {
            now - p.created_at < PUSH_LEASE_NS
                && p.kind == BITS
                && (p.state == package_state::AWAITING_UPLOAD
                    || (p.state == package_state::READY
                        && !builds.iter().any(|b| b.package_guid == p.guid)))
        }) || builds
            .iter()
            .any(|b| b.state == build_state::STAGING && now - b.created_at < PUSH_LEASE_NS);
        if busy {
            return Err(ApiError::Conflict(format!(
                "another push of {} is under way: wait for it to finish (an abandoned one \
                 expires after 10 minutes)",
                app.name
            )));
        }
        Ok(())
    }

    pub async fn upload_package<S, E>(
        &self,
        guid: &str,
        body: S,
        actor: &str,
    ) -> ApiResult<PackageRec>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let pkg: PackageRec = self.owned(guid, "package").await?;
        if pkg.kind != BITS || pkg.state != package_state::AWAITING_UPLOAD {
            return Err(ApiError::Unprocessable(format!(
                "package {guid} takes no upload (it is {} {})",
                pkg.kind, pkg.state
            )));
        }
        let (size, sha) = self
            .blobs
            .write(
                BlobKind::Package,
                guid,
                body,
                self.settings.max_package_bytes,
            )
            .await?;
        if !is_gzip(&self.blobs.path(BlobKind::Package, guid)) {
            self.blobs.remove(BlobKind::Package, guid).await;
            return Err(ApiError::Unprocessable(
                "the upload is not a gzipped tar of the app's files".into(),
            ));
        }
        let _w = self.writes.lock().await;
        let mut pkg: PackageRec = self.owned(guid, "package").await?;
        pkg.state = package_state::READY.into();
        pkg.sha256 = Some(sha);
        pkg.size = size;
        let app = self.app(&pkg.app_guid).await?;
        let ev = self.event(
            &app,
            "audit.app.package.upload",
            actor,
            serde_json::json!({ "package_guid": pkg.guid }),
        );
        self.repo.store.apply(&[put(&pkg), put(&ev)]).await?;
        Ok(pkg)
    }

    /// Stages the package into a droplet.
    pub async fn create_build(&self, req: CreateBuild, actor: &str) -> ApiResult<BuildRec> {
        let _w = self.writes.lock().await;
        let pkg: PackageRec = self.owned(&req.package.guid, "package").await?;
        if pkg.state != package_state::READY {
            return Err(ApiError::Unprocessable(format!(
                "package {} is {}: upload its bits first",
                pkg.guid, pkg.state
            )));
        }
        let app = self.app(&pkg.app_guid).await?;
        let now = now_ns();
        if pkg.kind == BITS && self.stages(&app) {
            return self.create_staging_build(app, pkg, actor).await;
        }
        let droplet_guid = new_guid();
        let mut execution_metadata = String::new();
        let (process_types, image, sha) = if pkg.kind == DOCKER {
            // Docker staging: the image's config, so the process runs what
            // the image says (a bad reference or credentials fail here).
            let reference = pkg.image.clone().unwrap_or_default();
            let exec = crate::image_config::read(
                &reference,
                pkg.image_username.as_deref(),
                pkg.image_password.as_deref(),
            )
            .await
            .map_err(ApiError::Unprocessable)?;
            execution_metadata = serde_json::to_string(&exec).unwrap_or_default();
            (
                BTreeMap::from([(WEB.to_string(), String::new())]),
                pkg.image.clone(),
                None,
            )
        } else {
            self.blobs
                .copy(
                    (BlobKind::Package, &pkg.guid),
                    (BlobKind::Droplet, &droplet_guid),
                )
                .await?;
            (
                BTreeMap::from([(WEB.to_string(), DEFAULT_START_COMMAND.to_string())]),
                None,
                pkg.sha256.clone(),
            )
        };
        let droplet = DropletRec {
            guid: droplet_guid.clone(),
            app_guid: app.guid.clone(),
            package_guid: pkg.guid.clone(),
            state: build_state::STAGED.into(),
            process_types,
            execution_metadata,
            image,
            image_username: pkg.image_username.clone(),
            image_password: pkg.image_password.clone(),
            sha256: sha,
            stack: app.lifecycle.data.stack.clone(),
            created_at: now,
            download_url: None,
            buildpacks: vec![],
        };
        let build = BuildRec {
            guid: new_guid(),
            app_guid: app.guid.clone(),
            package_guid: pkg.guid.clone(),
            state: build_state::STAGED.into(),
            error: None,
            droplet_guid: Some(droplet_guid),
            created_at: now,
        };
        let ev = self.event(
            &app,
            "audit.app.build.create",
            actor,
            serde_json::json!({
                "build_guid": build.guid, "package_guid": pkg.guid,
            }),
        );
        self.repo
            .store
            .apply(&[put(&droplet), put(&build), put(&ev)])
            .await?;
        Ok(build)
    }
}

impl Api {
    /// A STAGING build whose Task runs on the BBS; the writes lock is
    /// held by the caller.
    async fn create_staging_build(
        &self,
        app: crate::store::AppRec,
        pkg: PackageRec,
        actor: &str,
    ) -> ApiResult<BuildRec> {
        let build = BuildRec {
            guid: new_guid(),
            app_guid: app.guid.clone(),
            package_guid: pkg.guid.clone(),
            state: build_state::STAGING.into(),
            error: None,
            droplet_guid: None,
            created_at: now_ns(),
        };
        // Everything that can be refused is, before anything is written.
        let req = self.staging_request(&app, &pkg, &build.guid).await?;
        let ev = self.event(
            &app,
            "audit.app.build.create",
            actor,
            serde_json::json!({
                "build_guid": build.guid, "package_guid": pkg.guid,
                "stack": app.lifecycle.data.stack,
            }),
        );
        self.repo.store.apply(&[put(&build), put(&ev)]).await?;
        self.start_staging(&req).await?;
        Ok(build)
    }
}

fn is_gzip(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}
