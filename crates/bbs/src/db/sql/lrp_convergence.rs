//! LRP convergence (Diego's `db/sqldb/lrp_convergence.go`), set-based: the
//! pass prunes expired domains and the EVACUATING rows of absent cells,
//! then reads the desired LRPs (scheduling columns) and the actual LRPs
//! (key, state and placement columns) once each and applies every rule in
//! memory. Internal routes and metric tags are only read (and decrypted)
//! for RUNNING ordinary rows, the only ones the drift rules look at.

use super::actual::{delete, fetch_for_update, update};
use super::args::{in_list, IN_CHUNK};
use super::codec::{decode_internal_routes, decode_metric_tags, decode_proto, decode_string_map};
use super::{desired, domains, Ctx};
use crate::db::{
    CellSet, ConvergenceResult, DbResult, DesiredLrpFilter, KeyWithInternalRoutes,
    KeyWithMetricTags, KeyWithSchedulingInfo,
};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use models::metric_tag_value::DynamicValue;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpInternalRoute, ActualLrpKey,
    DesiredLrpSchedulingInfo, MetricTagValue, ProtoRoutes, RestartCalculator,
};
use rustc_hash::FxHashMap;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Diego's StaleUnclaimedActualLRPDuration.
pub const STALE_UNCLAIMED_ACTUAL_LRP_DURATION_NS: i64 = 30_000_000_000;

/// The router group whose routes are an instance's internal routes.
const INTERNAL_ROUTER: &str = "internal-router";

fn guid_of(info: &DesiredLrpSchedulingInfo) -> &str {
    info.desired_lrp_key
        .as_ref()
        .map(|k| k.process_guid.as_str())
        .unwrap_or("")
}

/// The columns of an actual LRP row as read from the table.
struct SqlRow {
    process_guid: String,
    index: i32,
    presence: i32,
    domain: String,
    state: String,
    instance_guid: String,
    cell_id: String,
    since: i64,
    crash_count: i32,
    internal_routes: Option<Vec<ActualLrpInternalRoute>>,
    metric_tags: Option<BTreeMap<String, String>>,
}

impl SqlRow {
    fn view(&self) -> ConvergenceRow<'_> {
        ConvergenceRow {
            process_guid: &self.process_guid,
            index: self.index,
            presence: self.presence,
            domain: &self.domain,
            state: &self.state,
            instance_guid: &self.instance_guid,
            cell_id: &self.cell_id,
            since: self.since,
            crash_count: self.crash_count,
            internal_routes: self.internal_routes.as_deref(),
            metric_tags: self.metric_tags.as_ref(),
        }
    }
}

/// What the rules read of an actual LRP row (from the table, or borrowed
/// from the LRP cache's records without copying them).
pub(crate) struct ConvergenceRow<'a> {
    pub process_guid: &'a str,
    pub index: i32,
    pub presence: i32,
    pub domain: &'a str,
    pub state: &'a str,
    pub instance_guid: &'a str,
    pub cell_id: &'a str,
    pub since: i64,
    pub crash_count: i32,
    /// Only read for RUNNING ordinary rows; None when the stored value does
    /// not decode (the check is skipped).
    pub internal_routes: Option<&'a [ActualLrpInternalRoute]>,
    /// As `internal_routes`; empty when the instance reported none.
    pub metric_tags: Option<&'a BTreeMap<String, String>>,
}

impl ConvergenceRow<'_> {
    fn key(&self) -> ActualLrpKey {
        ActualLrpKey {
            process_guid: self.process_guid.to_string(),
            index: self.index,
            domain: self.domain.to_string(),
        }
    }
}

/// Deletes domains whose expiry has passed (Diego's pruneDomains).
pub(crate) async fn prune_domains(cx: &Ctx, conn: &mut AnyConnection, now: i64) -> DbResult<u64> {
    let sql = cx.sql("DELETE FROM domains WHERE expire_time <= ?");
    let r = sqlx::query(&sql)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    Ok(r.rows_affected())
}

