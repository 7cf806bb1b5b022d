//! `desired-lrps`, `desired-lrp`, `desired-lrp-scheduling-infos`,
//! `create-desired-lrp`, `update-desired-lrp`, `delete-desired-lrp`.

use bbs_client::{BbsClient, DesiredLrpFilter};

use crate::cli::{flag, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::{bbs, decode_spec, no_args, one_arg, read_spec, Out, INVALID_PROCESS_GUID};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "desired-lrps",
            "desired-lrps",
            "List desired LRPs",
            "List desired LRPs from the BBS",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag(
            "domain",
            Some('d'),
            FlagKind::Str,
            "retrieve only desired lrps for the given domain",
        )),
        CommandSpec::new(
            "desired-lrp",
            "desired-lrp PROCESS_GUID",
            "Show the specified desired LRP",
            "Show the desired LRP specified by the given process GUID",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "desired-lrp-scheduling-infos",
            "desired-lrp-scheduling-infos",
            "List desired LRP scheduling infos",
            "List desired LRP scheduling infos from the BBS",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag(
            "domain",
            Some('d'),
            FlagKind::Str,
            "retrieve only scheduling infos for the given domain",
        )),
        CommandSpec::new(
            "create-desired-lrp",
            "create-desired-lrp (SPEC|@FILE)",
            "Create a desired LRP",
            "Create a desired LRP from the given spec. Spec can either be json encoded desired-lrp, e.g. '{\"process_guid\":\"some-guid\"}' or a file containing json encoded desired-lrp, e.g. @/path/to/spec/file",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "update-desired-lrp",
            "update-desired-lrp process-guid (SPEC|@FILE)",
            "Update a desired LRP",
            "Update a desired LRP for a process-guid with the given spec. Spec can either be json encoded update to a desired-lrp, e.g. '{\"instances\":\"4\"}', or a file containing json encoded update to a desired-lrp, e.g. @/path/to/spec/file",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "delete-desired-lrp",
            "delete-desired-lrp PROCESS_GUID",
            "Delete a desired LRP",
            "Delete a desired LRP with the given process guid.",
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
        "desired-lrps" => desired_lrps(inv, conn, out).await,
        "desired-lrp" => desired_lrp(inv, conn, out).await,
        "desired-lrp-scheduling-infos" => scheduling_infos(inv, conn, out).await,
        "create-desired-lrp" => create(inv, conn).await,
        "update-desired-lrp" => update(inv, conn, out).await,
        "delete-desired-lrp" => delete(inv, conn).await,
        _ => return None,
    })
}

async fn desired_lrps(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    inv.check_conflict("-d", "--domain")?;
    no_args(inv)?;
    let client = bbs(conn)?;
    let lrps = client
        .desired_lrps(&domain_filter(inv))
        .await
        .map_err(Failure::run)?;
    out.json_all(&lrps)
}

async fn desired_lrp(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    let process_guid = one_arg(inv, INVALID_PROCESS_GUID)?;
    let client = bbs(conn)?;
    let lrp = client
        .desired_lrp_by_process_guid(&process_guid)
        .await
        .map_err(Failure::run)?;
    out.json_opt(lrp.as_ref())
}

async fn scheduling_infos(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    inv.check_conflict("-d", "--domain")?;
    no_args(inv)?;
    let client = bbs(conn)?;
    let infos = client
        .desired_lrp_scheduling_infos(&domain_filter(inv))
        .await
        .map_err(Failure::run)?;
    out.json_all(&infos)
}

async fn create(inv: &Invocation, conn: &Connection) -> Result<(), Failure> {
    if inv.args.len() != 1 {
        return Err(Failure::validation("missing spec argument"));
    }
    let spec = read_spec(&inv.args[0]).map_err(Failure::validation)?;
    let lrp: models::DesiredLrp = decode_spec(&spec)?;
    let client = bbs(conn)?;
    client.desire_lrp(lrp).await.map_err(Failure::run)
}

async fn update(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    if inv.args.len() != 2 {
        return Err(Failure::validation("Missing arguments"));
    }
    let process_guid = inv.args[0].clone();
    let spec = match read_spec(&inv.args[1]) {
        Ok(s) => s,
        Err(e) => {
            // cfdot also prints a failed stat on its own line first.
            if e.starts_with("stat ") {
                let _ = writeln!(out.stderr, "{e}");
            }
            return Err(Failure::validation(e));
        }
    };
    let update: models::DesiredLrpUpdate = decode_spec(&spec)?;
    let client = bbs(conn)?;
    client
        .update_desired_lrp(&process_guid, update)
        .await
        .map_err(Failure::run)
}

async fn delete(inv: &Invocation, conn: &Connection) -> Result<(), Failure> {
    let process_guid = one_arg(inv, INVALID_PROCESS_GUID)?;
    let client = bbs(conn)?;
    client
        .remove_desired_lrp(&process_guid)
        .await
        .map_err(Failure::run)
}

/// The `--domain` filter of the list commands.
fn domain_filter(inv: &Invocation) -> DesiredLrpFilter {
    DesiredLrpFilter {
        domain: inv.str("domain"),
        ..Default::default()
    }
}
