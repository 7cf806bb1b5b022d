//! The client of `diego api` (every caller of the app lifecycle API uses
//! this one): typed calls over its routes, answers as `models::capi`
//! resources, and its errors as the API states them (HTTP status and
//! Cloud Controller's error body).

use bytes::Bytes;
use futures::Stream;
use models::capi::*;
use reqwest::{Method, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error.
    #[error("{detail} (HTTP {status})")]
    Api {
        status: u16,
        title: String,
        detail: String,
    },
    /// The API could not be reached or answered nonsense.
    #[error("{0}")]
    Transport(String),
}

impl Error {
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Transport(_) => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client of the API at `url` (`http://host:port`) with `token`.
    pub fn new(url: &str, token: &str) -> Result<ApiClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(ApiClient {
            base: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(120))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| {
            Error::Transport(format!(
                "cannot reach the API at {}: {e} (is `diego dev` running? see `diego api`)",
                self.base
            ))
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) if !e.errors.is_empty() => Error::Api {
                status: status.as_u16(),
                title: e.errors[0].title.clone(),
                detail: e.detail(),
            },
            _ => Error::Api {
                status: status.as_u16(),
                title: String::new(),
                detail: String::from_utf8_lossy(&body).trim().to_string(),
            },
        })
    }

    async fn json<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = self.send(req).await?;
        resp.json()
            .await
            .map_err(|e| Error::Transport(format!("reading the API's answer: {e}")))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.json(self.request(Method::GET, path)).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.json(self.request(method, path).json(body)).await
    }

    /// `GET /`: answers without a token.
    pub async fn info(&self) -> Result<Info> {
        self.get("/").await
    }

    pub async fn apps(&self) -> Result<Vec<App>> {
        Ok(self.get::<List<App>>("/v3/apps").await?.resources)
    }

    pub async fn app_by_name(&self, name: &str) -> Result<Option<App>> {
        let path = format!("/v3/apps?names={}", escape(name));
        Ok(self.get::<List<App>>(&path).await?.resources.pop())
    }

    pub async fn app(&self, guid: &str) -> Result<App> {
        self.get(&format!("/v3/apps/{guid}")).await
    }

    pub async fn create_app(&self, req: &CreateApp) -> Result<App> {
        self.call(Method::POST, "/v3/apps", req).await
    }

    pub async fn update_app(&self, guid: &str, req: &UpdateApp) -> Result<App> {
        self.call(Method::PATCH, &format!("/v3/apps/{guid}"), req)
            .await
    }

    pub async fn delete_app(&self, guid: &str) -> Result<()> {
        self.send(self.request(Method::DELETE, &format!("/v3/apps/{guid}")))
            .await?;
        Ok(())
    }

    /// start, stop or restart.
    pub async fn app_action(&self, guid: &str, action: &str) -> Result<App> {
        self.json(self.request(Method::POST, &format!("/v3/apps/{guid}/actions/{action}")))
            .await
    }

    pub async fn env(&self, guid: &str) -> Result<EnvVars> {
        self.get(&format!("/v3/apps/{guid}/environment_variables"))
            .await
    }

    pub async fn patch_env(&self, guid: &str, vars: &EnvVars) -> Result<EnvVars> {
        self.call(
            Method::PATCH,
            &format!("/v3/apps/{guid}/environment_variables"),
            vars,
        )
        .await
    }

    pub async fn set_current_droplet(&self, app: &str, droplet: &str) -> Result<ToOne> {
        let path = format!("/v3/apps/{app}/relationships/current_droplet");
        self.call(Method::PATCH, &path, &ToOne::to(droplet)).await
    }

    pub async fn processes(&self, app: &str) -> Result<Vec<Process>> {
        Ok(self
            .get::<List<Process>>(&format!("/v3/apps/{app}/processes"))
            .await?
            .resources)
    }

    pub async fn update_process(&self, guid: &str, s: &ProcessSettings) -> Result<Process> {
        self.call(Method::PATCH, &format!("/v3/processes/{guid}"), s)
            .await
    }

    pub async fn scale(&self, guid: &str, s: &Scale) -> Result<Process> {
        self.call(
            Method::POST,
            &format!("/v3/processes/{guid}/actions/scale"),
            s,
        )
        .await
    }

    pub async fn stats(&self, process: &str) -> Result<Vec<InstanceStats>> {
        Ok(self
            .get::<List<InstanceStats>>(&format!("/v3/processes/{process}/stats"))
            .await?
            .resources)
    }

    pub async fn revisions(&self, app: &str) -> Result<Vec<Revision>> {
        Ok(self
            .get::<List<Revision>>(&format!("/v3/apps/{app}/revisions"))
            .await?
            .resources)
    }

    pub async fn create_package(&self, req: &CreatePackage) -> Result<Package> {
        self.call(Method::POST, "/v3/packages", req).await
    }

    pub async fn package(&self, guid: &str) -> Result<Package> {
        self.get(&format!("/v3/packages/{guid}")).await
    }

    pub async fn upload(&self, package: &str, bits: Vec<u8>) -> Result<Package> {
        let req = self
            .request(Method::POST, &format!("/v3/packages/{package}/upload"))
            .header("content-type", "application/gzip")
            .body(bits);
        self.json(req).await
    }

    pub async fn create_build(&self, package: &str) -> Result<Build> {
        let req = CreateBuild {
            package: GuidRef {
                guid: package.to_string(),
            },
        };
        self.call(Method::POST, "/v3/builds", &req).await
    }

    pub async fn build(&self, guid: &str) -> Result<Build> {
        self.get(&format!("/v3/builds/{guid}")).await
    }

    pub async fn droplet(&self, guid: &str) -> Result<Droplet> {
        self.get(&format!("/v3/droplets/{guid}")).await
    }

    pub async fn create_deployment(
        &self,
        req: &CreateDeployment,
        process: Option<&ProcessSettings>,
    ) -> Result<Deployment> {
        let mut body = serde_json::to_value(req).map_err(|e| Error::Transport(e.to_string()))?;
        if let Some(p) = process {
            body["process"] =
                serde_json::to_value(p).map_err(|e| Error::Transport(e.to_string()))?;
        }
        self.call(Method::POST, "/v3/deployments", &body).await
    }

    pub async fn deployments(&self, app: &str) -> Result<Vec<Deployment>> {
        Ok(self
            .get::<List<Deployment>>(&format!("/v3/deployments?app_guids={app}"))
            .await?
            .resources)
    }

    pub async fn deployment(&self, guid: &str) -> Result<Deployment> {
        self.get(&format!("/v3/deployments/{guid}")).await
    }

    /// cancel or continue.
    pub async fn deployment_action(&self, guid: &str, action: &str) -> Result<Deployment> {
        self.json(self.request(
            Method::POST,
            &format!("/v3/deployments/{guid}/actions/{action}"),
        ))
        .await
    }

    pub async fn events(&self, app: &str) -> Result<Vec<AuditEvent>> {
        Ok(self
            .get::<List<AuditEvent>>(&format!("/v3/audit_events?target_guids={app}"))
            .await?
            .resources)
    }

    pub async fn create_task(&self, app: &str, req: &CreateTask) -> Result<Task> {
        self.call(Method::POST, &format!("/v3/apps/{app}/tasks"), req)
            .await
    }

    pub async fn tasks(&self, app: &str) -> Result<Vec<Task>> {
        Ok(self
            .get::<List<Task>>(&format!("/v3/apps/{app}/tasks"))
            .await?
            .resources)
    }

    /// The app's log lines (and new ones with `follow`).
    pub async fn logs(&self, app: &str, follow: bool) -> Result<impl Stream<Item = Result<Bytes>>> {
        self.stream(&format!("/v3/apps/{app}/logs?follow={follow}"))
            .await
    }

    /// A build's staging output (and new lines with `follow`, until its
    /// Task's container goes). NotFound until a cell runs the Task.
    pub async fn build_logs(
        &self,
        build: &str,
        follow: bool,
    ) -> Result<impl Stream<Item = Result<Bytes>>> {
        self.stream(&format!("/v3/builds/{build}/logs?follow={follow}"))
            .await
    }

    pub async fn buildpacks(&self) -> Result<Vec<Buildpack>> {
        Ok(self
            .get::<List<Buildpack>>("/v3/buildpacks")
            .await?
            .resources)
    }

    pub async fn stacks(&self) -> Result<Vec<Stack>> {
        Ok(self.get::<List<Stack>>("/v3/stacks").await?.resources)
    }

    async fn stream(&self, path: &str) -> Result<impl Stream<Item = Result<Bytes>>> {
        use futures::TryStreamExt;
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        let resp = self.send(req).await?;
        Ok(resp
            .bytes_stream()
            .map_err(|e| Error::Transport(e.to_string())))
    }

    /// A request with no token (to see the API refuse it).
    pub async fn status_without_token(&self, path: &str) -> Result<StatusCode> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(resp.status())
    }
}

/// Query-string escaping of a value.
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
