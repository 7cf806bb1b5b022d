//! Desired LRPs: scheduling info in plain columns, run info as one
//! encrypted blob. Lists decode only the columns the caller asked for
//! (scheduling and routing infos never touch `run_info`).

use super::args::{bind_all, in_list, Arg, IN_CHUNK};
use super::codec::{
    self, decode_metric_tags, decode_placement_tags, decode_proto, encode_metric_tags,
    encode_placement_tags, encode_proto,
};
use super::Ctx;
use crate::db::{DbResult, DesiredLrpFilter, SchedulingInfoAndTags};
use futures::TryStreamExt;
use models::{
    BbsError, DesiredLrp, DesiredLrpKey, DesiredLrpResource, DesiredLrpRunInfo,
    DesiredLrpSchedulingInfo, DesiredLrpUpdate, ModificationTag, ProtoRoutes, VolumePlacement,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const SCHEDULING_COLUMNS: &str = "process_guid, domain, log_guid, annotation, instances, \
    memory_mb, disk_mb, max_pids, rootfs, routes, volume_placement, modification_tag_epoch, \
    modification_tag_index, placement_tags";
const RUN_COLUMNS: &str = "run_info, metric_tags, update_strategy";
const ROUTING_COLUMNS: &str = "process_guid, domain, log_guid, instances, routes, \
    modification_tag_epoch, modification_tag_index, metric_tags";
const ORDER: &str = " ORDER BY process_guid";

fn decode_scheduling(cx: &Ctx, row: &AnyRow) -> DbResult<DesiredLrpSchedulingInfo> {
    let g = |e: sqlx::Error| cx.err(e);
    let routes: String = row.try_get(9).map_err(g)?;
    let volume_placement: String = row.try_get(10).map_err(g)?;
    let placement_tags: String = row.try_get(13).map_err(g)?;
    Ok(codec::scheduling_info(
        DesiredLrpKey {
            process_guid: row.try_get(0).map_err(g)?,
            domain: row.try_get(1).map_err(g)?,
            log_guid: row.try_get(2).map_err(g)?,
        },
        row.try_get(3).map_err(g)?,
        row.try_get(4).map_err(g)?,
        DesiredLrpResource {
            memory_mb: row.try_get(5).map_err(g)?,
            disk_mb: row.try_get(6).map_err(g)?,
            max_pids: row.try_get(7).map_err(g)?,
            root_fs: row.try_get(8).map_err(g)?,
        },
        decode_proto::<ProtoRoutes>(&cx.enc, "routes", &routes)?,
        ModificationTag {
            epoch: row.try_get(11).map_err(g)?,
            index: row.try_get::<i64, _>(12).map_err(g)? as u32,
        },
        decode_proto::<VolumePlacement>(&cx.enc, "volume_placement", &volume_placement)?,
        decode_placement_tags(&placement_tags)?,
    ))
}

/// A scheduling info with the desired LRP's metric tags (the LRP cache's
/// load: one scan instead of the scheduling and the routing read).
fn decode_scheduling_and_tags(cx: &Ctx, row: &AnyRow) -> DbResult<SchedulingInfoAndTags> {
    let info = decode_scheduling(cx, row)?;
    let metric_tags: String = row.try_get(14).map_err(|e| cx.err(e))?;
    Ok((info, decode_metric_tags(&cx.enc, &metric_tags)?))
}

pub(crate) async fn scheduling_infos_and_tags(
    cx: &Ctx,
    conn: &mut AnyConnection,
) -> DbResult<Vec<SchedulingInfoAndTags>> {
    let columns = format!("{SCHEDULING_COLUMNS}, metric_tags");
    select(cx, conn, &columns, "", &[], decode_scheduling_and_tags).await
}

fn decode_full(cx: &Ctx, row: &AnyRow) -> DbResult<(DesiredLrp, DesiredLrpRunInfo)> {
    let g = |e: sqlx::Error| cx.err(e);
    let scheduling = decode_scheduling(cx, row)?;
    let run_info: String = row.try_get(14).map_err(g)?;
    let metric_tags: String = row.try_get(15).map_err(g)?;
    let update_strategy: i32 = row.try_get(16).map_err(g)?;
    let run = decode_proto::<DesiredLrpRunInfo>(&cx.enc, "run_info", &run_info)?;
    let tags = decode_metric_tags(&cx.enc, &metric_tags)?;
    Ok((
        codec::desired_lrp(scheduling, run.clone(), tags, update_strategy),
        run,
    ))
}

fn decode_routing(cx: &Ctx, row: &AnyRow) -> DbResult<DesiredLrp> {
    let g = |e: sqlx::Error| cx.err(e);
    let routes: String = row.try_get(4).map_err(g)?;
    let metric_tags: String = row.try_get(7).map_err(g)?;
    Ok(DesiredLrp {
        process_guid: row.try_get(0).map_err(g)?,
        domain: row.try_get(1).map_err(g)?,
        log_guid: row.try_get(2).map_err(g)?,
        instances: row.try_get(3).map_err(g)?,
        routes: Some(decode_proto::<ProtoRoutes>(&cx.enc, "routes", &routes)?),
        modification_tag: Some(ModificationTag {
            epoch: row.try_get(5).map_err(g)?,
            index: row.try_get::<i64, _>(6).map_err(g)? as u32,
        }),
        metric_tags: decode_metric_tags(&cx.enc, &metric_tags)?,
        ..Default::default()
    })
}

/// Runs `SELECT columns FROM desired_lrps` with the filter, chunking long
/// process-guid lists, and decodes each row (skipping undecodable ones).
async fn select<T>(
    cx: &Ctx,
    conn: &mut AnyConnection,
    columns: &str,
    domain: &str,
    process_guids: &[String],
    decode: impl Fn(&Ctx, &AnyRow) -> DbResult<T>,
) -> DbResult<Vec<T>> {
    let mut guids: Vec<String> = process_guids.to_vec();
    guids.sort();
    guids.dedup();
    let chunks: Vec<&[String]> = if guids.is_empty() {
        vec![&[]]
    } else {
        guids.chunks(IN_CHUNK).collect()
    };
    let mut out = Vec::new();
    for chunk in chunks {
        let mut wheres = Vec::new();
        let mut args = Vec::new();
        if !domain.is_empty() {
            wheres.push("domain = ?".to_string());
            args.push(Arg::Str(domain.to_string()));
        }
        if !chunk.is_empty() {
            wheres.push(in_list("process_guid", chunk.len()));
            args.extend(chunk.iter().cloned().map(Arg::Str));
        }
        let sql = cx.sql(&format!(
            "SELECT {columns} FROM desired_lrps{}{ORDER}",
            super::args::where_clause(&wheres)
        ));
        // Decoded as they arrive: a whole-table read never holds every raw row.
        let mut rows = bind_all(sqlx::query(&sql), &args).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(|e| cx.err(e))? {
            match decode(cx, &row) {
                Ok(v) => out.push(v),
                Err(e) => tracing::warn!(error = %e, "skipping undecodable desired LRP row"),
            }
        }
    }
    Ok(out)
}

pub(crate) async fn list(
    cx: &Ctx,
    conn: &mut AnyConnection,
    filter: &DesiredLrpFilter,
) -> DbResult<Vec<DesiredLrp>> {
    let columns = format!("{SCHEDULING_COLUMNS}, {RUN_COLUMNS}");
    select(
        cx,
        conn,
        &columns,
        &filter.domain,
        &filter.process_guids,
        |cx, r| decode_full(cx, r).map(|(l, _)| l),
    )
    .await
}

/// Scheduling infos, ordered by process guid. Reads the keys and
/// modification tags first and decodes only the rows whose tag the cache
/// does not hold (see `scheduling_cache`).
pub(crate) async fn scheduling_infos(
    cx: &Ctx,
    conn: &mut AnyConnection,
    filter: &DesiredLrpFilter,
) -> DbResult<Vec<DesiredLrpSchedulingInfo>> {
    let g = |e: sqlx::Error| cx.err(e);
    let tags = select(
        cx,
        conn,
        "process_guid, modification_tag_epoch, modification_tag_index",
        &filter.domain,
        &filter.process_guids,
        |_, row| {
            Ok((
                row.try_get::<String, _>(0).map_err(g)?,
                row.try_get::<String, _>(1).map_err(g)?,
                row.try_get::<i64, _>(2).map_err(g)? as u32,
            ))
        },
    )
    .await?;
    let cache = &cx.scheduling_cache;
    let mut out: Vec<Option<DesiredLrpSchedulingInfo>> = Vec::with_capacity(tags.len());
    let mut misses: Vec<String> = Vec::new();
    for (guid, epoch, index) in &tags {
        let hit = cache.get(guid, epoch, *index);
        if hit.is_none() {
            misses.push(guid.clone());
        }
        out.push(hit);
    }
    if !misses.is_empty() {
        // Mostly cold: one scan with the caller's filter beats many IN lists.
        let guids: &[String] = if misses.len() * 2 > tags.len() {
            &filter.process_guids
        } else {
            &misses
        };
        let fetched = select(
            cx,
            conn,
            SCHEDULING_COLUMNS,
            &filter.domain,
            guids,
            decode_scheduling,
        )
        .await?;
        let by_guid: std::collections::HashMap<&str, &DesiredLrpSchedulingInfo> = fetched
            .iter()
            .filter_map(|i| {
                i.desired_lrp_key
                    .as_ref()
                    .map(|k| (k.process_guid.as_str(), i))
            })
            .collect();
        for info in &fetched {
            cache.put(info);
        }
        for ((guid, _, _), slot) in tags.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                // Removed (or undecodable) since the keys were read: skipped.
                *slot = by_guid.get(guid.as_str()).map(|i| (*i).clone());
            }
        }
    }
    if filter.domain.is_empty() && filter.process_guids.is_empty() {
        cache.retain(&tags.iter().map(|(g, _, _)| g.as_str()).collect());
    }
    Ok(out.into_iter().flatten().collect())
}

