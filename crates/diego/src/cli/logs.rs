//! `diego logs APP [-f]`: the app instances' output, from the reps of the
//! cells they run on (`GET /v1/lrps/:guid/logs` of each).

use super::bbs::Bbs;
use futures::StreamExt;
use rep_client::{HttpRepClient, RepClientFactory};
use std::collections::BTreeSet;
use tokio::io::AsyncWriteExt;

/// The reps of the cells running the app's instances; every cell's when
/// none is known (a crashed instance names no cell, yet its cell may
/// still hold its container's log).
async fn reps(bbs: &Bbs, app: &str) -> anyhow::Result<Vec<HttpRepClient>> {
    let cell_ids: BTreeSet<String> = bbs
        .actual_lrps(app)
        .await?
        .into_iter()
        .filter_map(|l| l.actual_lrp_instance_key.map(|k| k.cell_id))
        .filter(|c| !c.is_empty())
        .collect();
    let cells = bbs.cells().await?;
    let factory = RepClientFactory::new(&Default::default())?;
    cells
        .iter()
        .filter(|c| cell_ids.is_empty() || cell_ids.contains(&c.cell_id))
        .map(|c| Ok(factory.client_for(c)?))
        .collect()
}

/// Copies one rep's log stream to stdout, line by line.
async fn stream_from(rep: HttpRepClient, app: String, follow: bool) -> anyhow::Result<()> {
    let mut lines = Box::pin(rep.lrp_logs(&app, follow).await?);
    let mut out = tokio::io::stdout();
    while let Some(chunk) = lines.next().await {
        out.write_all(&chunk?).await?;
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
    let reps = reps(&bbs, app).await?;
    if reps.is_empty() {
        println!("No cells to ask for the logs of {app}.");
        return Ok(());
    }
    let mut streams = tokio::task::JoinSet::new();
    for rep in reps {
        streams.spawn(stream_from(rep, app.to_string(), follow));
    }
    while let Some(r) = streams.join_next().await {
        if let Err(e) = r? {
            eprintln!("diego logs: {e:#}");
        }
    }
    Ok(())
}
