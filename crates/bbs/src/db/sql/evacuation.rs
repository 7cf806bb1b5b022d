//! EVACUATING and SUSPECT rows.

use super::actual::{delete, fetch_for_update, update};
use super::codec::{encode_internal_routes, encode_proto, encode_string_map};
use super::ctx::Ctx;
use crate::db::{DbResult, RunningInfo};
use models::actual_lrp::Presence;
use models::actual_lrp_state::RUNNING;
use models::{ActualLrp, ActualLrpInstanceKey, ActualLrpKey, BbsError, ModificationTag};
use sqldb::Backend;

/// Creates (or replaces) the EVACUATING row of an instance. Answers
/// ResourceExists when the same instance with the same net info is already
/// evacuating (Diego's rule).
pub(crate) async fn evacuate<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    instance_key: &ActualLrpInstanceKey,
    running: &RunningInfo,
    now: i64,
) -> DbResult<ActualLrp> {
    let existing = match fetch_for_update(
        cx,
        conn,
        &key.process_guid,
        key.index,
        Presence::Evacuating,
    )
    .await
    {
        Ok(l) => Some(l),
        Err(e) if e.same_kind(&BbsError::resource_not_found()) => None,
        Err(e) => return Err(e),
    };
    match existing {
        None => create(cx, conn, key, instance_key, running, now).await,
        Some(before) => {
            if before.key() == *key
                && before.instance_key() == *instance_key
                && before.actual_lrp_net_info.as_ref() == Some(&running.net_info)
            {
                return Err(BbsError::resource_exists());
            }
            let mut after = before;
            let tag = after.modification_tag.get_or_insert_with(Default::default);
            tag.index = tag.index.wrapping_add(1);
            after.actual_lrp_key = Some(key.clone());
            after.actual_lrp_instance_key = Some(instance_key.clone());
            after.since = now;
            after.actual_lrp_net_info = Some(running.net_info.clone());
            after.actual_lrp_internal_routes = running.internal_routes.clone();
            after.metric_tags = running.metric_tags.clone();
            after.availability_zone = running.availability_zone.clone();
            after.presence = Presence::Evacuating as i32;
            // Diego leaves `routable` (and the state) of an existing
            // evacuating row as they were.
            update(cx, conn, &after, Presence::Evacuating as i32).await?;
            Ok(after)
        }
    }
}

async fn create<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    instance_key: &ActualLrpInstanceKey,
    running: &RunningInfo,
    now: i64,
) -> DbResult<ActualLrp> {
    let mut lrp = ActualLrp {
        actual_lrp_key: Some(key.clone()),
        actual_lrp_instance_key: Some(instance_key.clone()),
        actual_lrp_net_info: Some(running.net_info.clone()),
        actual_lrp_internal_routes: running.internal_routes.clone(),
        metric_tags: running.metric_tags.clone(),
        availability_zone: running.availability_zone.clone(),
        state: RUNNING.to_string(),
        since: now,
        modification_tag: Some(ModificationTag {
            epoch: super::new_guid(),
            index: 0,
        }),
        presence: Presence::Evacuating as i32,
        ..Default::default()
    };
    let routable = running.routable.unwrap_or(true);
    lrp.set_routable(routable);
    let tag = lrp.modification_tag.clone().unwrap_or_default();
    let columns = [
        "process_guid",
        "instance_index",
        "presence",
        "domain",
        "instance_guid",
        "cell_id",
        "state",
        "net_info",
        "internal_routes",
        "metric_tags",
        "routable",
        "availability_zone",
        "since",
        "modification_tag_epoch",
        "modification_tag_index",
    ];
    let stmt = cx
        .q(&B::upsert(
            "actual_lrps",
            &columns,
            &["process_guid", "instance_index", "presence"],
            &columns[3..],
        ))
        .bind(key.process_guid.as_str())
        .bind(key.index)
        .bind(Presence::Evacuating as i32)
        .bind(key.domain.as_str())
        .bind(instance_key.instance_guid.as_str())
        .bind(instance_key.cell_id.as_str())
        .bind(RUNNING)
        .bind(encode_proto(&cx.enc, &running.net_info))
        .bind(encode_internal_routes(&cx.enc, &running.internal_routes))
        .bind(encode_string_map(&cx.enc, &running.metric_tags))
        .bind(routable)
        .bind(running.availability_zone.as_str())
        .bind(now)
        .bind(tag.epoch)
        .bind(tag.index as i32);
    cx.exec(conn, &stmt).await?;
    Ok(lrp)
}

/// Removes the EVACUATING row if it belongs to `instance_key`.
/// ResourceNotFound when there is none (Diego's DB call answers nothing
/// and its controller reports ResourceNotFound).
pub(crate) async fn remove_evacuating<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
    instance_key: &ActualLrpInstanceKey,
) -> DbResult<ActualLrp> {
    let lrp =
        fetch_for_update(cx, conn, &key.process_guid, key.index, Presence::Evacuating).await?;
    if lrp.instance_key() != *instance_key {
        return Err(BbsError::cannot_be_removed());
    }
    delete(
        cx,
        conn,
        &key.process_guid,
        key.index,
        Presence::Evacuating as i32,
    )
    .await
    .map_err(|_| BbsError::cannot_be_removed())?;
    Ok(lrp)
}

/// Removes the SUSPECT row of an instance; ResourceNotFound when none.
pub(crate) async fn remove_suspect<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    key: &ActualLrpKey,
) -> DbResult<ActualLrp> {
    let lrp = fetch_for_update(cx, conn, &key.process_guid, key.index, Presence::Suspect).await?;
    delete(
        cx,
        conn,
        &key.process_guid,
        key.index,
        Presence::Suspect as i32,
    )
    .await
    .map_err(|_| BbsError::cannot_be_removed())?;
    Ok(lrp)
}
