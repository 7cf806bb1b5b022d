//! `diego logs APP [--recent | -f]`: the app's log lines from the log
//! component (every instance, including crashed and deleted ones, the
//! cell's CELL lines and the router's RTR lines), as `cf logs` prints
//! them. Without `-f` the recent lines (as `cf logs --recent`); with `-f`
//! the recent lines, then new ones as they come (as `cf logs`). The app's
//! source id is its guid (its LRPs' log guid), which the API gives.
//! `diego bind-drain APP URL` adds a syslog drain to the app.

use futures::StreamExt;
use logs_client::envelope::render_cf;
use logs_client::reader::ReadOptions;
use logs_client::Reader;

/// The dev log component's API (`diego dev`'s fixed address).
pub const DEFAULT_LOGS_URL: &str = "http://127.0.0.1:8083";

/// The app's source id: its guid, from the API.
async fn source_id(app: &str) -> anyhow::Result<String> {
    let c = super::target::client()?;
    Ok(super::apps::find(&c, app).await?.guid)
}

pub async fn logs(logs_url: &str, app: &str, follow: bool) -> anyhow::Result<()> {
    let source = source_id(app).await?;
    let reader = Reader::new(logs_url)?;
    // Subscribed before reading the recent lines, so none falls between.
    let tail = if follow {
        Some(Box::pin(reader.tail(&source, &["log"]).await?))
    } else {
        None
    };
    let recent = reader
        .recent(
            &source,
            &ReadOptions {
                limit: Some(1000),
                envelope_types: vec!["LOG".into()],
                ..Default::default()
            },
        )
        .await?;
    let newest = recent.last().map(|e| e.timestamp);
    if recent.is_empty() && !follow {
        println!("No logs for {app} yet.");
    }
    for e in &recent {
        if let Some(line) = render_cf(e) {
            println!("   {line}");
        }
    }
    let Some(mut tail) = tail else {
        return Ok(());
    };
    while let Some(e) = tail.next().await {
        let e = e?;
        // Lines the recent read already showed.
        if newest.is_some_and(|t| e.timestamp <= t) {
            continue;
        }
        if let Some(line) = render_cf(&e) {
            println!("   {line}");
        }
    }
    Ok(())
}

pub async fn bind_drain(logs_url: &str, app: &str, url: &str) -> anyhow::Result<()> {
    let source = source_id(app).await?;
    let base = logs_url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let listing: serde_json::Value = serde_json::from_slice(
        &http
            .get(format!("{base}/v1/drains"))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?,
    )?;
    let mut urls: Vec<String> = listing["drains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["source_id"] == source.as_str())
        .filter_map(|d| d["url"].as_str().map(String::from))
        .collect();
    if !urls.iter().any(|u| u == url) {
        urls.push(url.to_string());
    }
    let resp = http
        .put(format!("{base}/v1/drains/{source}"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "urls": urls }).to_string())
        .send()
        .await?;
    if !resp.status().is_success() {
        let body: serde_json::Value =
            serde_json::from_slice(&resp.bytes().await.unwrap_or_default()).unwrap_or_default();
        anyhow::bail!(
            "{}",
            body["error"].as_str().unwrap_or("binding the drain failed")
        );
    }
    println!("Bound {url} to {app}.");
    Ok(())
}