/// Diego filters routing infos by process guids only.
pub(crate) async fn routing_infos(
    cx: &Ctx,
    conn: &mut AnyConnection,
    filter: &DesiredLrpFilter,
) -> DbResult<Vec<DesiredLrp>> {
    select(
        cx,
        conn,
        ROUTING_COLUMNS,
        "",
        &filter.process_guids,
        decode_routing,
    )
    .await
}

async fn fetch_one(
    cx: &Ctx,
    conn: &mut AnyConnection,
    columns: &str,
    process_guid: &str,
    lock: bool,
) -> DbResult<AnyRow> {
    let base = format!("SELECT {columns} FROM desired_lrps WHERE process_guid = ?");
    let sql = if lock {
        cx.for_update(&base)
    } else {
        cx.sql(&base)
    };
    sqlx::query(&sql)
        .bind(process_guid)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?
        .ok_or_else(BbsError::resource_not_found)
}

pub(crate) async fn by_process_guid(
    cx: &Ctx,
    conn: &mut AnyConnection,
    process_guid: &str,
    lock: bool,
) -> DbResult<(DesiredLrp, DesiredLrpRunInfo)> {
    let columns = format!("{SCHEDULING_COLUMNS}, {RUN_COLUMNS}");
    let row = fetch_one(cx, conn, &columns, process_guid, lock).await?;
    decode_full(cx, &row)
}

