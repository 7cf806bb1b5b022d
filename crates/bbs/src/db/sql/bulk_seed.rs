//! FOR BENCHMARKS ONLY: bulk seeding of a store with a large, converged
//! state (desired LRPs whose instances all run, tasks), many rows per
//! transaction instead of one transaction per state change.
//!
//! The rows are written by the same code as the normal paths
//! (`desired::desire`, `actual::insert`, `tasks::desire`, `tasks::start`)
//! and an actual LRP row is the one `create_unclaimed` → `claim` → `start`
//! leaves behind (RUNNING, modification tag index 2, routable), with what
//! a rep reports for the instance: the desired LRP's internal routes and
//! its metric tags resolved for the instance. A convergence pass over a
//! seeded store with every cell present therefore finds nothing to do.
//!
//! Not for production use: no events, no validation beyond the schema.

use super::ctx::Ctx;
use super::engine::{now_ns, Engine};
use super::{actual, desired, tasks};
use crate::db::{DbResult, RunningInfo};
use models::actual_lrp::Presence;
use models::actual_lrp_net_info::PreferredAddress;
use models::actual_lrp_state::RUNNING;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpInternalRoute, ActualLrpKey, ActualLrpNetInfo,
    DesiredLrp, ModificationTag, PortMapping, TaskDefinition,
};
use sqldb::Backend;

/// Desired LRPs stored per transaction.
const LRPS_PER_TX: usize = 200;
/// Tasks stored per transaction.
const TASKS_PER_TX: usize = 1000;

/// A task to seed: PENDING, or RUNNING on `cell_id` when one is given.
#[derive(Debug, Clone)]
pub struct BenchTask {
    pub task_guid: String,
    pub domain: String,
    pub definition: TaskDefinition,
    pub cell_id: Option<String>,
}

/// What a rep reports when `lrp`'s instance `index` starts on `cell_id`:
/// the desired internal routes and metric tags (resolved), a host address
/// derived from the cell and one port mapping per desired port.
pub fn bench_running_info(
    lrp: &DesiredLrp,
    index: i32,
    instance_guid: &str,
    cell_id: &str,
    n: u64,
) -> RunningInfo {
    let internal_routes = lrp
        .routes
        .as_ref()
        .and_then(|r| r.routes.get("internal-router"))
        .and_then(|raw| {
            #[derive(serde::Deserialize)]
            struct Route {
                #[serde(default)]
                hostname: String,
            }
            serde_json::from_slice::<Option<Vec<Route>>>(raw).ok()
        })
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .map(|r| ActualLrpInternalRoute {
            hostname: r.hostname,
        })
        .collect();
    let metric_tags = models::convert_metric_tags(&lrp.metric_tags, index, instance_guid);
    let host = format!("10.0.{}.{}", (n / 250) % 250, n % 250 + 1);
    let ports = lrp
        .ports
        .iter()
        .enumerate()
        .map(|(i, p)| PortMapping {
            container_port: *p,
            host_port: 61000 + (n % 4000) as u32 + i as u32,
            ..Default::default()
        })
        .collect();
    RunningInfo {
        net_info: ActualLrpNetInfo {
            address: host,
            ports,
            instance_address: format!("10.255.{}.{}", (n / 250) % 250, n % 250 + 1),
            preferred_address: PreferredAddress::Host as i32,
            ..Default::default()
        },
        internal_routes,
        metric_tags,
        routable: Some(true),
        availability_zone: format!("z{}", cell_id.len() % 3 + 1),
    }
}

/// The row `create_unclaimed` → `claim` → `start` leaves for a fresh instance.
fn running_row(
    key: ActualLrpKey,
    instance_key: ActualLrpInstanceKey,
    running: RunningInfo,
    now: i64,
) -> ActualLrp {
    let mut lrp = ActualLrp {
        actual_lrp_key: Some(key),
        actual_lrp_instance_key: Some(instance_key),
        actual_lrp_net_info: Some(running.net_info),
        actual_lrp_internal_routes: running.internal_routes,
        metric_tags: running.metric_tags,
        state: RUNNING.to_string(),
        since: now,
        presence: Presence::Ordinary as i32,
        modification_tag: Some(ModificationTag {
            epoch: super::new_guid(),
            // created (0), claimed (1), started (2)
            index: 2,
        }),
        availability_zone: running.availability_zone,
        ..Default::default()
    };
    lrp.set_routable(running.routable.unwrap_or(true));
    lrp
}

