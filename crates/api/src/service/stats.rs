//! Instance state a user can read: each instance of a process from the
//! BBS's ActualLRPs (state, since, crash count and reason, placement
//! error, address), with usage from the latest container metrics in the
//! log store (as Cloud Controller reads them from Log Cache), else from
//! the cells' reps.

use super::Api;
use crate::clock::{now_ns, rfc3339};
use crate::error::ApiResult;
use crate::store::ProcessRec;
use bbs_client::ActualLrpFilter;
use models::actual_lrp::Presence;
use models::actual_lrp_state as bbs_state;
use models::capi::{instance_state, InstanceStats, Usage};
use rep_client::RepClient;
use std::collections::{BTreeMap, BTreeSet};

/// Cloud Controller's instance states from Diego's.
fn state(s: &str) -> &'static str {
    match s {
        bbs_state::RUNNING => instance_state::RUNNING,
        bbs_state::CRASHED => instance_state::CRASHED,
        _ => instance_state::STARTING,
    }
}

/// The instances `0..p.instances` (DOWN where Diego has none) and any
/// beyond still stopping.
pub async fn instance_stats(api: &Api, p: &ProcessRec) -> ApiResult<Vec<InstanceStats>> {
    let guid = p.lrp_guid();
    let actual = api
        .bbs
        .actual_lrps(&ActualLrpFilter::process(&guid))
        .await?;
    // An evacuating copy stands in until its replacement runs.
    let mut by_index: BTreeMap<i32, models::ActualLrp> = BTreeMap::new();
    for a in actual {
        let index = a.actual_lrp_key.as_ref().map_or(-1, |k| k.index);
        let keep = match by_index.get(&index) {
            None => true,
            Some(have) => {
                have.presence != Presence::Ordinary as i32
                    && (a.presence == Presence::Ordinary as i32 && a.state == bbs_state::RUNNING)
            }
        };
        if keep {
            by_index.insert(index, a);
        }
    }
    // Cloud Controller's way first: the latest container metrics in the
    // log store; the cells' reps for instances it has none of.
    let logged = logged_usage(api, p).await;
    let missing = by_index.keys().any(|i| !logged.contains_key(i));
    let usage = if missing {
        usage(api, &guid, &by_index).await
    } else {
        BTreeMap::new()
    };
    let now = now_ns();
    let mut out = Vec::new();
    let indexes: BTreeSet<i32> = (0..p.instances).chain(by_index.keys().copied()).collect();
    for index in indexes {
        let Some(a) = by_index.get(&index) else {
            out.push(InstanceStats {
                index,
                state: instance_state::DOWN.into(),
                ..Default::default()
            });
            continue;
        };
        let net = a.actual_lrp_net_info.clone().unwrap_or_default();
        let ik = a.actual_lrp_instance_key.clone().unwrap_or_default();
        let st = state(&a.state);
        let u = logged
            .get(&index)
            .cloned()
            .or_else(|| usage.get(&ik.instance_guid).map(Sample::from));
        out.push(InstanceStats {
            index,
            state: st.into(),
            since: rfc3339(a.since),
            crash_count: a.crash_count,
            crash_reason: a.crash_reason.clone(),
            placement_error: a.placement_error.clone(),
            uptime: if st == instance_state::RUNNING {
                ((now - a.since).max(0) / 1_000_000_000) as u64
            } else {
                0
            },
            routable: a.state == bbs_state::RUNNING && a.routable() != Some(false),
            host: net.address.clone(),
            port: net.ports.first().map_or(0, |m| m.host_port),
            instance_guid: ik.instance_guid.clone(),
            cell_id: ik.cell_id.clone(),
            usage: u.as_ref().map_or_else(Usage::default, |m| m.usage.clone()),
            mem_quota: u
                .as_ref()
                .and_then(|m| m.mem_quota)
                .unwrap_or(p.memory_mb as u64 * 1024 * 1024),
            disk_quota: u
                .as_ref()
                .and_then(|m| m.disk_quota)
                .unwrap_or(p.disk_mb as u64 * 1024 * 1024),
        });
    }
    Ok(out)
}

