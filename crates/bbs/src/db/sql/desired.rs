//! Desired LRPs: scheduling info in plain columns, run info as one
//! encrypted blob, routes and metric tags as encrypted JSON (Diego's
//! encodings, see `codec`). Lists decode only the columns the caller asked
//! for (scheduling and routing infos never touch `run_info`).

use super::args::{in_list, IN_CHUNK};
use super::codec::{
    self, decode_metric_tags, decode_placement_tags, decode_proto, decode_routes,
    encode_metric_tags, encode_placement_tags, encode_proto, stored_routes,
};
use super::ctx::{ColsExt, Ctx};
use crate::db::{DbResult, DesiredLrpFilter, SchedulingInfoAndTags};
use futures::TryStreamExt;
use models::{
    BbsError, DesiredLrp, DesiredLrpKey, DesiredLrpResource, DesiredLrpRunInfo,
    DesiredLrpSchedulingInfo, DesiredLrpUpdate, ModificationTag, VolumePlacement,
};
use sqldb::{Arg, Backend};

const SCHEDULING_COLUMNS: &str = "process_guid, domain, log_guid, annotation, instances, \
    memory_mb, disk_mb, max_pids, rootfs, routes, volume_placement, modification_tag_epoch, \
    modification_tag_index, placement_tags";
const RUN_COLUMNS: &str = "run_info, metric_tags, update_strategy";
const ROUTING_COLUMNS: &str = "process_guid, domain, log_guid, instances, routes, \
    modification_tag_epoch, modification_tag_index, metric_tags";
const ORDER: &str = " ORDER BY process_guid";

fn decode_scheduling<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<DesiredLrpSchedulingInfo> {
    let routes = row.get_str(9)?;
    let volume_placement = row.get_str(10)?;
    let placement_tags = row.get_str(13)?;
    Ok(codec::scheduling_info(
        DesiredLrpKey {
            process_guid: row.get_str(0)?,
            domain: row.get_str(1)?,
            log_guid: row.get_str(2)?,
        },
        row.get_str(3)?,
        row.get_i32(4)?,
        DesiredLrpResource {
            memory_mb: row.get_i32(5)?,
            disk_mb: row.get_i32(6)?,
            max_pids: row.get_i32(7)?,
            root_fs: row.get_str(8)?,
        },
        decode_routes(&cx.enc, &routes)?,
        ModificationTag {
            epoch: row.get_str(11)?,
            index: row.get_i32(12)? as u32,
        },
        decode_proto::<VolumePlacement>(&cx.enc, "volume_placement", &volume_placement)?,
        decode_placement_tags(&placement_tags)?,
    ))
}

/// A scheduling info with the desired LRP's metric tags (the LRP cache's
/// load: one scan instead of the scheduling and the routing read).
fn decode_scheduling_and_tags<B: Backend>(
    cx: &Ctx<B>,
    row: &B::Row,
) -> DbResult<SchedulingInfoAndTags> {
    let info = decode_scheduling(cx, row)?;
    let metric_tags = row.get_str(14)?;
    Ok((info, decode_metric_tags(&cx.enc, &metric_tags)?))
}

/// Every desired LRP's scheduling info and metric tags, handed to `sink`
/// as each row is decoded (the LRP cache keeps them compact, so a load
/// never holds every decoded record).
pub(crate) async fn each_scheduling_info_and_tags<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    sink: &mut (dyn FnMut(SchedulingInfoAndTags) + Send),
) -> DbResult<()> {
    let columns = format!("{SCHEDULING_COLUMNS}, metric_tags");
    select_each(
        cx,
        conn,
        &columns,
        "",
        &[],
        decode_scheduling_and_tags,
        sink,
    )
    .await
}

fn decode_full<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<(DesiredLrp, DesiredLrpRunInfo)> {
    let (scheduling, run, tags, update_strategy) = decode_parts(cx, row)?;
    Ok((
        codec::desired_lrp(scheduling, run.clone(), tags, update_strategy),
        run,
    ))
}

