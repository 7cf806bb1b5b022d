//! `diego logs APP [--recent | -f]`: the app's log lines from the log
//! component (every instance, including crashed and deleted ones, and the
//! cell's CELL lines), as `cf logs` prints them. Without `-f` the recent
//! lines (as `cf logs --recent`); with `-f` the recent lines, then new
//! ones as they come (as `cf logs`).
//! `diego bind-drain APP URL` adds a syslog drain to the app.

use super::bbs::Bbs;
use futures::StreamExt;
use logs_client::envelope::render_cf;
use logs_client::reader::ReadOptions;
use logs_client::Reader;

/// The dev log component's API (`diego dev`'s fixed address).
pub const DEFAULT_LOGS_URL: &str = "http://127.0.0.1:8083";

/// The app's source id: its log guid when the BBS knows the app, else
/// the name (a deleted app's lines stay under its log guid, which `diego
/// push` makes the app's name).
async fn source_id(bbs_url: &str, app: &str) -> String {
    let Ok(bbs) = Bbs::new(bbs_url) else {
        return app.to_string();
    };
    match bbs.desired_lrp(app).await {
        Ok(Some(d)) if !d.log_guid.is_empty() => d.log_guid,
        _ => app.to_string(),
    }
}

pub async fn logs(bbs_url: &str, logs_url: &str, app: &str, follow: bool) -> anyhow::Result<()> {
    let source = source_id(bbs_url, app).await;
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

pub async fn bind_drain(bbs_url: &str, logs_url: &str, app: &str, url: &str) -> anyhow::Result<()> {
    let source = source_id(bbs_url, app).await;
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