/// An instance's latest usage and quotas.
#[derive(Debug, Clone, Default)]
struct Sample {
    usage: Usage,
    mem_quota: Option<u64>,
    disk_quota: Option<u64>,
}

impl From<&models::rep::container_metrics::CachedContainerMetrics> for Sample {
    fn from(m: &models::rep::container_metrics::CachedContainerMetrics) -> Sample {
        Sample {
            usage: Usage {
                cpu: m.cpu_usage_fraction,
                mem: m.memory_usage_bytes,
                disk: m.disk_usage_bytes,
            },
            mem_quota: Some(m.memory_quota_bytes),
            disk_quota: Some(m.disk_quota_bytes),
        }
    }
}

/// How far back container metrics count (Diego reports every 15 s).
const METRICS_WINDOW_NS: i64 = 120 * 1_000_000_000;

/// The process's instances' latest container metrics in the log store, by
/// index, as Cloud Controller reads them from Log Cache: the app's gauge
/// envelopes, those tagged with this process, the newest per instance.
async fn logged_usage(api: &Api, p: &ProcessRec) -> BTreeMap<i32, Sample> {
    use logs_client::pb::envelope::Message;
    let mut out = BTreeMap::new();
    let Some(reader) = &api.logs else {
        return out;
    };
    let opts = logs_client::reader::ReadOptions {
        limit: Some(1000),
        start_time: Some(now_ns() - METRICS_WINDOW_NS),
        envelope_types: vec!["GAUGE".into()],
    };
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        reader.recent(&p.app_guid, &opts),
    );
    let envelopes = match read.await {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            tracing::debug!(error = %format!("{e:#}"), "reading container metrics");
            return out;
        }
        Err(_) => return out,
    };
    // Oldest first: later gauges override earlier ones.
    for env in envelopes {
        let Some(Message::Gauge(g)) = &env.message else {
            continue;
        };
        if env.tags.get("process_id") != Some(&p.guid) {
            continue;
        }
        let Ok(index) = env.instance_id.parse::<i32>() else {
            continue;
        };
        let s: &mut Sample = out.entry(index).or_default();
        for (name, v) in &g.metrics {
            match name.as_str() {
                // Diego's percentage; Cloud Controller's stats a fraction.
                "cpu" => s.usage.cpu = v.value / 100.0,
                "memory" => s.usage.mem = v.value as u64,
                "disk" => s.usage.disk = v.value as u64,
                "memory_quota" => s.mem_quota = Some(v.value as u64),
                "disk_quota" => s.disk_quota = Some(v.value as u64),
                _ => {}
            }
        }
    }
    out
}

/// Container metrics of the LRP's instances, by instance guid, from the
/// cells they run on (a cell that does not answer leaves its instances'
/// usage out).
async fn usage(
    api: &Api,
    lrp_guid: &str,
    instances: &BTreeMap<i32, models::ActualLrp>,
) -> BTreeMap<String, models::rep::container_metrics::CachedContainerMetrics> {
    let cells: BTreeSet<String> = instances
        .values()
        .filter_map(|a| {
            a.actual_lrp_instance_key
                .as_ref()
                .map(|k| k.cell_id.clone())
        })
        .filter(|c| !c.is_empty())
        .collect();
    let mut out = BTreeMap::new();
    if cells.is_empty() {
        return out;
    }
    let Ok(presences) = api.bbs.cells().await else {
        return out;
    };
    let calls = presences
        .iter()
        .filter(|c| cells.contains(&c.cell_id))
        .filter_map(|c| api.reps.client_for(c).ok())
        .map(|rep| async move {
            tokio::time::timeout(std::time::Duration::from_secs(2), rep.container_metrics()).await
        });
    for m in futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .flatten()
    {
        for l in m.lrps {
            if l.process_guid == lrp_guid {
                out.insert(l.instance_guid, l.metrics);
            }
        }
    }
    out
}
