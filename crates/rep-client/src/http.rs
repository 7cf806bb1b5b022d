//! [`HttpRepClient`]: the rep's routes over HTTP(S), JSON bodies.

use crate::{Error, RepClient, Result};
use async_trait::async_trait;
use bytes::Bytes;
use cfhttp::{go_error_text, REQUEST_ID_HEADER};
use futures::Stream;
use models::rep::container_metrics::ContainerMetricsCollection;
use models::rep::{CellState, LrpUpdate, Work};
use models::{ActualLrpInstanceKey, ActualLrpKey};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// One rep; cheap to make and clone (the factory's connections are shared).
#[derive(Clone)]
pub struct HttpRepClient {
    http: reqwest::Client,
    base: Arc<str>,
    request_timeout: Option<Duration>,
    state_timeout: Option<Duration>,
    trace_id: Option<Arc<str>>,
}

/// A path segment escaped as a URL path needs it.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HttpRepClient {
    pub(crate) fn new(
        http: reqwest::Client,
        url: &str,
        request_timeout: Option<Duration>,
        state_timeout: Option<Duration>,
    ) -> HttpRepClient {
        HttpRepClient {
            http,
            base: url.trim_end_matches('/').into(),
            request_timeout,
            state_timeout,
            trace_id: None,
        }
    }

    /// The same client sending `trace_id` with every request (none when
    /// empty).
    pub fn with_trace_id(mut self, trace_id: &str) -> HttpRepClient {
        self.trace_id = (!trace_id.is_empty()).then(|| trace_id.into());
        self
    }

    /// The rep's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        timeout: Option<Duration>,
        json: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(t) = &self.trace_id {
            req = req.header(REQUEST_ID_HEADER, t.as_ref());
        }
        if let Some(body) = json {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        req.send()
            .await
            .map_err(|e| Error::Transport(go_error_text(&method, &url, &e)))
    }

    /// Reads a 200 answer's body; another status is an error.
    async fn body_of_ok(
        &self,
        method: Method,
        path: &str,
        resp: reqwest::Response,
    ) -> Result<Bytes> {
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(Error::UnexpectedStatus(status.as_u16()));
        }
        let url = format!("{}{path}", self.base);
        resp.bytes()
            .await
            .map_err(|e| Error::Transport(go_error_text(&method, &url, &e)))
    }

    async fn json<T: DeserializeOwned>(&self, body: Bytes) -> Result<T> {
        serde_json::from_slice(&body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `GET /state` as the rep sent it, for callers that decode it their
    /// own way (cfdot renders it as Go's struct would).
    pub async fn state_body(&self) -> Result<Bytes> {
        let resp = self
            .send(Method::GET, "/state", self.state_timeout, None)
            .await?;
        self.body_of_ok(Method::GET, "/state", resp).await
    }

    /// Expects 202 (stops, cancels, updates).
    fn accepted(status: StatusCode) -> Result<()> {
        if status == StatusCode::ACCEPTED {
            Ok(())
        } else {
            Err(Error::NotAccepted(status.as_u16()))
        }
    }

    async fn update_at(&self, path: &str, update: &LrpUpdate) -> Result<StatusCode> {
        let body = serde_json::to_vec(update).map_err(|e| Error::Decode(e.to_string()))?;
        let resp = self
            .send(Method::PUT, path, self.request_timeout, Some(body))
            .await?;
        Ok(resp.status())
    }

    /// `GET /ping` on the rep's local listener.
    pub async fn ping(&self) -> Result<()> {
        let resp = self
            .send(Method::GET, "/ping", self.request_timeout, None)
            .await?;
        self.body_of_ok(Method::GET, "/ping", resp).await.map(drop)
    }

    /// `POST /evacuate` on the rep's local listener: the cell starts
    /// draining (202).
    pub async fn evacuate(&self) -> Result<()> {
        let resp = self
            .send(Method::POST, "/evacuate", self.request_timeout, None)
            .await?;
        match resp.status() {
            StatusCode::ACCEPTED => Ok(()),
            s => Err(Error::UnexpectedStatus(s.as_u16())),
        }
    }

    /// `GET /v1/lrps/:process_guid/logs`: the log lines of an LRP's
    /// instances on this cell, and with `follow` new ones as they come.
    pub async fn lrp_logs(
        &self,
        process_guid: &str,
        follow: bool,
    ) -> Result<impl Stream<Item = Result<Bytes>>> {
        self.log_stream(&format!(
            "/v1/lrps/{}/logs?follow={follow}",
            escape(process_guid)
        ))
        .await
    }

    /// `GET /v1/tasks/:task_guid/logs`: a task's log lines (a staging
    /// task's output), and with `follow` new ones until its container
    /// goes.
    pub async fn task_logs(
        &self,
        task_guid: &str,
        follow: bool,
    ) -> Result<impl Stream<Item = Result<Bytes>>> {
        self.log_stream(&format!(
            "/v1/tasks/{}/logs?follow={follow}",
            escape(task_guid)
        ))
        .await
    }

    async fn log_stream(&self, path: &str) -> Result<impl Stream<Item = Result<Bytes>>> {
        use futures::TryStreamExt;
        let resp = self.send(Method::GET, path, None, None).await?;
        if resp.status() != StatusCode::OK {
            return Err(Error::UnexpectedStatus(resp.status().as_u16()));
        }
        let url = format!("{}{path}", self.base);
        Ok(resp
            .bytes_stream()
            .map_err(move |e| Error::Transport(go_error_text(&Method::GET, &url, &e))))
    }
}

#[async_trait]
impl RepClient for HttpRepClient {
    async fn state(&self) -> Result<CellState> {
        let body = self.state_body().await?;
        self.json(body).await
    }

    async fn perform(&self, work: &Work) -> Result<Work> {
        let body = serde_json::to_vec(work).map_err(|e| Error::Decode(e.to_string()))?;
        let resp = self
            .send(Method::POST, "/work", self.request_timeout, Some(body))
            .await?;
        let body = self.body_of_ok(Method::POST, "/work", resp).await?;
        self.json(body).await
    }

    async fn update_lrp_instance(&self, update: &LrpUpdate) -> Result<()> {
        let segments = format!(
            "/lrps/{}/instances/{}",
            escape(&update.process_guid),
            escape(&update.instance_guid)
        );
        let status = self.update_at(&format!("/v2{segments}"), update).await?;
        // A 404 is a rep that has not rolled yet: Diego sends the internal
        // routes on the v1 route, else nothing.
        if status == StatusCode::NOT_FOUND {
            if update.internal_routes.is_none() {
                return Ok(());
            }
            let v1 = LrpUpdate {
                metric_tags: None,
                ..update.clone()
            };
            let status = self.update_at(&format!("/v1{segments}"), &v1).await?;
            if status == StatusCode::NOT_FOUND {
                return Ok(());
            }
            return Self::accepted(status);
        }
        Self::accepted(status)
    }

    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()> {
        let path = format!(
            "/v1/lrps/{}/instances/{}/stop",
            escape(&key.process_guid),
            escape(&instance.instance_guid)
        );
        let resp = self
            .send(Method::POST, &path, self.request_timeout, Some(Vec::new()))
            .await?;
        Self::accepted(resp.status())
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<()> {
        let path = format!("/v1/tasks/{}/cancel", escape(task_guid));
        let resp = self
            .send(Method::POST, &path, self.request_timeout, None)
            .await?;
        Self::accepted(resp.status())
    }

    async fn container_metrics(&self) -> Result<ContainerMetricsCollection> {
        let resp = self
            .send(
                Method::GET,
                "/container_metrics",
                self.request_timeout,
                None,
            )
            .await?;
        let body = self
            .body_of_ok(Method::GET, "/container_metrics", resp)
            .await?;
        self.json(body).await
    }
}