/// As `decode_full` without a copy of the run info (lists: the copy was
/// a fifth of a whole-table read's time).
fn decode_lrp<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<DesiredLrp> {
    let (scheduling, run, tags, update_strategy) = decode_parts(cx, row)?;
    Ok(codec::desired_lrp(scheduling, run, tags, update_strategy))
}

type Parts = (
    DesiredLrpSchedulingInfo,
    DesiredLrpRunInfo,
    std::collections::BTreeMap<String, models::MetricTagValue>,
    i32,
);

fn decode_parts<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<Parts> {
    let scheduling = decode_scheduling(cx, row)?;
    let run_info = row.get_str(14)?;
    let metric_tags = row.get_str(15)?;
    let update_strategy = row.get_i32(16)?;
    let run = decode_proto::<DesiredLrpRunInfo>(&cx.enc, "run_info", &run_info)?;
    let tags = decode_metric_tags(&cx.enc, &metric_tags)?;
    Ok((scheduling, run, tags, update_strategy))
}

fn decode_routing<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<DesiredLrp> {
    let routes = row.get_str(4)?;
    let metric_tags = row.get_str(7)?;
    Ok(DesiredLrp {
        process_guid: row.get_str(0)?,
        domain: row.get_str(1)?,
        log_guid: row.get_str(2)?,
        instances: row.get_i32(3)?,
        routes: Some(decode_routes(&cx.enc, &routes)?),
        modification_tag: Some(ModificationTag {
            epoch: row.get_str(5)?,
            index: row.get_i32(6)? as u32,
        }),
        metric_tags: decode_metric_tags(&cx.enc, &metric_tags)?,
        ..Default::default()
    })
}

/// Runs `SELECT columns FROM desired_lrps` with the filter, chunking long
/// process-guid lists, and decodes each row (skipping undecodable ones).
async fn select<B: Backend, T>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    columns: &str,
    domain: &str,
    process_guids: &[String],
    decode: impl Fn(&Ctx<B>, &B::Row) -> DbResult<T>,
) -> DbResult<Vec<T>> {
    let mut out = Vec::new();
    select_each(cx, conn, columns, domain, process_guids, decode, |v| {
        out.push(v)
    })
    .await?;
    Ok(out)
}

/// As `select`, handing each decoded row to `sink` as it arrives.
async fn select_each<B: Backend, T>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    columns: &str,
    domain: &str,
    process_guids: &[String],
    decode: impl Fn(&Ctx<B>, &B::Row) -> DbResult<T>,
    mut sink: impl FnMut(T),
) -> DbResult<()> {
    let mut guids: Vec<String> = process_guids.to_vec();
    guids.sort();
    guids.dedup();
    let chunks: Vec<&[String]> = if guids.is_empty() {
        vec![&[]]
    } else {
        guids.chunks(IN_CHUNK).collect()
    };
    for chunk in chunks {
        let mut wheres = Vec::new();
        let mut args = Vec::new();
        if !domain.is_empty() {
            wheres.push("domain = ?".to_string());
            args.push(Arg::from(domain));
        }
        if !chunk.is_empty() {
            wheres.push(in_list("process_guid", chunk.len()));
            args.extend(chunk.iter().map(Arg::from));
        }
        let mut stmt = cx
            .q(&format!(
                "SELECT {columns} FROM desired_lrps{}{ORDER}",
                super::args::where_clause(&wheres)
            ))
            .bind_all(args);
        if !chunk.is_empty() {
            stmt = stmt.once();
        }
        // Decoded as they arrive: a whole-table read never holds every raw row.
        let mut rows = cx.stream(conn, &stmt);
        while let Some(row) = rows.try_next().await? {
            match decode(cx, &row) {
                Ok(v) => sink(v),
                Err(e) => tracing::warn!(error = %e, "skipping undecodable desired LRP row"),
            }
        }
    }
    Ok(())
}

pub(crate) async fn list<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    filter: &DesiredLrpFilter,
) -> DbResult<Vec<DesiredLrp>> {
    let columns = format!("{SCHEDULING_COLUMNS}, {RUN_COLUMNS}");
    select(
        cx,
        conn,
        &columns,
        &filter.domain,
        &filter.process_guids,
        decode_lrp,
    )
    .await
}

