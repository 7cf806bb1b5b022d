//! Actual LRP rows and Diego's per-instance state changes
//! (claim/start/crash/fail/remove/unclaim, presence changes, counts).

use super::args::{in_list, where_clause, IN_CHUNK};
use super::codec::{
    decode_internal_routes, decode_proto, decode_string_map, encode_internal_routes, encode_proto,
    encode_string_map, truncate,
};
use super::ctx::{ColsExt, Ctx};
use crate::db::{ActualLrpCounts, ActualLrpFilter, CrashOutcome, DbResult, RunningInfo};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use models::restart_calculator::CRASH_RESET_TIMEOUT;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo, BbsError, ModificationTag,
    RestartCalculator,
};
use sqldb::{Arg, Backend, Stmt};

pub(crate) const COLUMNS: &str = "process_guid, instance_index, presence, domain, state, \
    instance_guid, cell_id, placement_error, since, net_info, internal_routes, metric_tags, \
    routable, availability_zone, modification_tag_epoch, modification_tag_index, crash_count, \
    crash_reason";
const ORDER: &str = " ORDER BY process_guid, instance_index, presence";
const KEY_WHERE: &str = " WHERE process_guid = ? AND instance_index = ? AND presence = ?";

/// Error strings longer than this are truncated (Diego's column size).
pub(crate) const MAX_ERROR_LEN: usize = 1024;

fn decode_row<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<ActualLrp> {
    let net_info = row.get_str(9)?;
    let internal_routes = row.get_str(10)?;
    let metric_tags = row.get_str(11)?;
    let routable = row.get_bool(12)?;
    let mut lrp = ActualLrp {
        actual_lrp_key: Some(ActualLrpKey {
            process_guid: row.get_str(0)?,
            index: row.get_i32(1)?,
            domain: row.get_str(3)?,
        }),
        presence: row.get_i32(2)?,
        state: row.get_str(4)?,
        actual_lrp_instance_key: Some(ActualLrpInstanceKey {
            instance_guid: row.get_str(5)?,
            cell_id: row.get_str(6)?,
        }),
        placement_error: row.get_str(7)?,
        since: row.get_i64(8)?,
        actual_lrp_net_info: Some(if net_info.is_empty() {
            ActualLrpNetInfo::default()
        } else {
            decode_proto(&cx.enc, "net_info", &net_info)?
        }),
        actual_lrp_internal_routes: decode_internal_routes(&cx.enc, &internal_routes)?,
        metric_tags: decode_string_map(&cx.enc, &metric_tags)?,
        availability_zone: row.get_str(13)?,
        modification_tag: Some(ModificationTag {
            epoch: row.get_str(14)?,
            index: row.get_i32(15)? as u32,
        }),
        crash_count: row.get_i32(16)?,
        crash_reason: row.get_str(17)?,
        optional_routable: None,
    };
    lrp.set_routable(routable);
    Ok(lrp)
}

/// Decodes the rows of `stmt` as they arrive (a whole-table read never
/// holds every raw row at once), skipping (and logging) undecodable ones.
async fn decode_stream<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    stmt: &Stmt<'_>,
    out: &mut Vec<ActualLrp>,
) -> DbResult<()> {
    use futures::TryStreamExt;
    let mut rows = cx.stream(conn, stmt);
    while let Some(r) = rows.try_next().await? {
        match decode_row(cx, &r) {
            Ok(l) => out.push(l),
            Err(e) => tracing::warn!(error = %e, "skipping undecodable actual LRP row"),
        }
    }
    Ok(())
}

pub(crate) async fn list<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    filter: &ActualLrpFilter,
) -> DbResult<Vec<ActualLrp>> {
    let mut wheres = Vec::new();
    let mut args = Vec::new();
    if !filter.domain.is_empty() {
        wheres.push("domain = ?".to_string());
        args.push(Arg::from(filter.domain.as_str()));
    }
    if !filter.cell_id.is_empty() {
        wheres.push("cell_id = ?".to_string());
        args.push(Arg::from(filter.cell_id.as_str()));
    }
    if !filter.process_guid.is_empty() {
        wheres.push("process_guid = ?".to_string());
        args.push(Arg::from(filter.process_guid.as_str()));
    }
    if let Some(i) = filter.index {
        wheres.push("instance_index = ?".to_string());
        args.push(Arg::I32(i));
    }
    let stmt = cx
        .q(&format!(
            "SELECT {COLUMNS} FROM actual_lrps{}{ORDER}",
            where_clause(&wheres)
        ))
        .bind_all(args);
    let mut out = Vec::new();
    decode_stream(cx, conn, &stmt, &mut out).await?;
    Ok(out)
}