async fn seed_lrp_chunk<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    chunk: &[DesiredLrp],
    cells: &[String],
    counter: &mut u64,
    now: i64,
) -> DbResult<u64> {
    let mut rows = 0;
    for lrp in chunk {
        desired::desire(cx, conn, lrp, now).await?;
        for index in 0..lrp.instances.max(0) {
            let n = *counter;
            *counter += 1;
            let cell_id = &cells[(n % cells.len() as u64) as usize];
            let instance_guid = super::new_guid();
            let running = bench_running_info(lrp, index, &instance_guid, cell_id, n);
            let row = running_row(
                ActualLrpKey {
                    process_guid: lrp.process_guid.clone(),
                    index,
                    domain: lrp.domain.clone(),
                },
                ActualLrpInstanceKey {
                    instance_guid,
                    cell_id: cell_id.clone(),
                },
                running,
                now,
            );
            actual::insert(cx, conn, &row).await?;
            rows += 1;
        }
    }
    Ok(rows)
}

impl<B: Backend> Engine<B> {
    /// FOR BENCHMARKS ONLY. Stores the desired LRPs and, for each, its
    /// `instances` RUNNING ordinary actual LRPs, spread round-robin over
    /// `cells` (instance n of the whole seeding on `cells[n % len]`), in
    /// transactions of a few hundred desired LRPs. Rows are those the
    /// normal paths write (see the module doc). Returns the number of
    /// actual LRPs stored.
    pub(crate) async fn seed_running_lrps_for_bench(
        &self,
        lrps: &[DesiredLrp],
        cells: &[String],
    ) -> DbResult<u64> {
        if cells.is_empty() {
            return Err(models::BbsError::invalid_request("no cells to seed onto"));
        }
        let now = now_ns();
        let mut counter = 0u64;
        let mut total = 0u64;
        for chunk in lrps.chunks(LRPS_PER_TX) {
            let _guard = match &self.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let mut tx = self.pool.begin().await.map_err(|e| self.cx.err(e))?;
            total += seed_lrp_chunk(&self.cx, &mut tx, chunk, cells, &mut counter, now).await?;
            tx.commit().await.map_err(|e| self.cx.err(e))?;
        }
        Ok(total)
    }