pub(crate) async fn scheduling_info_by_process_guid(
    cx: &Ctx,
    conn: &mut AnyConnection,
    process_guid: &str,
) -> DbResult<DesiredLrpSchedulingInfo> {
    let row = fetch_one(cx, conn, SCHEDULING_COLUMNS, process_guid, false).await?;
    decode_scheduling(cx, &row)
}

pub(crate) async fn desire(
    cx: &Ctx,
    conn: &mut AnyConnection,
    lrp: &DesiredLrp,
    now: i64,
) -> DbResult<DesiredLrp> {
    let tag = ModificationTag {
        epoch: super::new_guid(),
        index: 0,
    };
    let routes = lrp.routes.clone().unwrap_or_default();
    let run = codec::run_info(lrp, now);
    let volume_placement = codec::volume_placement(lrp);
    let sql = cx.sql(
        "INSERT INTO desired_lrps (process_guid, domain, log_guid, annotation, instances, \
         memory_mb, disk_mb, max_pids, rootfs, routes, volume_placement, modification_tag_epoch, \
         modification_tag_index, placement_tags, run_info, metric_tags, update_strategy) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    sqlx::query(&sql)
        .bind(lrp.process_guid.as_str())
        .bind(lrp.domain.as_str())
        .bind(lrp.log_guid.as_str())
        .bind(lrp.annotation.as_str())
        .bind(lrp.instances)
        .bind(lrp.memory_mb)
        .bind(lrp.disk_mb)
        .bind(lrp.max_pids)
        .bind(lrp.root_fs.as_str())
        .bind(encode_proto(&cx.enc, &routes))
        .bind(encode_proto(&cx.enc, &volume_placement))
        .bind(tag.epoch.as_str())
        .bind(i64::from(tag.index))
        .bind(encode_placement_tags(&lrp.placement_tags))
        .bind(encode_proto(&cx.enc, &run))
        .bind(encode_metric_tags(&cx.enc, &lrp.metric_tags))
        .bind(lrp.update_strategy)
        .execute(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    // What a read returns: the record rebuilt from its stored parts.
    let scheduling = codec::scheduling_info(
        DesiredLrpKey {
            process_guid: lrp.process_guid.clone(),
            domain: lrp.domain.clone(),
            log_guid: lrp.log_guid.clone(),
        },
        lrp.annotation.clone(),
        lrp.instances,
        DesiredLrpResource {
            memory_mb: lrp.memory_mb,
            disk_mb: lrp.disk_mb,
            root_fs: lrp.root_fs.clone(),
            max_pids: lrp.max_pids,
        },
        routes,
        tag,
        volume_placement,
        lrp.placement_tags.clone(),
    );
    Ok(codec::desired_lrp(
        scheduling,
        run,
        lrp.metric_tags.clone(),
        lrp.update_strategy,
    ))
}

pub(crate) async fn update(
    cx: &Ctx,
    conn: &mut AnyConnection,
    process_guid: &str,
    upd: &DesiredLrpUpdate,
) -> DbResult<(DesiredLrp, DesiredLrp)> {
    use models::desired_lrp_update::{
        OptionalAnnotation, OptionalImagePassword, OptionalImageUsername, OptionalInstances,
    };
    let (before, mut run) = by_process_guid(cx, conn, process_guid, true).await?;
    let mut after = before.clone();
    let tag = after.modification_tag.get_or_insert_with(Default::default);
    tag.index = tag.index.wrapping_add(1);
    if let Some(OptionalAnnotation::Annotation(a)) = &upd.optional_annotation {
        after.annotation = a.clone();
    }
    if let Some(OptionalInstances::Instances(i)) = &upd.optional_instances {
        after.instances = *i;
    }
    if let Some(routes) = &upd.routes {
        after.routes = Some(routes.clone());
    }
    // An absent map and an empty one look the same on the wire.
    if !upd.metric_tags.is_empty() {
        after.metric_tags = upd.metric_tags.clone();
    }
    if let Some(OptionalImageUsername::ImageUsername(u)) = &upd.optional_image_username {
        after.image_username = u.clone();
        run.image_username = u.clone();
    }
    if let Some(OptionalImagePassword::ImagePassword(p)) = &upd.optional_image_password {
        after.image_password = p.clone();
        run.image_password = p.clone();
    }
    let sql = cx.sql(
        "UPDATE desired_lrps SET annotation = ?, instances = ?, routes = ?, metric_tags = ?, \
         run_info = ?, modification_tag_index = ? WHERE process_guid = ?",
    );
    sqlx::query(&sql)
        .bind(after.annotation.as_str())
        .bind(after.instances)
        .bind(encode_proto(
            &cx.enc,
            after.routes.as_ref().unwrap_or(&ProtoRoutes::default()),
        ))
        .bind(encode_metric_tags(&cx.enc, &after.metric_tags))
        .bind(encode_proto(&cx.enc, &run))
        .bind(i64::from(
            after.modification_tag.as_ref().map_or(0, |t| t.index),
        ))
        .bind(process_guid)
        .execute(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    Ok((before, after))
}

pub(crate) async fn remove(
    cx: &Ctx,
    conn: &mut AnyConnection,
    process_guid: &str,
) -> DbResult<DesiredLrp> {
    let (lrp, _) = by_process_guid(cx, conn, process_guid, true).await?;
    let sql = cx.sql("DELETE FROM desired_lrps WHERE process_guid = ?");
    sqlx::query(&sql)
        .bind(process_guid)
        .execute(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    Ok(lrp)
}

pub(crate) async fn count_instances(cx: &Ctx, conn: &mut AnyConnection) -> DbResult<i64> {
    let sql = "SELECT COALESCE(SUM(instances), 0) FROM desired_lrps";
    let row = sqlx::query(sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    row.try_get::<i64, _>(0).map_err(|e| cx.err(e))
}