pub(crate) async fn by_process_guids<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    guids: &[String],
) -> DbResult<Vec<ActualLrp>> {
    if guids.is_empty() {
        return list(cx, conn, &ActualLrpFilter::default()).await;
    }
    let mut sorted: Vec<String> = guids.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut out = Vec::new();
    for chunk in sorted.chunks(IN_CHUNK) {
        let stmt = cx
            .q(&format!(
                "SELECT {COLUMNS} FROM actual_lrps WHERE {}{ORDER}",
                in_list("process_guid", chunk.len())
            ))
            .bind_all(chunk.iter().map(Arg::from))
            .once();
        decode_stream(cx, conn, &stmt, &mut out).await?;
    }
    Ok(out)
}

/// Reads one row, locking it for the rest of the transaction.
pub(crate) async fn fetch_for_update<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
    index: i32,
    presence: Presence,
) -> DbResult<ActualLrp> {
    let stmt = cx
        .q_lock(&format!("SELECT {COLUMNS} FROM actual_lrps{KEY_WHERE}"))
        .bind(process_guid)
        .bind(index)
        .bind(presence as i32);
    let row = cx.one(conn, &stmt).await?;
    match row {
        Some(r) => decode_row(cx, &r),
        None => Err(BbsError::resource_not_found()),
    }
}

pub(crate) async fn insert<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    lrp: &ActualLrp,
) -> DbResult<()> {
    let key = lrp.key();
    let ik = lrp.instance_key();
    let tag = lrp.modification_tag.clone().unwrap_or_default();
    let stmt = cx
        .q(
            "INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state, \
            instance_guid, cell_id, placement_error, since, net_info, internal_routes, \
            metric_tags, routable, availability_zone, modification_tag_epoch, \
            modification_tag_index, crash_count, crash_reason) \
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.process_guid)
        .bind(key.index)
        .bind(lrp.presence)
        .bind(key.domain)
        .bind(lrp.state.as_str())
        .bind(ik.instance_guid)
        .bind(ik.cell_id)
        .bind(truncate(&lrp.placement_error, MAX_ERROR_LEN))
        .bind(lrp.since)
        .bind(encode_proto(
            &cx.enc,
            lrp.actual_lrp_net_info
                .as_ref()
                .unwrap_or(&Default::default()),
        ))
        .bind(encode_internal_routes(
            &cx.enc,
            &lrp.actual_lrp_internal_routes,
        ))
        .bind(encode_string_map(&cx.enc, &lrp.metric_tags))
        .bind(lrp.routable().unwrap_or(false))
        .bind(lrp.availability_zone.as_str())
        .bind(tag.epoch)
        .bind(tag.index as i32)
        .bind(lrp.crash_count)
        .bind(truncate(&lrp.crash_reason, MAX_ERROR_LEN));
    cx.exec(conn, &stmt).await?;
    Ok(())
}

/// Writes every mutable column of `lrp` to the row identified by its key
/// and `presence` (the row's presence before the change).
pub(crate) async fn update<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    lrp: &ActualLrp,
    presence: i32,
) -> DbResult<()> {
    cx.exec(conn, &update_stmt(cx, lrp, presence, "")).await?;
    Ok(())
}

