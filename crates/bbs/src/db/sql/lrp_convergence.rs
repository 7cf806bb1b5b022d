//! LRP convergence (Diego's `db/sqldb/lrp_convergence.go`), set-based: the
//! pass prunes expired domains and the EVACUATING rows of absent cells,
//! then reads the desired LRPs (scheduling columns) and the actual LRPs
//! (key, state and placement columns) once each and applies every rule in
//! memory. Internal routes and metric tags are only read (and decrypted)
//! for RUNNING ordinary rows, the only ones the drift rules look at.

use super::actual::{delete, fetch_for_update, update};
use super::args::{in_list, IN_CHUNK};
use super::codec::{decode_internal_routes, decode_metric_tags, decode_routes, decode_string_map};
use super::ctx::{ColsExt, Ctx};
use super::{desired, domains};
use crate::db::lrp_convergence_rules::{
    apply_rules, ConvergenceDesired, ConvergenceRow, DesiredDrift,
};
use crate::db::{CellSet, ConvergenceResult, DbResult, DesiredLrpFilter, KeyWithSchedulingInfo};
use models::actual_lrp::Presence;
use models::actual_lrp_state::RUNNING;
use models::{ActualLrp, ActualLrpInternalRoute, ActualLrpKey, DesiredLrpSchedulingInfo};
use sqldb::{Arg, Backend};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

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

/// Deletes domains whose expiry has passed (Diego's pruneDomains).
pub(crate) async fn prune_domains<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    now: i64,
) -> DbResult<u64> {
    let stmt = cx.q("DELETE FROM domains WHERE expire_time <= ?").bind(now);
    cx.exec(conn, &stmt).await
}

/// The EVACUATING rows on cells outside `cells` (every EVACUATING row when
/// `cells` is empty, as Diego does).
pub(crate) async fn evacuating_on_absent_cells<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    cells: &CellSet,
) -> DbResult<Vec<(String, i32)>> {
    let stmt = cx
        .q(
            "SELECT process_guid, instance_index, cell_id FROM actual_lrps WHERE presence = ? \
            ORDER BY process_guid, instance_index",
        )
        .bind(Presence::Evacuating as i32);
    let rows = cx.all(conn, &stmt).await?;
    let mut out = Vec::new();
    for r in &rows {
        let cell = r.get_str(2)?;
        if cells.is_empty() || !cells.contains(&cell) {
            out.push((r.get_str(0)?, r.get_i32(1)?));
        }
    }
    Ok(out)
}

/// Deletes the given EVACUATING rows (re-checking their cell under the
/// row lock) and returns what was deleted.
pub(crate) async fn delete_evacuating<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
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
async fn domain_names<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<BTreeSet<String>> {
    let rows = cx.all(conn, &cx.q("SELECT domain FROM domains")).await?;
    rows.iter().map(|r| r.get_str(0)).collect()
}

async fn actual_rows<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<Vec<SqlRow>> {
    let stmt = cx.q(
        "SELECT process_guid, instance_index, presence, domain, state, instance_guid, cell_id, \
         since, crash_count, \
         CASE WHEN state = ? AND presence = ? THEN internal_routes ELSE '' END, \
         CASE WHEN state = ? AND presence = ? THEN metric_tags ELSE '' END \
         FROM actual_lrps ORDER BY process_guid, instance_index, presence",
    )
    .bind(RUNNING)
    .bind(Presence::Ordinary as i32)
    .bind(RUNNING)
    .bind(Presence::Ordinary as i32);
    let rows = cx.all(conn, &stmt).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let process_guid = r.get_str(0)?;
        let routes = r.get_str(9)?;
        let tags = r.get_str(10)?;
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
            index: r.get_i32(1)?,
            presence: r.get_i32(2)?,
            domain: r.get_str(3)?,
            state: r.get_str(4)?,
            instance_guid: r.get_str(5)?,
            cell_id: r.get_str(6)?,
            since: r.get_i64(7)?,
            crash_count: r.get_i32(8)?,
            internal_routes,
            metric_tags,
        });
    }
    Ok(out)
}

fn decode_drift<B: Backend>(
    cx: &Ctx<B>,
    guid: &str,
    routes: &str,
    metric_tags: &str,
) -> DesiredDrift {
    let routes = match decode_routes(&cx.enc, routes) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(process_guid = guid, error = %e, "skipping undecodable desired LRP row");
            return DesiredDrift::undecodable();
        }
    };
    let tags = decode_metric_tags(&cx.enc, metric_tags)
        .map_err(|e| {
            tracing::warn!(process_guid = guid, error = %e, "failed-parsing-desired-metric-tags");
        })
        .ok();
    DesiredDrift::from_parts(guid, &routes, tags)
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

/// Every desired LRP (by process guid): keys and tags from the table, the
/// drift data from the cache, decoded (decrypted) only for rows whose
/// modification tag changed since the last pass.
async fn desired_rows<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<Vec<SqlDesired>> {
    let stmt = cx.q(
        "SELECT process_guid, domain, instances, modification_tag_epoch, \
         modification_tag_index FROM desired_lrps ORDER BY process_guid",
    );
    let rows = cx.all(conn, &stmt).await?;
    let cache = &cx.drift_cache;
    let mut keys = Vec::with_capacity(rows.len());
    let mut misses: Vec<String> = Vec::new();
    for r in &rows {
        let guid = r.get_str(0)?;
        let epoch = r.get_str(3)?;
        let index = r.get_i32(4)? as u32;
        let hit = cache.get(&guid, &epoch, index);
        if hit.is_none() {
            misses.push(guid.clone());
        }
        keys.push((guid, r.get_str(1)?, r.get_i32(2)?, hit));
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
            let mut stmt = cx.q(&sql).bind_all(chunk.iter().map(Arg::from));
            if !chunk.is_empty() {
                stmt = stmt.once();
            }
            let rows = cx.all(conn, &stmt).await?;
            for r in &rows {
                let guid = r.get_str(0)?;
                let epoch = r.get_str(1)?;
                let index = r.get_i32(2)? as u32;
                let routes = r.get_str(3)?;
                let tags = r.get_str(4)?;
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
async fn with_scheduling_infos<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
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

/// Reads the state and applies Diego's LRP convergence rules. Only reads;
/// `fresh_domains` must be computed after pruning.
pub(crate) async fn analyze<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    cells: &CellSet,
    fresh_domains: &BTreeSet<String>,
    now: i64,
    result: &mut ConvergenceResult,
) -> DbResult<()> {
    let known_domains = domain_names(cx, conn).await?;
    let mut desired = desired_rows(cx, conn).await?;
    let mut rows = actual_rows(cx, conn).await?;
    // The rules walk both lists in byte order; the database's collation
    // may differ (already sorted input costs one comparison per row).
    desired.sort_by(|a, b| a.process_guid.as_bytes().cmp(b.process_guid.as_bytes()));
    rows.sort_by(|a, b| a.view().order(&b.view()));
    let lists = apply_rules(
        &known_domains,
        &desired,
        SqlDesired::view,
        &rows,
        SqlRow::view,
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

/// Promotes the SUSPECT row of an index to ordinary, deleting the ordinary
/// replacement if there is one (Diego's PromoteSuspectActualLRP).
pub(crate) async fn promote_suspect<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
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
pub(crate) async fn fresh_domain_set<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    now: i64,
) -> DbResult<BTreeSet<String>> {
    Ok(domains::fresh(cx, conn, now).await?.into_iter().collect())
}
