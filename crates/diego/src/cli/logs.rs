//! `diego logs APP [-f]`: the app instances' output, from the reps of the
//! cells they run on (`GET /v1/lrps/:guid/logs` of each).

use super::bbs::Bbs;
use std::collections::BTreeSet;
use tokio::io::AsyncWriteExt;

/// The rep URLs of the cells running the app's instances; every cell's
/// when none is known (a crashed instance names no cell, yet its cell may
/// still hold its container's log).
async fn rep_urls(bbs: &Bbs, app: &str) -> anyhow::Result<Vec<String>> {
    let cell_ids: BTreeSet<String> = bbs
        .actual_lrps(app)
        .await?
        .into_iter()
        .filter_map(|l| l.actual_lrp_instance_key.map(|k| k.cell_id))
        .filter(|c| !c.is_empty())
        .collect();
    let cells = bbs.cells().await?;
    Ok(cells
        .into_iter()
        .filter(|c| cell_ids.is_empty() || cell_ids.contains(&c.cell_id))
        .map(|c| {
            if c.rep_url.is_empty() {
                c.rep_address
            } else {
                c.rep_url
            }
        })
        .collect())
}

/// Copies one rep's log stream to stdout, line by line.
async fn stream_from(http: reqwest::Client, url: String) -> anyhow::Result<()> {
    let mut resp = http.get(&url).send().await?.error_for_status()?;
    let mut out = tokio::io::stdout();
    while let Some(chunk) = resp.chunk().await? {
        out.write_all(&chunk).await?;
        out.flush().await?;
    }
    Ok(())
}

pub async fn logs(bbs_url: &str, app: &str, follow: bool) -> anyhow::Result<()> {
    let bbs = Bbs::new(bbs_url)?;
    anyhow::ensure!(
        bbs.desired_lrp(app).await?.is_some(),
        "no app {app} (see `diego apps`)"
    );
    let reps = rep_urls(&bbs, app).await?;
    if reps.is_empty() {
        println!("No cells to ask for the logs of {app}.");
        return Ok(());
    }
    let http = reqwest::Client::new();
    let mut streams = tokio::task::JoinSet::new();
    for rep in reps {
        let url = format!(
            "{}/v1/lrps/{app}/logs?follow={follow}",
            rep.trim_end_matches('/')
        );
        streams.spawn(stream_from(http.clone(), url));
    }
    while let Some(r) = streams.join_next().await {
        if let Err(e) = r? {
            eprintln!("diego logs: {e:#}");
        }
    }
    Ok(())
}