/// The UPDATE of every mutable column of `lrp`; a caller may bind more
/// conditions after the key (see `update_if_unchanged`).
fn update_stmt<'a, B: Backend>(
    cx: &Ctx<B>,
    lrp: &'a ActualLrp,
    presence: i32,
    and_where: &str,
) -> Stmt<'a> {
    let key = lrp.key();
    let ik = lrp.instance_key();
    let tag = lrp.modification_tag.clone().unwrap_or_default();
    cx.q(&format!(
        "UPDATE actual_lrps SET presence = ?, domain = ?, state = ?, instance_guid = ?, \
             cell_id = ?, placement_error = ?, since = ?, net_info = ?, internal_routes = ?, \
             metric_tags = ?, routable = ?, availability_zone = ?, modification_tag_index = ?, \
             crash_count = ?, crash_reason = ?{KEY_WHERE}{and_where}"
    ))
    .bind(lrp.presence)
    .bind(key.domain)
    .bind(lrp.state.as_str())
    .bind(ik.instance_guid)
    .bind(ik.cell_id)
    .bind(truncate(&lrp.placement_error, MAX_ERROR_LEN))
    .bind(lrp.since)
    .bind(encode_proto(
        &cx.enc,
        lrp.actual_lrp_net_info
            .as_ref()
            .unwrap_or(&Default::default()),
    ))
    .bind(encode_internal_routes(
        &cx.enc,
        &lrp.actual_lrp_internal_routes,
    ))
    .bind(encode_string_map(&cx.enc, &lrp.metric_tags))
    .bind(lrp.routable().unwrap_or(false))
    .bind(lrp.availability_zone.as_str())
    .bind(tag.index as i32)
    .bind(lrp.crash_count)
    .bind(truncate(&lrp.crash_reason, MAX_ERROR_LEN))
    .bind(key.process_guid)
    .bind(key.index)
    .bind(presence)
}

pub(crate) async fn delete<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
    index: i32,
    presence: i32,
) -> DbResult<()> {
    let stmt = cx
        .q(&format!("DELETE FROM actual_lrps{KEY_WHERE}"))
        .bind(process_guid)
        .bind(index)
        .bind(presence);
    cx.exec(conn, &stmt).await?;
    Ok(())
}

fn bump(lrp: &mut ActualLrp) {
    let tag = lrp.modification_tag.get_or_insert_with(Default::default);
    tag.index = tag.index.wrapping_add(1);
}

pub(crate) async fn create_unclaimed<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    now: i64,
) -> DbResult<ActualLrp> {
    let mut lrp = ActualLrp::new_unclaimed(key.clone(), now);
    lrp.modification_tag = Some(ModificationTag {
        epoch: super::new_guid(),
        index: 0,
    });
    lrp.set_routable(false);
    insert(cx, conn, &lrp).await?;
    Ok(lrp)
}

pub(crate) async fn unclaim<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    is_stale: bool,
    key: &ActualLrpKey,
    now: i64,
) -> DbResult<(ActualLrp, ActualLrp)> {
    let before =
        fetch_for_update(cx, conn, &key.process_guid, key.index, Presence::Ordinary).await?;
    if before.state == UNCLAIMED {
        return Err(BbsError::cannot_be_unclaimed());
    }
    if is_stale && before.state == CLAIMED {
        // A stale claim by another cell that has not started yet.
        return Err(BbsError::cannot_be_unclaimed());
    }
    let mut after = before.clone();
    bump(&mut after);
    after.state = UNCLAIMED.to_string();
    after.actual_lrp_instance_key = Some(ActualLrpInstanceKey::default());
    after.actual_lrp_net_info = Some(ActualLrpNetInfo::default());
    after.since = now;
    update(cx, conn, &after, Presence::Ordinary as i32).await?;
    Ok((before, after))
}

/// What claiming `before` makes of it: None when it is already claimed by
/// this instance (nothing to write).
pub(crate) fn claimed(
    before: &ActualLrp,
    instance_key: &ActualLrpInstanceKey,
    now: i64,
) -> DbResult<Option<ActualLrp>> {
    if !before.allows_transition_to(&before.key(), instance_key, CLAIMED) {
        return Err(BbsError::cannot_be_claimed());
    }
    if before.state == CLAIMED && before.instance_key() == *instance_key {
        return Ok(None);
    }
    let mut after = before.clone();
    bump(&mut after);
    after.state = CLAIMED.to_string();
    after.actual_lrp_instance_key = Some(instance_key.clone());
    after.placement_error.clear();
    after.actual_lrp_net_info = Some(ActualLrpNetInfo::default());
    after.since = now;
    Ok(Some(after))
}