/// The EVACUATING rows on cells outside `cells` (every EVACUATING row when
/// `cells` is empty, as Diego does).
pub(crate) async fn evacuating_on_absent_cells(
    cx: &Ctx,
    conn: &mut AnyConnection,
    cells: &CellSet,
) -> DbResult<Vec<(String, i32)>> {
    let sql = cx.sql(
        "SELECT process_guid, instance_index, cell_id FROM actual_lrps WHERE presence = ? \
         ORDER BY process_guid, instance_index",
    );
    let rows = sqlx::query(&sql)
        .bind(Presence::Evacuating as i32)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    let mut out = Vec::new();
    for r in &rows {
        let cell: String = r.try_get(2).map_err(|e| cx.err(e))?;
        if cells.is_empty() || !cells.contains(&cell) {
            out.push((
                r.try_get(0).map_err(|e| cx.err(e))?,
                r.try_get(1).map_err(|e| cx.err(e))?,
            ));
        }
    }
    Ok(out)
}

/// Deletes the given EVACUATING rows (re-checking their cell under the
/// row lock) and returns what was deleted.
pub(crate) async fn delete_evacuating(
    cx: &Ctx,
    conn: &mut AnyConnection,
    keys: &[(String, i32)],
    cells: &CellSet,
) -> DbResult<Vec<ActualLrp>> {
    let mut removed = Vec::new();
    for (guid, index) in keys {
        let lrp = match fetch_for_update(cx, conn, guid, *index, Presence::Evacuating).await {
            Ok(l) => l,
            Err(e) if crate::errors::is_not_found(&e) => continue,
            Err(e) => return Err(e),
        };
        if !cells.is_empty() && cells.contains(lrp.cell_id()) {
            continue;
        }
        delete(cx, conn, guid, *index, Presence::Evacuating as i32).await?;
        removed.push(lrp);
    }
    Ok(removed)
}

/// Names of the domains still in the table (after pruning).
async fn domain_names(cx: &Ctx, conn: &mut AnyConnection) -> DbResult<BTreeSet<String>> {
    let rows = sqlx::query(&cx.sql("SELECT domain FROM domains"))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(|e| cx.err(e)))
        .collect()
}

async fn actual_rows(cx: &Ctx, conn: &mut AnyConnection) -> DbResult<Vec<SqlRow>> {
    let sql = cx.sql(
        "SELECT process_guid, instance_index, presence, domain, state, instance_guid, cell_id, \
         since, crash_count, \
         CASE WHEN state = ? AND presence = ? THEN internal_routes ELSE '' END, \
         CASE WHEN state = ? AND presence = ? THEN metric_tags ELSE '' END \
         FROM actual_lrps ORDER BY process_guid, instance_index, presence",
    );
    let rows = sqlx::query(&sql)
        .bind(RUNNING)
        .bind(Presence::Ordinary as i32)
        .bind(RUNNING)
        .bind(Presence::Ordinary as i32)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    let g = |e: sqlx::Error| cx.err(e);
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let process_guid: String = r.try_get(0).map_err(g)?;
        let routes = r
            .try_get::<Option<String>, _>(9)
            .map_err(g)?
            .unwrap_or_default();
        let tags = r
            .try_get::<Option<String>, _>(10)
            .map_err(g)?
            .unwrap_or_default();
        let internal_routes = decode_internal_routes(&cx.enc, &routes)
            .map_err(|e| {
                tracing::warn!(process_guid = %process_guid, error = %e,
                    "failed-parsing-actual-routes")
            })
            .ok();
        let metric_tags = decode_string_map(&cx.enc, &tags)
            .map_err(|e| {
                tracing::warn!(process_guid = %process_guid, error = %e,
                    "failed-parsing-actual-metric-tags")
            })
            .ok();
        out.push(SqlRow {
            process_guid,
            index: r.try_get(1).map_err(g)?,
            presence: r.try_get(2).map_err(g)?,
            domain: r.try_get(3).map_err(g)?,
            state: r.try_get(4).map_err(g)?,
            instance_guid: r.try_get(5).map_err(g)?,
            cell_id: r.try_get(6).map_err(g)?,
            since: r.try_get(7).map_err(g)?,
            crash_count: r.try_get(8).map_err(g)?,
            internal_routes,
            metric_tags,
        });
    }
    Ok(out)
}