/// One page of desired LRPs (see [`crate::db::Store::desired_lrps_page`]):
/// a keyset read (`process_guid > after ... LIMIT`), or with a guid
/// filter the next `limit` of the sorted guids.
pub(crate) async fn page<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    filter: &DesiredLrpFilter,
    after: Option<&str>,
    limit: usize,
) -> DbResult<crate::db::Page<DesiredLrp>> {
    let columns = format!("{SCHEDULING_COLUMNS}, {RUN_COLUMNS}");
    let full = decode_lrp::<B>;
    let limit = limit.max(1);
    if !filter.process_guids.is_empty() {
        let mut guids: Vec<String> = filter
            .process_guids
            .iter()
            .filter(|g| after.is_none_or(|a| g.as_str() > a))
            .cloned()
            .collect();
        guids.sort();
        guids.dedup();
        let more = guids.len() > limit;
        guids.truncate(limit);
        let items = select(cx, conn, &columns, &filter.domain, &guids, full).await?;
        let next = if more { guids.pop() } else { None };
        return Ok(crate::db::Page { items, next });
    }
    let mut wheres = Vec::new();
    let mut args = Vec::new();
    if !filter.domain.is_empty() {
        wheres.push("domain = ?".to_string());
        args.push(Arg::from(filter.domain.as_str()));
    }
    if let Some(a) = after {
        wheres.push("process_guid > ?".to_string());
        args.push(Arg::from(a));
    }
    let stmt = cx
        .q(&format!(
            "SELECT {columns} FROM desired_lrps{}{ORDER} LIMIT {limit}",
            super::args::where_clause(&wheres)
        ))
        .bind_all(args);
    let mut items = Vec::new();
    let (mut rows_read, mut last) = (0usize, None);
    let mut rows = cx.stream(conn, &stmt);
    while let Some(row) = rows.try_next().await? {
        rows_read += 1;
        last = Some(row.get_str(0)?);
        match full(cx, &row) {
            Ok(v) => items.push(v),
            Err(e) => tracing::warn!(error = %e, "skipping undecodable desired LRP row"),
        }
    }
    let next = if rows_read == limit { last } else { None };
    Ok(crate::db::Page { items, next })
}

/// Scheduling infos, ordered by process guid. Reads the keys and
/// modification tags first and decodes only the rows whose tag the cache
/// does not hold (see `scheduling_cache`).
pub(crate) async fn scheduling_infos<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    filter: &DesiredLrpFilter,
) -> DbResult<Vec<DesiredLrpSchedulingInfo>> {
    let tags = select(
        cx,
        conn,
        "process_guid, modification_tag_epoch, modification_tag_index",
        &filter.domain,
        &filter.process_guids,
        |_, row| Ok((row.get_str(0)?, row.get_str(1)?, row.get_i32(2)? as u32)),
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
pub(crate) async fn routing_infos<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
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

async fn fetch_one<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    columns: &str,
    process_guid: &str,
    lock: bool,
) -> DbResult<B::Row> {
    let base = format!("SELECT {columns} FROM desired_lrps WHERE process_guid = ?");
    let stmt = if lock { cx.q_lock(&base) } else { cx.q(&base) }.bind(process_guid);
    cx.one(conn, &stmt)
        .await?
        .ok_or_else(BbsError::resource_not_found)
}

pub(crate) async fn by_process_guid<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
    lock: bool,
) -> DbResult<(DesiredLrp, DesiredLrpRunInfo)> {
    let columns = format!("{SCHEDULING_COLUMNS}, {RUN_COLUMNS}");
    let row = fetch_one(cx, conn, &columns, process_guid, lock).await?;
    decode_full(cx, &row)
}

pub(crate) async fn scheduling_info_by_process_guid<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
) -> DbResult<DesiredLrpSchedulingInfo> {
    let row = fetch_one(cx, conn, SCHEDULING_COLUMNS, process_guid, false).await?;
    decode_scheduling(cx, &row)
}