pub(crate) async fn claim<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
    index: i32,
    instance_key: &ActualLrpInstanceKey,
    now: i64,
) -> DbResult<(ActualLrp, ActualLrp)> {
    let before = fetch_for_update(cx, conn, process_guid, index, Presence::Ordinary).await?;
    match claimed(&before, instance_key, now)? {
        None => Ok((before.clone(), before)),
        Some(after) => {
            update(cx, conn, &after, Presence::Ordinary as i32).await?;
            Ok((before, after))
        }
    }
}

/// Writes `after` over the row `before` only if that row still holds
/// `before`'s modification tag: one statement, so one round trip and its
/// own transaction. False when the row changed or is gone.
pub(crate) async fn update_if_unchanged<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    before: &ActualLrp,
    after: &ActualLrp,
) -> DbResult<bool> {
    let tag = before.modification_tag.clone().unwrap_or_default();
    let and_where = " AND modification_tag_epoch = ? AND modification_tag_index = ?";
    let stmt = update_stmt(cx, after, before.presence, and_where)
        .bind(tag.epoch)
        .bind(tag.index as i32);
    Ok(cx.exec(conn, &stmt).await? == 1)
}

pub(crate) async fn start<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    instance_key: &ActualLrpInstanceKey,
    running: &RunningInfo,
    now: i64,
) -> DbResult<(Option<ActualLrp>, ActualLrp)> {
    let routable = running.routable.unwrap_or(true);
    let before =
        match fetch_for_update(cx, conn, &key.process_guid, key.index, Presence::Ordinary).await {
            Ok(l) => l,
            Err(e) if e.same_kind(&BbsError::resource_not_found()) => {
                let mut lrp = ActualLrp {
                    actual_lrp_key: Some(key.clone()),
                    actual_lrp_instance_key: Some(instance_key.clone()),
                    actual_lrp_net_info: Some(running.net_info.clone()),
                    actual_lrp_internal_routes: running.internal_routes.clone(),
                    metric_tags: running.metric_tags.clone(),
                    state: RUNNING.to_string(),
                    since: now,
                    modification_tag: Some(ModificationTag {
                        epoch: super::new_guid(),
                        index: 0,
                    }),
                    availability_zone: running.availability_zone.clone(),
                    ..Default::default()
                };
                lrp.set_routable(routable);
                insert(cx, conn, &lrp).await?;
                return Ok((None, lrp));
            }
            Err(e) => return Err(e),
        };

    match started(&before, key, instance_key, running, now)? {
        None => Ok((Some(before.clone()), before)),
        Some(after) => {
            update(cx, conn, &after, Presence::Ordinary as i32).await?;
            Ok((Some(before), after))
        }
    }
}

/// What starting `before` makes of it: None when it already runs as
/// reported (nothing to write).
pub(crate) fn started(
    before: &ActualLrp,
    key: &ActualLrpKey,
    instance_key: &ActualLrpInstanceKey,
    running: &RunningInfo,
    now: i64,
) -> DbResult<Option<ActualLrp>> {
    let routable = running.routable.unwrap_or(true);
    let unchanged = before.key() == *key
        && before.instance_key() == *instance_key
        && before.actual_lrp_net_info.as_ref() == Some(&running.net_info)
        && before.actual_lrp_internal_routes == running.internal_routes
        && before.metric_tags == running.metric_tags
        && before.routable() == Some(routable)
        && before.availability_zone == running.availability_zone
        && before.state == RUNNING;
    if unchanged {
        return Ok(None);
    }
    if !before.allows_transition_to(key, instance_key, RUNNING) {
        return Err(BbsError::cannot_be_started());
    }
    let mut after = before.clone();
    after.actual_lrp_instance_key = Some(instance_key.clone());
    after.actual_lrp_net_info = Some(running.net_info.clone());
    after.actual_lrp_internal_routes = running.internal_routes.clone();
    after.metric_tags = running.metric_tags.clone();
    after.availability_zone = running.availability_zone.clone();
    after.state = RUNNING.to_string();
    after.since = now;
    bump(&mut after);
    after.placement_error.clear();
    after.set_routable(routable);
    Ok(Some(after))
}