/// What the drift rules compare a desired LRP's RUNNING instances with:
/// its internal routes and metric tags (None when either does not parse).
/// `routes_ok` is false when the routes column does not decode at all:
/// such a row is skipped, as the scheduling info list skips it.
pub(crate) struct DesiredDrift {
    routes_ok: bool,
    expected: Option<(Vec<String>, BTreeMap<String, MetricTagValue>)>,
}

fn decode_drift(cx: &Ctx, guid: &str, routes: &str, metric_tags: &str) -> DesiredDrift {
    let routes = match decode_proto::<ProtoRoutes>(&cx.enc, "routes", routes) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(process_guid = guid, error = %e, "skipping undecodable desired LRP row");
            return DesiredDrift {
                routes_ok: false,
                expected: None,
            };
        }
    };
    let tags = decode_metric_tags(&cx.enc, metric_tags)
        .map_err(|e| {
            tracing::warn!(process_guid = guid, error = %e, "failed-parsing-desired-metric-tags");
        })
        .ok();
    DesiredDrift::from_parts(guid, &routes, tags)
}

impl DesiredDrift {
    /// The drift data of a desired LRP from its decoded routes and metric
    /// tags (None: the tags did not decode).
    pub(crate) fn from_parts(
        guid: &str,
        routes: &ProtoRoutes,
        tags: Option<BTreeMap<String, MetricTagValue>>,
    ) -> DesiredDrift {
        let internal = desired_internal_routes(routes)
            .map_err(|e| {
                tracing::warn!(process_guid = guid, error = %e,
                    "failed-getting-internal-routes-from-desired");
            })
            .ok();
        DesiredDrift {
            routes_ok: true,
            expected: internal.zip(tags),
        }
    }
}

/// The columns of a desired LRP row as read from the table.
struct SqlDesired {
    process_guid: String,
    domain: String,
    instances: i32,
    drift: Arc<DesiredDrift>,
}

impl SqlDesired {
    fn view(&self) -> ConvergenceDesired<'_> {
        ConvergenceDesired {
            process_guid: &self.process_guid,
            domain: &self.domain,
            instances: self.instances,
            drift: &self.drift,
        }
    }
}

/// What the rules read of a desired LRP. Full scheduling infos are read
/// afterwards, only for the desired LRPs that have work.
pub(crate) struct ConvergenceDesired<'a> {
    pub process_guid: &'a str,
    pub domain: &'a str,
    pub instances: i32,
    pub drift: &'a DesiredDrift,
}

