//! The starting state: bulk seeding through the store, the API sample
//! (desire, claim, start through the BBS) and the reps' presences.

use super::stats::Recorder;
use crate::convergence::desired_lrp;
use anyhow::Context as _;
use bbs::db::sql::BenchTask;
use bbs::db::{EncryptionConfig, SqlStore, StoreConfig};
use bbs_client::{BbsClient, HttpBbsClient, InternalBbsClient, RunningInfo};
use locket::client::{presence_resource, ClientLocketConfig, LockHandle, PresenceRunner};
use models::json::GoJson;
use models::{
    ActualLrpInstanceKey, ActualLrpKey, CellCapacity, CellPresence, Provider, TaskDefinition,
};
use std::time::{Duration, Instant};

pub const KEY_LABEL: &str = "bench";
pub const KEY_PASSPHRASE: &str = "bench-passphrase";
const DOMAIN: &str = "cf-apps";

pub const API_DESIRE: &str = "API sample: desire LRP";
pub const API_CLAIM: &str = "API sample: claim actual LRP";
pub const API_START: &str = "API sample: start actual LRP";
pub const PRESENCE: &str = "locket: acquire cell presence";

/// Seeds desired LRPs 0..n (one RUNNING instance each, LRP i on
/// `cells[i % len]`) and `tasks_per_cell` RUNNING tasks per cell.
pub async fn seed_store(
    url: &str,
    n: u64,
    cells: &[String],
    tasks_per_cell: u64,
) -> anyhow::Result<()> {
    let store = SqlStore::connect(&StoreConfig {
        url: url.to_string(),
        max_open_connections: 4,
        encryption: EncryptionConfig::single(KEY_LABEL, KEY_PASSPHRASE),
    })
    .await
    .with_context(|| format!("connecting to {url}"))?;
    let e = |e: models::BbsError| anyhow::anyhow!("{e}");
    if !store
        .desired_lrps(&Default::default())
        .await
        .map_err(e)?
        .is_empty()
    {
        anyhow::bail!("the database already holds desired LRPs; give an empty one");
    }
    store.upsert_domain(DOMAIN, 0).await.map_err(e)?;
    store.upsert_domain("cf-tasks", 0).await.map_err(e)?;
    // Chunks keep the memory of the generated records small.
    let mut i = 0;
    while i < n {
        let end = (i + 10_000).min(n);
        let chunk: Vec<_> = (i..end).map(|k| desired_lrp(k, 1)).collect();
        // Instance k of the chunk goes to cells[k % len]: rotate the list
        // so that the seeding's own round robin lands LRP i on cell i % len.
        let rot = (i % cells.len() as u64) as usize;
        let rotated: Vec<String> = cells[rot..].iter().chain(&cells[..rot]).cloned().collect();
        store
            .seed_running_lrps_for_bench(&chunk, &rotated)
            .await
            .map_err(e)?;
        i = end;
    }
    let tasks: Vec<BenchTask> = (0..cells.len() as u64 * tasks_per_cell)
        .map(|i| BenchTask {
            task_guid: format!("task-{i:08}"),
            domain: "cf-tasks".into(),
            definition: TaskDefinition {
                root_fs: "preloaded:cflinuxfs4".into(),
                action: Some(models::Action {
                    run_action: Some(models::RunAction {
                        path: "/tmp/lifecycle/launcher".into(),
                        args: vec!["app".into(), "rake db:migrate".into()],
                        user: "vcap".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                memory_mb: 256,
                disk_mb: 1024,
                log_guid: format!("task-log-{i}"),
                ..Default::default()
            },
            cell_id: Some(cells[(i % cells.len() as u64) as usize].clone()),
        })
        .collect();
    store.seed_tasks_for_bench(&tasks).await.map_err(e)?;
    Ok(())
}

/// Desired LRPs from..to through the API, each claimed and started on
/// `cells[i % len]` as a rep would.
pub async fn through_api(
    client: &HttpBbsClient,
    rec: &Recorder,
    from: u64,
    to: u64,
    cells: &[String],
) {
    use futures::StreamExt;
    futures::stream::iter(from..to)
        .for_each_concurrent(32, |i| async move {
            let lrp = desired_lrp(i, 1);
            let ok = rec
                .time(API_DESIRE, async {
                    Ok(client.desire_lrp(lrp.clone()).await?)
                })
                .await;
            if ok.is_none() {
                return;
            }
            let cell = &cells[(i % cells.len() as u64) as usize];
            let instance_key = ActualLrpInstanceKey {
                instance_guid: uuid::Uuid::new_v4().to_string(),
                cell_id: cell.clone(),
            };
            let key = ActualLrpKey {
                process_guid: lrp.process_guid.clone(),
                index: 0,
                domain: lrp.domain.clone(),
            };
            let ok = rec
                .time(API_CLAIM, async {
                    Ok(client.claim_actual_lrp(&key, &instance_key).await?)
                })
                .await;
            if ok.is_none() {
                return;
            }
            // What a rep reports: the desired LRP's internal routes and
            // resolved metric tags (else convergence sees drift).
            let running =
                bbs::db::sql::bench_running_info(&lrp, 0, &instance_key.instance_guid, cell, i);
            let info = RunningInfo {
                net_info: running.net_info,
                internal_routes: running.internal_routes,
                metric_tags: running.metric_tags.into_iter().collect(),
                routable: true,
                availability_zone: running.availability_zone,
            };
            rec.time(API_START, async {
                Ok(client.start_actual_lrp(&key, &instance_key, &info).await?)
            })
            .await;
        })
        .await;
}

fn presence(cell_id: &str) -> CellPresence {
    CellPresence {
        cell_id: cell_id.into(),
        rep_address: format!("http://{cell_id}.cell.internal:1800"),
        rep_url: format!("https://{cell_id}.cell.internal:1801"),
        zone: format!("z{}", cell_id.len() % 3 + 1),
        capacity: Some(CellCapacity {
            memory_mb: 256 * 1024,
            disk_mb: 512 * 1024,
            containers: 250,
        }),
        rootfs_providers: vec![Provider {
            name: "preloaded".into(),
            properties: vec!["cflinuxfs4".into()],
        }],
        ..Default::default()
    }
}

/// Every rep takes its presence in locket (Diego's TTL and retry interval).
pub async fn register_cells(
    locket_addr: &str,
    cells: &[String],
    rec: &Recorder,
) -> anyhow::Result<Vec<LockHandle>> {
    let client = locket::client::connect(&ClientLocketConfig::insecure(locket_addr)).await?;
    let mut handles = Vec::new();
    for cell in cells {
        let value = presence(cell).to_go_json();
        handles.push((
            Instant::now(),
            PresenceRunner::new(client.clone(), presence_resource(cell, cell, &value)).spawn(),
        ));
    }
    let mut out = Vec::new();
    for (t, mut h) in handles {
        tokio::time::timeout(Duration::from_secs(60), h.acquired())
            .await
            .context("a presence was not acquired within 60 s")?
            .map_err(|e| anyhow::anyhow!("presence lost: {}", e.0))?;
        rec.record(PRESENCE, t.elapsed());
        out.push(h);
    }
    Ok(out)
}