pub(crate) async fn desire<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    lrp: &DesiredLrp,
    now: i64,
) -> DbResult<DesiredLrp> {
    let tag = ModificationTag {
        epoch: super::new_guid(),
        index: 0,
    };
    // What is stored, and what a read gives back (routes as Diego's JSON
    // re-reads them: compacted).
    let (routes_column, routes) = stored_routes(&cx.enc, lrp.routes.as_ref())?;
    let run = codec::run_info(lrp, now);
    let volume_placement = codec::volume_placement(lrp);
    let stmt = cx
        .q(
            "INSERT INTO desired_lrps (process_guid, domain, log_guid, annotation, instances, \
            memory_mb, disk_mb, max_pids, rootfs, routes, volume_placement, \
            modification_tag_epoch, modification_tag_index, placement_tags, run_info, \
            metric_tags, update_strategy) \
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(lrp.process_guid.as_str())
        .bind(lrp.domain.as_str())
        .bind(lrp.log_guid.as_str())
        .bind(lrp.annotation.as_str())
        .bind(lrp.instances)
        .bind(lrp.memory_mb)
        .bind(lrp.disk_mb)
        .bind(lrp.max_pids)
        .bind(lrp.root_fs.as_str())
        .bind(routes_column)
        .bind(encode_proto(&cx.enc, &volume_placement))
        .bind(tag.epoch.as_str())
        .bind(tag.index as i32)
        .bind(encode_placement_tags(&lrp.placement_tags))
        .bind(encode_proto(&cx.enc, &run))
        .bind(encode_metric_tags(&cx.enc, &lrp.metric_tags))
        .bind(lrp.update_strategy);
    cx.exec(conn, &stmt).await?;
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

pub(crate) async fn update<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
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
    let mut routes_column = None;
    if let Some(routes) = &upd.routes {
        let (column, stored) = stored_routes(&cx.enc, Some(routes))?;
        routes_column = Some(column);
        after.routes = Some(stored);
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
    // Only what the update changed is written (as Diego does), so the
    // other columns keep their bytes.
    let mut sets = vec![
        "annotation = ?",
        "instances = ?",
        "modification_tag_index = ?",
    ];
    let mut stmt_args: Vec<Arg> = vec![
        Arg::from(after.annotation.as_str()),
        Arg::I32(after.instances),
        Arg::I32(after.modification_tag.as_ref().map_or(0, |t| t.index) as i32),
    ];
    if let Some(column) = routes_column {
        sets.push("routes = ?");
        stmt_args.push(Arg::from(column));
    }
    if !upd.metric_tags.is_empty() {
        sets.push("metric_tags = ?");
        stmt_args.push(Arg::from(encode_metric_tags(&cx.enc, &after.metric_tags)));
    }
    if upd.optional_image_username.is_some() || upd.optional_image_password.is_some() {
        sets.push("run_info = ?");
        stmt_args.push(Arg::from(encode_proto(&cx.enc, &run)));
    }
    let stmt = cx
        .q(&format!(
            "UPDATE desired_lrps SET {} WHERE process_guid = ?",
            sets.join(", ")
        ))
        .bind_all(stmt_args)
        .bind(process_guid);
    cx.exec(conn, &stmt).await?;
    Ok((before, after))
}

pub(crate) async fn remove<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    process_guid: &str,
) -> DbResult<DesiredLrp> {
    let (lrp, _) = by_process_guid(cx, conn, process_guid, true).await?;
    let stmt = cx
        .q("DELETE FROM desired_lrps WHERE process_guid = ?")
        .bind(process_guid);
    cx.exec(conn, &stmt).await?;
    Ok(lrp)
}

pub(crate) async fn count_instances<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<i64> {
    let stmt = cx.q(&format!(
        "SELECT COALESCE({}, 0) FROM desired_lrps",
        B::sum_i64("instances")
    ));
    match cx.one(conn, &stmt).await? {
        Some(row) => row.get_i64(0),
        None => Ok(0),
    }
}