/// Every desired LRP (by process guid): keys and tags from the table, the
/// drift data from the cache, decoded (decrypted) only for rows whose
/// modification tag changed since the last pass.
async fn desired_rows(cx: &Ctx, conn: &mut AnyConnection) -> DbResult<Vec<SqlDesired>> {
    let sql = cx.sql(
        "SELECT process_guid, domain, instances, modification_tag_epoch, \
         modification_tag_index FROM desired_lrps ORDER BY process_guid",
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    let g = |e: sqlx::Error| cx.err(e);
    let cache = &cx.drift_cache;
    let mut keys = Vec::with_capacity(rows.len());
    let mut misses: Vec<String> = Vec::new();
    for r in &rows {
        let guid: String = r.try_get(0).map_err(g)?;
        let epoch: String = r.try_get(3).map_err(g)?;
        let index = r.try_get::<i64, _>(4).map_err(g)? as u32;
        let hit = cache.get(&guid, &epoch, index);
        if hit.is_none() {
            misses.push(guid.clone());
        }
        keys.push((
            guid,
            r.try_get::<String, _>(1).map_err(g)?,
            r.try_get::<i32, _>(2).map_err(g)?,
            hit,
        ));
    }
    drop(rows);
    let mut fetched: HashMap<String, Arc<DesiredDrift>> = HashMap::new();
    if !misses.is_empty() {
        const COLUMNS: &str =
            "process_guid, modification_tag_epoch, modification_tag_index, routes, metric_tags";
        // Mostly cold: one scan beats many IN lists.
        let chunks: Vec<&[String]> = if misses.len() * 2 > keys.len() {
            vec![&[]]
        } else {
            misses.chunks(IN_CHUNK).collect()
        };
        for chunk in chunks {
            let sql = if chunk.is_empty() {
                format!("SELECT {COLUMNS} FROM desired_lrps")
            } else {
                format!(
                    "SELECT {COLUMNS} FROM desired_lrps WHERE {}",
                    in_list("process_guid", chunk.len())
                )
            };
            let sql = cx.sql(&sql);
            let mut q = sqlx::query(&sql);
            for guid in chunk {
                q = q.bind(guid.as_str());
            }
            let rows = q.fetch_all(&mut *conn).await.map_err(|e| cx.err(e))?;
            for r in &rows {
                let guid: String = r.try_get(0).map_err(g)?;
                let epoch: String = r.try_get(1).map_err(g)?;
                let index = r.try_get::<i64, _>(2).map_err(g)? as u32;
                let routes: String = r.try_get(3).map_err(g)?;
                let tags: String = r
                    .try_get::<Option<String>, _>(4)
                    .map_err(g)?
                    .unwrap_or_default();
                let drift = Arc::new(decode_drift(cx, &guid, &routes, &tags));
                cache.put(&guid, &epoch, index, drift.clone());
                fetched.insert(guid, drift);
            }
        }
        cache.retain(&keys.iter().map(|k| k.0.as_str()).collect());
    }
    Ok(keys
        .into_iter()
        .filter_map(|(process_guid, domain, instances, hit)| {
            // Removed since the keys were read: skipped.
            let drift = hit.or_else(|| fetched.get(&process_guid).cloned())?;
            drift.routes_ok.then_some(SqlDesired {
                process_guid,
                domain,
                instances,
                drift,
            })
        })
        .collect())
}

/// The keys with their scheduling infos (read now for just these desired
/// LRPs), in order; a desired LRP removed meanwhile drops its keys.
async fn with_scheduling_infos(
    cx: &Ctx,
    conn: &mut AnyConnection,
    lists: [&[ActualLrpKey]; 4],
) -> DbResult<[Vec<KeyWithSchedulingInfo>; 4]> {
    let guids: BTreeSet<&str> = lists
        .iter()
        .flat_map(|l| l.iter().map(|k| k.process_guid.as_str()))
        .collect();
    let mut out: [Vec<KeyWithSchedulingInfo>; 4] = Default::default();
    if guids.is_empty() {
        return Ok(out);
    }
    let filter = DesiredLrpFilter {
        process_guids: guids.into_iter().map(str::to_string).collect(),
        ..Default::default()
    };
    let infos = desired::scheduling_infos(cx, conn, &filter).await?;
    let by_guid: HashMap<&str, &DesiredLrpSchedulingInfo> =
        infos.iter().map(|i| (guid_of(i), i)).collect();
    for (list, out) in lists.iter().zip(out.iter_mut()) {
        out.extend(list.iter().filter_map(|k| {
            by_guid
                .get(k.process_guid.as_str())
                .map(|i| KeyWithSchedulingInfo {
                    key: k.clone(),
                    scheduling_info: (*i).clone(),
                })
        }));
    }
    Ok(out)
}

/// Diego's InternalRoutesFromRoutingInfo: the `internal-router` routes.
fn desired_internal_routes(routes: &ProtoRoutes) -> Result<Vec<String>, String> {
    let Some(data) = routes.routes.get(INTERNAL_ROUTER) else {
        return Ok(Vec::new());
    };
    #[derive(serde::Deserialize)]
    struct Route {
        #[serde(default)]
        hostname: String,
    }
    let routes: Option<Vec<Route>> = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    Ok(routes
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.hostname)
        .collect())
}

/// Order-insensitive comparison (Diego's InternalRoutes.Equal).
fn same_routes(actual: &[ActualLrpInternalRoute], desired: &[String]) -> bool {
    if actual.len() != desired.len() {
        return false;
    }
    let have: BTreeSet<&str> = actual.iter().map(|r| r.hostname.as_str()).collect();
    desired.iter().all(|h| have.contains(h.as_str()))
}

/// Diego's ConvertMetricTags for one instance.
fn resolve_metric_tags(
    tags: &BTreeMap<String, MetricTagValue>,
    index: i32,
    instance_guid: &str,
) -> BTreeMap<String, String> {
    tags.iter()
        .map(|(k, v)| {
            let value = match v.dynamic() {
                DynamicValue::Index => index.to_string(),
                DynamicValue::InstanceGuid => instance_guid.to_string(),
                _ => v.r#static.clone(),
            };
            (k.clone(), value)
        })
        .collect()
}