pub(crate) async fn crash<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    instance_key: &ActualLrpInstanceKey,
    crash_reason: &str,
    now: i64,
) -> DbResult<CrashOutcome> {
    let before =
        fetch_for_update(cx, conn, &key.process_guid, key.index, Presence::Ordinary).await?;
    let ran_for = now - before.since;
    let new_count = if ran_for > CRASH_RESET_TIMEOUT.as_nanos() as i64 && before.state == RUNNING {
        1
    } else {
        before.crash_count + 1
    };
    if !before.allows_transition_to(&before.key(), instance_key, CRASHED) {
        return Err(BbsError::cannot_be_crashed());
    }
    let mut after = before.clone();
    bump(&mut after);
    after.state = CRASHED.to_string();
    after.actual_lrp_instance_key = Some(ActualLrpInstanceKey::default());
    after.actual_lrp_net_info = Some(ActualLrpNetInfo::default());
    after.crash_count = new_count;
    after.crash_reason = truncate(crash_reason, MAX_ERROR_LEN);
    // Diego's ShouldRestartImmediately: a restart allowed with no delay.
    let should_restart = RestartCalculator::default().should_restart(0, 0, new_count);
    if should_restart {
        after.state = UNCLAIMED.to_string();
    }
    after.since = now;
    update(cx, conn, &after, Presence::Ordinary as i32).await?;
    Ok(CrashOutcome {
        before,
        after,
        should_restart,
    })
}

pub(crate) async fn fail<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    placement_error: &str,
    now: i64,
) -> DbResult<(ActualLrp, ActualLrp)> {
    let before =
        fetch_for_update(cx, conn, &key.process_guid, key.index, Presence::Ordinary).await?;
    if before.state != UNCLAIMED {
        return Err(BbsError::cannot_be_failed());
    }
    let mut after = before.clone();
    bump(&mut after);
    after.placement_error = truncate(placement_error, MAX_ERROR_LEN);
    after.since = now;
    update(cx, conn, &after, Presence::Ordinary as i32).await?;
    Ok((before, after))
}

pub(crate) async fn remove<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
    index: i32,
    instance_key: Option<&ActualLrpInstanceKey>,
) -> DbResult<ActualLrp> {
    let lrp = fetch_for_update(cx, conn, process_guid, index, Presence::Ordinary).await?;
    if let Some(ik) = instance_key {
        if lrp.instance_key() != *ik {
            return Err(BbsError::resource_not_found());
        }
    }
    delete(cx, conn, process_guid, index, Presence::Ordinary as i32).await?;
    Ok(lrp)
}

pub(crate) async fn change_presence<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    from: Presence,
    to: Presence,
) -> DbResult<(ActualLrp, ActualLrp)> {
    let before = fetch_for_update(cx, conn, &key.process_guid, key.index, from).await?;
    let mut after = before.clone();
    after.presence = to as i32;
    let stmt = cx
        .q(&format!("UPDATE actual_lrps SET presence = ?{KEY_WHERE}"))
        .bind(to as i32)
        .bind(key.process_guid.as_str())
        .bind(key.index)
        .bind(from as i32);
    cx.exec(conn, &stmt).await?;
    Ok((before, after))
}

pub(crate) async fn counts<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
) -> DbResult<ActualLrpCounts> {
    let count = |_| {
        format!(
            "COALESCE({}, 0)",
            B::sum_i64("CASE WHEN state = ? THEN 1 ELSE 0 END")
        )
    };
    let sums: Vec<String> = (0..4).map(count).collect();
    let stmt = cx
        .q(&format!(
            "SELECT {}, COUNT(DISTINCT CASE WHEN state = ? THEN process_guid END) \
             FROM actual_lrps WHERE presence = ?",
            sums.join(", ")
        ))
        .bind(CLAIMED)
        .bind(UNCLAIMED)
        .bind(RUNNING)
        .bind(CRASHED)
        .bind(CRASHED)
        .bind(Presence::Ordinary as i32);
    let row = cx
        .one(conn, &stmt)
        .await?
        .ok_or_else(BbsError::resource_not_found)?;
    let g = |i: usize| row.get_i64(i);
    Ok(ActualLrpCounts {
        claimed: g(0)?,
        unclaimed: g(1)?,
        running: g(2)?,
        crashed: g(3)?,
        crashing_desireds: g(4)?,
    })
}
