//! Drains from the app API (Loggregator's syslog binding cache): every
//! `bindings_polling_interval` the component reads the API's
//! `GET /internal/v4/syslog_drain_urls` (Cloud Controller's route, in
//! pages of `bindings_batch_size`) and binds what it lists beside the
//! drains `diego bind-drain` set. A failed poll keeps the last list, as
//! the binding cache does, so an API restart drops no drain.

use crate::drains::Origin;
use crate::Hub;
use anyhow::Context;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub async fn poll_forever(hub: Arc<Hub>, api_url: String, every: Duration, batch: usize) {
    let http = match (cfhttp::Config {
        request_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .client()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "drain-bindings-client");
            return;
        }
    };
    let base = api_url.trim_end_matches('/').to_string();
    loop {
        match fetch(&http, &base, batch.max(1)).await {
            Ok(bindings) => hub.drains.replace(Origin::AppApi, bindings),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "drain-bindings-poll-failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Every page of the API's list: app guid → drain URLs.
async fn fetch(
    http: &reqwest::Client,
    base: &str,
    batch: usize,
) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut out = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let url =
            format!("{base}/internal/v4/syslog_drain_urls?batch_size={batch}&next_id={next_id}");
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(cfhttp::describe(&e, &url)))?;
        anyhow::ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
        let page: serde_json::Value =
            serde_json::from_slice(&resp.bytes().await?).context("the drain list is not JSON")?;
        if let Some(results) = page["results"].as_object() {
            for (app, binding) in results {
                let drains = binding["drains"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect();
                out.insert(app.clone(), drains);
            }
        }
        match page["next_id"].as_u64() {
            Some(n) if n > next_id => next_id = n,
            _ => return Ok(out),
        }
    }
}