/// `actual == resolve_metric_tags(desired, index, instance_guid)` without
/// building the resolved map (the check runs for every RUNNING instance).
fn metric_tags_match(
    actual: &BTreeMap<String, String>,
    desired: &BTreeMap<String, MetricTagValue>,
    index: i32,
    instance_guid: &str,
) -> bool {
    actual.len() == desired.len()
        && actual.iter().zip(desired).all(|((ak, av), (dk, dv))| {
            ak == dk
                && match dv.dynamic() {
                    DynamicValue::Index => *av == index.to_string(),
                    DynamicValue::InstanceGuid => av == instance_guid,
                    _ => *av == dv.r#static,
                }
        })
}

/// Reads the state and applies Diego's LRP convergence rules. Only reads;
/// `fresh_domains` must be computed after pruning.
pub(crate) async fn analyze(
    cx: &Ctx,
    conn: &mut AnyConnection,
    cells: &CellSet,
    fresh_domains: &BTreeSet<String>,
    now: i64,
    result: &mut ConvergenceResult,
) -> DbResult<()> {
    let known_domains = domain_names(cx, conn).await?;
    let desired = desired_rows(cx, conn).await?;
    let rows = actual_rows(cx, conn).await?;
    let desired: Vec<ConvergenceDesired> = desired.iter().map(SqlDesired::view).collect();
    let rows: Vec<ConvergenceRow> = rows.iter().map(SqlRow::view).collect();
    let lists = apply_rules(
        &known_domains,
        &desired,
        &rows,
        cells,
        fresh_domains,
        now,
        result,
    );
    let [a, b, c, d] = &lists;
    let with_infos = with_scheduling_infos(cx, conn, [a, b, c, d]).await?;
    attach_scheduling_infos(result, with_infos);
    Ok(())
}

/// Adds the four lists `apply_rules` returned, now with their scheduling
/// infos, to the result (in Diego's order).
pub(crate) fn attach_scheduling_infos(
    result: &mut ConvergenceResult,
    [missing_cell_keys, unstarted_stale, missing_keys, unstarted_crashed]: [Vec<KeyWithSchedulingInfo>;
        4],
) {
    result.keys_with_missing_cells.extend(missing_cell_keys);
    result.missing_lrp_keys.extend(missing_keys);
    result.unstarted_lrp_keys.extend(unstarted_stale);
    result.unstarted_lrp_keys.extend(unstarted_crashed);
}