    /// FOR BENCHMARKS ONLY. Stores the tasks (PENDING, then started on
    /// their cell when one is given) in transactions of a thousand.
    /// Returns the number of tasks stored.
    pub(crate) async fn seed_tasks_for_bench(&self, list: &[BenchTask]) -> DbResult<u64> {
        let now = now_ns();
        let mut total = 0u64;
        for chunk in list.chunks(TASKS_PER_TX) {
            let _guard = match &self.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let mut tx = self.pool.begin().await.map_err(|e| self.cx.err(e))?;
            for t in chunk {
                tasks::desire(
                    &self.cx,
                    &mut tx,
                    &t.definition,
                    &t.task_guid,
                    &t.domain,
                    now,
                )
                .await?;
                if let Some(cell) = &t.cell_id {
                    tasks::start(&self.cx, &mut tx, &t.task_guid, cell, now).await?;
                }
                total += 1;
            }
            tx.commit().await.map_err(|e| self.cx.err(e))?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{CellSet, EncryptionConfig, SqlStore, StoreConfig};
    use models::metric_tag_value::DynamicValue;
    use models::{MetricTagValue, ProtoRoutes};
    use std::collections::BTreeMap;

    fn lrp(i: u32, instances: i32) -> DesiredLrp {
        let mut routes = BTreeMap::new();
        routes.insert(
            "internal-router".to_string(),
            format!(r#"[{{"hostname":"a{i}.apps.internal"}}]"#).into_bytes(),
        );
        DesiredLrp {
            process_guid: format!("g-{i}"),
            domain: "d".into(),
            root_fs: "preloaded:cflinuxfs4".into(),
            instances,
            memory_mb: 64,
            disk_mb: 64,
            log_guid: "l".into(),
            ports: vec![8080],
            routes: Some(ProtoRoutes { routes }),
            metric_tags: [
                (
                    "source_id".to_string(),
                    MetricTagValue {
                        r#static: format!("s{i}"),
                        ..Default::default()
                    },
                ),
                (
                    "instance_id".to_string(),
                    MetricTagValue {
                        r#static: String::new(),
                        dynamic: DynamicValue::Index as i32,
                    },
                ),
                (
                    "process_instance_id".to_string(),
                    MetricTagValue {
                        r#static: String::new(),
                        dynamic: DynamicValue::InstanceGuid as i32,
                    },
                ),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn seeded_state_is_converged_and_matches_the_normal_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::connect(&StoreConfig {
            url: format!("sqlite://{}", dir.path().join("s.db").display()),
            max_open_connections: 4,
            encryption: EncryptionConfig::single("k", "pass"),
        })
        .await
        .unwrap();
        store.upsert_domain("d", 0).await.unwrap();
        let cells: Vec<String> = (0..7).map(|i| format!("cell-{i}")).collect();
        let lrps: Vec<DesiredLrp> = (0..450).map(|i| lrp(i, 3)).collect();
        let n = store
            .seed_running_lrps_for_bench(&lrps, &cells)
            .await
            .unwrap();
        assert_eq!(n, 1350);
        let all: CellSet = cells.iter().cloned().collect();
        let r = store.converge_lrps(&all, now_ns()).await;
        assert_eq!(r, crate::db::ConvergenceResult::default());

        // Same shape as an instance started through claim + start.
        let seeded = store
            .actual_lrps(&crate::db::ActualLrpFilter {
                process_guid: "g-1".into(),
                index: Some(2),
                ..Default::default()
            })
            .await
            .unwrap()
            .remove(0);
        assert_eq!(seeded.state, RUNNING);
        assert_eq!(seeded.routable(), Some(true));
        assert_eq!(seeded.modification_tag.as_ref().unwrap().index, 2);
        assert_eq!(seeded.metric_tags["instance_id"], "2");
        assert_eq!(
            seeded.metric_tags["process_instance_id"],
            seeded.instance_key().instance_guid
        );
        let extra = lrp(9999, 1);
        store.desire_lrp(&extra).await.unwrap();
        let key = ActualLrpKey {
            process_guid: extra.process_guid.clone(),
            index: 0,
            domain: "d".into(),
        };
        let ik = ActualLrpInstanceKey {
            instance_guid: "ig".into(),
            cell_id: "cell-1".into(),
        };
        store.create_unclaimed_actual_lrp(&key).await.unwrap();
        store
            .claim_actual_lrp(&key.process_guid, 0, &ik)
            .await
            .unwrap();
        let running = bench_running_info(&extra, 0, "ig", "cell-1", 1);
        let (_, normal) = store.start_actual_lrp(&key, &ik, &running).await.unwrap();
        assert_eq!(normal.modification_tag.as_ref().unwrap().index, 2);
        assert_eq!(normal.routable(), seeded.routable());
        assert_eq!(normal.presence, seeded.presence);
        let r = store.converge_lrps(&all, now_ns()).await;
        assert_eq!(r, crate::db::ConvergenceResult::default());

        // One cell gone: exactly its instances are reported.
        let present: CellSet = cells.iter().skip(1).cloned().collect();
        let r = store.converge_lrps(&present, now_ns()).await;
        let on_cell0 = store
            .actual_lrps(&crate::db::ActualLrpFilter {
                cell_id: "cell-0".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!on_cell0.is_empty());
        assert_eq!(r.keys_with_missing_cells.len(), on_cell0.len());
        assert_eq!(r.missing_cell_ids, vec!["cell-0".to_string()]);

        // Tasks.
        let tasks: Vec<BenchTask> = (0..1500)
            .map(|i| BenchTask {
                task_guid: format!("t-{i}"),
                domain: "d".into(),
                definition: TaskDefinition {
                    root_fs: "preloaded:cflinuxfs4".into(),
                    ..Default::default()
                },
                cell_id: (i % 2 == 0).then(|| "cell-2".to_string()),
            })
            .collect();
        assert_eq!(store.seed_tasks_for_bench(&tasks).await.unwrap(), 1500);
        let r = store
            .converge_tasks(
                &all,
                std::time::Duration::from_secs(30),
                std::time::Duration::from_secs(1800),
                std::time::Duration::from_secs(120),
                now_ns(),
            )
            .await;
        // Nothing changes; the (fresh) pending tasks are auctioned again.
        assert!(r.changed.is_empty() && r.removed.is_empty());
        assert_eq!(r.tasks_to_auction.len(), 750);
        assert_eq!(r.metrics.pending, 750);
        assert_eq!(r.metrics.running, 750);
    }

    /// The desired-LRP caches (scheduling infos, convergence drift data)
    /// must follow updates: a second read after an update sees it.
    #[tokio::test]
    async fn cached_desired_data_follows_updates() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::connect(&StoreConfig {
            url: format!("sqlite://{}", dir.path().join("s.db").display()),
            max_open_connections: 2,
            encryption: EncryptionConfig::single("k", "pass"),
        })
        .await
        .unwrap();
        store.upsert_domain("d", 0).await.unwrap();
        let cells = vec!["cell-0".to_string()];
        let lrps: Vec<DesiredLrp> = (0..4).map(|i| lrp(i, 2)).collect();
        store
            .seed_running_lrps_for_bench(&lrps, &cells)
            .await
            .unwrap();
        let present: CellSet = cells.iter().cloned().collect();
        let all = crate::db::DesiredLrpFilter::default();
        // Warm the caches.
        assert_eq!(
            store
                .desired_lrp_scheduling_infos(&all)
                .await
                .unwrap()
                .len(),
            4
        );
        let r = store.converge_lrps(&present, now_ns()).await;
        assert!(r.keys_with_internal_route_changes.is_empty());

        let mut routes = lrps[1].routes.clone().unwrap();
        routes.routes.insert(
            "internal-router".into(),
            br#"[{"hostname":"moved.apps.internal"}]"#.to_vec(),
        );
        let update = models::DesiredLrpUpdate {
            optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(5)),
            routes: Some(routes),
            ..Default::default()
        };
        store.update_desired_lrp("g-1", &update).await.unwrap();
        store.remove_desired_lrp("g-3").await.unwrap();

        let infos = store.desired_lrp_scheduling_infos(&all).await.unwrap();
        assert_eq!(infos.len(), 3);
        let g1 = infos
            .iter()
            .find(|i| i.desired_lrp_key.as_ref().unwrap().process_guid == "g-1")
            .unwrap();
        assert_eq!(g1.instances, 5);
        let r = store.converge_lrps(&present, now_ns()).await;
        let moved: Vec<_> = r
            .keys_with_internal_route_changes
            .iter()
            .map(|k| (k.key.process_guid.as_str(), k.key.index))
            .collect();
        assert_eq!(moved, vec![("g-1", 0), ("g-1", 1)]);
        assert_eq!(
            r.keys_with_internal_route_changes[0].desired_internal_routes[0].hostname,
            "moved.apps.internal"
        );
        let missing: Vec<_> = r.missing_lrp_keys.iter().map(|k| k.key.index).collect();
        assert_eq!(missing, vec![2, 3, 4]);
        assert_eq!(r.missing_lrp_keys[0].scheduling_info.instances, 5);
        // g-3's instances are orphans now.
        assert_eq!(r.keys_to_retire.len(), 2);
    }
}
