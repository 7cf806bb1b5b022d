//! A small BBS client for the load generator: protobuf over HTTP (Diego's
//! wire form) and SSE subscriptions, each call timed by the caller.

use anyhow::{bail, Context as _};
use bbs::events::sse::SseParser;
use bbs::events::Event;
use futures::StreamExt;
use prost::Message;
use std::time::Duration;

#[derive(Clone)]
pub struct BbsClient {
    http: reqwest::Client,
    base: String,
}

/// Responses with Diego's `error` field.
pub trait HasError {
    fn error(&self) -> Option<&models::Error>;
}

macro_rules! has_error {
    ($($t:ident),* $(,)?) => {$(
        impl HasError for models::$t {
            fn error(&self) -> Option<&models::Error> {
                self.error.as_ref()
            }
        }
    )*};
}

has_error!(
    ActualLrPsResponse,
    ActualLrpLifecycleResponse,
    DesiredLrPsResponse,
    DesiredLrpSchedulingInfosResponse,
    DesiredLrpLifecycleResponse,
    TasksResponse,
    CellsResponse,
);

impl BbsClient {
    pub fn new(base: &str) -> anyhow::Result<BbsClient> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(BbsClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// POSTs a protobuf request and decodes the response; a response
    /// carrying an error is an error.
    pub async fn call<Req: Message, Resp: Message + Default + HasError>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<Resp> {
        Ok(self.call_timing_decode(path, req).await?.0)
    }

    /// As `call`, also returning how long decoding the answer took (the
    /// client's share of a large answer's latency).
    pub async fn call_timing_decode<Req: Message, Resp: Message + Default + HasError>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<(Resp, std::time::Duration)> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        if !resp.status().is_success() {
            bail!("POST {path}: HTTP {}", resp.status());
        }
        let bytes = resp.bytes().await?;
        let t = std::time::Instant::now();
        let decoded = Resp::decode(bytes.as_ref()).with_context(|| format!("decoding {path}"))?;
        let decoding = t.elapsed();
        if let Some(e) = decoded.error() {
            bail!("POST {path}: {} {}", e.r#type, e.message);
        }
        Ok((decoded, decoding))
    }

    pub async fn ping(&self) -> bool {
        self.http
            .post(format!("{}/v1/ping", self.base))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }

    /// Subscribes to the LRP instance event stream (of one cell, or all
    /// when `cell_id` is empty) and calls `on_event` for each event until
    /// the stream ends; `on_subscribed` runs once the BBS has answered.
    pub async fn instance_events(
        &self,
        cell_id: &str,
        on_subscribed: impl FnOnce(),
        mut on_event: impl FnMut(Event),
    ) -> anyhow::Result<()> {
        let body = models::EventsByCellId {
            cell_id: cell_id.to_string(),
        }
        .encode_to_vec();
        let resp = self
            .http
            .post(format!("{}/v1/events/lrp_instances.r1", self.base))
            .body(body)
            .timeout(Duration::from_secs(24 * 3600))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("event stream: HTTP {}", resp.status());
        }
        on_subscribed();
        let mut stream = resp.bytes_stream();
        let mut parser = SseParser::default();
        while let Some(chunk) = stream.next().await {
            for raw in parser.feed(&chunk?) {
                match raw.decode() {
                    Ok(ev) => on_event(ev),
                    Err(e) => tracing::warn!(error = %e, "undecodable event"),
                }
            }
        }
        Ok(())
    }
}