/// Diego's LRP convergence rules over the desired LRPs and actual LRP rows
/// (ordered by process guid, index, presence). Fills `result` except for
/// the keys that need scheduling infos, returned as [missing cells, stale
/// unclaimed, missing indices, restartable crashed].
pub(crate) fn apply_rules(
    known_domains: &BTreeSet<String>,
    desired: &[ConvergenceDesired<'_>],
    rows: &[ConvergenceRow<'_>],
    cells: &CellSet,
    fresh_domains: &BTreeSet<String>,
    now: i64,
    result: &mut ConvergenceResult,
) -> [Vec<ActualLrpKey>; 4] {
    let by_guid: FxHashMap<&str, &ConvergenceDesired> =
        desired.iter().map(|d| (d.process_guid, d)).collect();
    // The key of an instance of a desired LRP (its scheduling info is
    // attached at the end).
    let key_of = |row: &ConvergenceRow, d: &ConvergenceDesired| ActualLrpKey {
        process_guid: d.process_guid.to_string(),
        index: row.index,
        domain: d.domain.to_string(),
    };
    let mut missing_cell_keys: Vec<ActualLrpKey> = Vec::new();
    let ordinary = Presence::Ordinary as i32;
    let suspect = Presence::Suspect as i32;
    let calc = RestartCalculator::default();
    let stale_before = now - STALE_UNCLAIMED_ACTUAL_LRP_DURATION_NS;

    // Per process guid: the ordinary indices (for instance counts).
    // Rows come in (guid, index, presence) order: each list is ascending
    // with one entry per index (a Vec is far cheaper than a set here).
    let mut ordinary_indices: FxHashMap<&str, Vec<i32>> = FxHashMap::default();
    // (guid, index) -> RUNNING rows among ordinary + suspect.
    let mut running_pairs: FxHashMap<(&str, i32, &str), u32> = FxHashMap::default();
    let mut missing_cells: BTreeSet<String> = BTreeSet::new();
    let mut unstarted_stale = Vec::new();
    let mut unstarted_crashed = Vec::new();
    let mut orphan_suspects = Vec::new();
    for row in rows {
        let info: Option<&ConvergenceDesired> = by_guid.get(row.process_guid).copied();
        if row.presence == ordinary {
            ordinary_indices
                .entry(row.process_guid)
                .or_default()
                .push(row.index);
        }
        if (row.presence == ordinary || row.presence == suspect) && row.state == RUNNING {
            *running_pairs
                .entry((row.process_guid, row.index, row.domain))
                .or_default() += 1;
        }

        // Missing cells: CLAIMED/RUNNING rows of any presence with a desired LRP.
        if let Some(info) = info {
            if (row.state == RUNNING || row.state == CLAIMED)
                && (cells.is_empty() || (!cells.contains(row.cell_id) && !row.cell_id.is_empty()))
            {
                if row.presence == ordinary {
                    missing_cell_keys.push(key_of(row, info));
                }
                missing_cells.insert(row.cell_id.to_string());
            }
        }

        if row.presence == ordinary {
            match info {
                Some(info) => {
                    if row.state == UNCLAIMED && row.since < stale_before {
                        unstarted_stale.push(key_of(row, info));
                    }
                    if row.state == CRASHED {
                        let lrp = ActualLrp {
                            state: CRASHED.to_string(),
                            since: row.since,
                            crash_count: row.crash_count,
                            ..Default::default()
                        };
                        if lrp.should_restart_crash(now, &calc) {
                            unstarted_crashed.push(key_of(row, info));
                        }
                    }
                    if row.state == RUNNING {
                        if let Some((routes, tags)) = &info.drift.expected {
                            check_drift(row, routes, tags, result);
                        }
                    }
                }
                None => {
                    // Orphans, only in domains that still exist.
                    if known_domains.contains(row.domain) {
                        result.keys_to_retire.push(row.key());
                    }
                }
            }
        } else if row.presence == suspect {
            if info.is_none() && known_domains.contains(row.domain) {
                orphan_suspects.push(row.key());
            }
            if !cells.is_empty() && cells.contains(row.cell_id) {
                result.suspect_keys_with_existing_cells.push(row.key());
            }
            if row.state == RUNNING {
                result.suspect_running_keys.push(row.key());
            } else if row.state == CLAIMED {
                result.suspect_claimed_keys.push(row.key());
            }
        }
    }

    result.missing_cell_ids = missing_cells.into_iter().collect();

    // Instance counts (only desired LRPs whose ordinary count differs).
    // Kept cheap for ordered input, correct for any.
    for v in ordinary_indices.values_mut() {
        if !v.is_sorted() {
            v.sort_unstable();
        }
        v.dedup();
    }
    let empty = Vec::new();
    let mut extra = Vec::new();
    let mut missing_keys = Vec::new();
    for d in desired {
        let existing = ordinary_indices.get(d.process_guid).unwrap_or(&empty);
        if existing.len() as i64 == i64::from(d.instances) {
            continue;
        }
        for index in 0..d.instances.max(0) {
            if existing.binary_search(&index).is_err() {
                missing_keys.push(ActualLrpKey {
                    process_guid: d.process_guid.to_string(),
                    index,
                    domain: d.domain.to_string(),
                });
            }
        }
        // Destructive only for fresh domains.
        if fresh_domains.contains(d.domain) {
            let first_extra = existing.partition_point(|&i| i < d.instances.max(0));
            for &index in &existing[first_extra..] {
                extra.push(ActualLrpKey {
                    process_guid: d.process_guid.to_string(),
                    index,
                    domain: d.domain.to_string(),
                });
            }
        }
    }
    // Diego lists the extras before the orphans.
    extra.append(&mut result.keys_to_retire);
    result.keys_to_retire = extra;

    // Suspects to remove: orphans, then those whose ordinary also runs.
    result.suspect_keys_to_retire.extend(orphan_suspects);
    let mut extra_suspects: Vec<ActualLrpKey> = running_pairs
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|((guid, index, domain), _)| ActualLrpKey {
            process_guid: guid.to_string(),
            index,
            domain: domain.to_string(),
        })
        .collect();
    extra_suspects.sort_by(|a, b| (&a.process_guid, a.index).cmp(&(&b.process_guid, b.index)));
    result.suspect_keys_to_retire.extend(extra_suspects);

    [
        missing_cell_keys,
        unstarted_stale,
        missing_keys,
        unstarted_crashed,
    ]
}

fn check_drift(
    row: &ConvergenceRow<'_>,
    desired_routes: &[String],
    desired_tags: &BTreeMap<String, MetricTagValue>,
    result: &mut ConvergenceResult,
) {
    let instance_key = ActualLrpInstanceKey {
        instance_guid: row.instance_guid.to_string(),
        cell_id: row.cell_id.to_string(),
    };
    if let Some(actual) = row.internal_routes {
        if !same_routes(actual, desired_routes) {
            result
                .keys_with_internal_route_changes
                .push(KeyWithInternalRoutes {
                    key: row.key(),
                    instance_key: instance_key.clone(),
                    desired_internal_routes: desired_routes
                        .iter()
                        .map(|h| ActualLrpInternalRoute {
                            hostname: h.clone(),
                        })
                        .collect(),
                });
        }
    }
    // Instances that reported no metric tags are left alone (Diego's nil map).
    if let Some(actual) = row.metric_tags.filter(|t| !t.is_empty()) {
        if !metric_tags_match(actual, desired_tags, row.index, row.instance_guid) {
            result.keys_with_metric_tag_changes.push(KeyWithMetricTags {
                key: row.key(),
                instance_key,
                desired_metric_tags: resolve_metric_tags(
                    desired_tags,
                    row.index,
                    row.instance_guid,
                ),
            });
        }
    }
}

/// Promotes the SUSPECT row of an index to ordinary, deleting the ordinary
/// replacement if there is one (Diego's PromoteSuspectActualLRP).
pub(crate) async fn promote_suspect(
    cx: &Ctx,
    conn: &mut AnyConnection,
    process_guid: &str,
    index: i32,
) -> DbResult<(ActualLrp, ActualLrp, Option<ActualLrp>)> {
    let before = fetch_for_update(cx, conn, process_guid, index, Presence::Suspect).await?;
    let replacement =
        match fetch_for_update(cx, conn, process_guid, index, Presence::Ordinary).await {
            Ok(l) => Some(l),
            Err(e) if crate::errors::is_not_found(&e) => None,
            Err(e) => return Err(e),
        };
    if replacement.is_some() {
        delete(cx, conn, process_guid, index, Presence::Ordinary as i32).await?;
    }
    let mut after = before.clone();
    after.presence = Presence::Ordinary as i32;
    update(cx, conn, &after, Presence::Suspect as i32).await?;
    Ok((before, after, replacement))
}

/// Fresh domains as the convergence pass sees them.
pub(crate) async fn fresh_domain_set(
    cx: &Ctx,
    conn: &mut AnyConnection,
    now: i64,
) -> DbResult<BTreeSet<String>> {
    Ok(domains::fresh(cx, conn, now).await?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_tags_match_agrees_with_resolving() {
        let s = |v: &str| MetricTagValue {
            r#static: v.into(),
            dynamic: 0,
        };
        let d = |dv: DynamicValue| MetricTagValue {
            r#static: String::new(),
            dynamic: dv as i32,
        };
        let desired: BTreeMap<String, MetricTagValue> = [
            ("app", s("a")),
            ("index", d(DynamicValue::Index)),
            ("guid", d(DynamicValue::InstanceGuid)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let want = resolve_metric_tags(&desired, 3, "ig");
        assert!(metric_tags_match(&want, &desired, 3, "ig"));
        for (k, v) in [("app", "b"), ("index", "03"), ("guid", "other")] {
            let mut other = want.clone();
            other.insert(k.into(), v.into());
            assert!(!metric_tags_match(&other, &desired, 3, "ig"), "{k}={v}");
        }
        let mut fewer = want.clone();
        fewer.remove("app");
        assert!(!metric_tags_match(&fewer, &desired, 3, "ig"));
        assert!(!metric_tags_match(&want, &desired, 4, "ig"));
    }
}
