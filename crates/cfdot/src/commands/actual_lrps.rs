//! `actual-lrps`, `retire-actual-lrp`, and the deprecated
//! `actual-lrp-groups`, `actual-lrp-groups-for-guid`.

use bbs_client::{ActualLrpFilter, BbsClient};

use crate::cli::{flag, parse_go_int, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::{
    bbs, no_args, Out, EXTRA_ARGUMENTS, INVALID_INDEX, INVALID_PROCESS_GUID, MISSING_ARGUMENTS,
};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "actual-lrps",
            "actual-lrps",
            "List actual LRPs",
            "List actual LRPs from the BBS",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag(
            "domain",
            Some('d'),
            FlagKind::Str,
            "retrieve only actual lrps for the given domain",
        ))
        .flag(flag(
            "cell-id",
            Some('c'),
            FlagKind::Str,
            "retrieve only actual lrps for the given cell id",
        ))
        .flag(flag(
            "process-guid",
            Some('p'),
            FlagKind::Str,
            "retrieve only actual lrps for the given process guid",
        ))
        .flag(flag(
            "index",
            Some('i'),
            FlagKind::Int32,
            "retrieve only actual lrps for the given index",
        )),
        CommandSpec::new(
            "actual-lrp-groups",
            "actual-lrp-groups",
            "[DEPRECATED] use \"actual-lrps\" command instead. List actual LRP groups",
            "List actual LRP groups from the BBS",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag(
            "domain",
            Some('d'),
            FlagKind::Str,
            "retrieve only actual lrps for the given domain",
        ))
        .flag(flag(
            "cell-id",
            Some('c'),
            FlagKind::Str,
            "retrieve only actual lrps for the given cell id",
        ))
        .deprecated("use \"actual-lrps\" instead."),
        CommandSpec::new(
            "actual-lrp-groups-for-guid",
            "actual-lrp-groups-for-guid PROCESS_GUID",
            "[DEPRECATED] use \"actual-lrps\" command with the \"--process-guid\" flag instead. List actual LRP groups for a process guid",
            "List actual LRP groups from the BBS for a given process guid. Process guids can be obtained by running cfdot actual-lrp-groups",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag(
            "index",
            Some('i'),
            FlagKind::Str,
            "retrieve actual lrp for the given index",
        ))
        .deprecated("use \"actual-lrps\" with the \"--process-guid\" flag instead."),
        CommandSpec::new(
            "retire-actual-lrp",
            "retire-actual-lrp PROCESS_GUID INDEX",
            "Retire actual LRP by index and process guid",
            "Retire actual LRP by index and process guid",
            FlagGroup::BbsAndTimeout,
        ),
    ]
}

pub async fn run(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Option<Result<(), Failure>> {
    Some(match inv.spec.name {
        "actual-lrps" => actual_lrps(inv, conn, out).await,
        "actual-lrp-groups" => groups(inv, conn, out).await,
        "actual-lrp-groups-for-guid" => groups_for_guid(inv, conn, out).await,
        "retire-actual-lrp" => retire(inv, conn).await,
        _ => return None,
    })
}

async fn actual_lrps(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    no_args(inv)?;
    let client = bbs(conn)?;
    let index = if inv.changed("index") {
        let i = parse_go_int(&inv.str("index"), 32).map_err(|e| inv.invalid("index", e))?;
        Some(i as i32)
    } else {
        None
    };
    let filter = ActualLrpFilter {
        domain: inv.str("domain"),
        cell_id: inv.str("cell-id"),
        process_guid: inv.str("process-guid"),
        index,
    };
    let lrps = client.actual_lrps(&filter).await.map_err(Failure::run)?;
    out.json_all(&lrps)
}

async fn groups(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    no_args(inv)?;
    let client = bbs(conn)?;
    let filter = ActualLrpFilter {
        domain: inv.str("domain"),
        cell_id: inv.str("cell-id"),
        ..Default::default()
    };
    let groups = client
        .actual_lrp_groups(&filter)
        .await
        .map_err(Failure::run)?;
    out.json_all(&groups)
}

/// A non-negative index as cfdot reads it (`strconv.Atoi`).
fn index_arg(s: &str) -> Result<i32, Failure> {
    match s.parse::<i64>() {
        Ok(i) if i >= 0 => Ok(i as i32),
        _ => Err(Failure::validation(INVALID_INDEX)),
    }
}

async fn groups_for_guid(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    let process_guid = match inv.args.len() {
        0 => return Err(Failure::validation(MISSING_ARGUMENTS)),
        1 if inv.args[0].is_empty() => return Err(Failure::validation(INVALID_PROCESS_GUID)),
        1 => inv.args[0].clone(),
        _ => return Err(Failure::validation(EXTRA_ARGUMENTS)),
    };
    let index = inv.str("index");
    let index = if index.is_empty() {
        None
    } else {
        Some(index_arg(&index)?)
    };
    let client = bbs(conn)?;
    match index {
        None => {
            let groups = client
                .actual_lrp_groups_by_process_guid(&process_guid)
                .await
                .map_err(Failure::run)?;
            out.json_all(&groups)
        }
        Some(index) => {
            let group = client
                .actual_lrp_group_by_process_guid_and_index(&process_guid, index)
                .await
                .map_err(Failure::run)?;
            out.json_opt(group.as_ref())
        }
    }
}

async fn retire(inv: &Invocation, conn: &Connection) -> Result<(), Failure> {
    if inv.args.len() < 2 {
        return Err(Failure::validation(MISSING_ARGUMENTS));
    }
    if inv.args.len() > 2 {
        return Err(Failure::validation(EXTRA_ARGUMENTS));
    }
    if inv.args[0].is_empty() {
        return Err(Failure::validation(INVALID_PROCESS_GUID));
    }
    let process_guid = inv.args[0].clone();
    let index = index_arg(&inv.args[1])?;
    let client = bbs(conn)?;
    // cfdot looks the desired LRP up for its domain first.
    let domain = client
        .desired_lrp_by_process_guid(&process_guid)
        .await
        .map_err(Failure::run)?
        .map(|d| d.domain)
        .unwrap_or_default();
    let key = models::ActualLrpKey {
        process_guid,
        index,
        domain,
    };
    client.retire_actual_lrp(&key).await.map_err(Failure::run)
}
