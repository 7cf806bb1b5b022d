//! `cells`, `cell`.

use bbs_client::BbsClient;

use crate::cli::{CommandSpec, FlagGroup, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::{bbs, no_args, Out, EXTRA_ARGUMENTS, MISSING_ARGUMENTS};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "cells",
            "cells",
            "List registered cell presences",
            "List registered cell presences from the BBS",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "cell",
            "cell CELL_ID",
            "Show the specified cell presence",
            "Show the cell presence specified by the given cell id",
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
        "cells" => cells(inv, conn, out, None).await,
        "cell" => {
            let id = match inv.args.len() {
                0 => return Some(Err(Failure::validation(MISSING_ARGUMENTS))),
                1 => inv.args[0].clone(),
                _ => return Some(Err(Failure::validation(EXTRA_ARGUMENTS))),
            };
            cells(inv, conn, out, Some(&id)).await
        }
        _ => return None,
    })
}

async fn cells(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
    only: Option<&str>,
) -> Result<(), Failure> {
    if only.is_none() {
        no_args(inv)?;
    }
    let client = bbs(conn)?;
    let cells = client.cells().await.map_err(Failure::run)?;
    match only {
        None => out.json_all(&cells),
        Some(id) => match cells.iter().find(|c| c.cell_id == id) {
            Some(c) => out.json(c),
            None => Err(Failure::other("Cell not found")),
        },
    }
}
