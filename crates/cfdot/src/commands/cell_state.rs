//! `cell-state CELL_ID`, `cell-states`: each cell's rep `/state`, found
//! through the cell presences the BBS lists (cfdot's `cell_state.go`,
//! `cell_states.go`).

use crate::cli::{CommandSpec, FlagGroup, Invocation};
use crate::error::{ClientError, Failure};
use crate::flags::Connection;
use crate::rep_client::RepClientFactory;
use crate::rep_state::cell_state_line;

use super::{bbs, no_args, Out, EXTRA_ARGUMENTS, MISSING_ARGUMENTS};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "cell-state",
            "cell-state CELL_ID",
            "Show the specified cell state",
            "Show the cell state specified by the given cell id",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "cell-states",
            "cell-states",
            "Show cell states for all cells",
            "Show the cell state for all the cells",
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
        "cell-state" => cell_state(inv, conn, out).await,
        "cell-states" => cell_states(inv, conn, out).await,
        _ => return None,
    })
}

/// `NewCFDotComponentError`: exit 4, no usage.
fn component(message: String) -> Failure {
    Failure {
        message,
        exit_code: 4,
        usage: false,
    }
}

fn factory(conn: &Connection) -> Result<RepClientFactory, Failure> {
    RepClientFactory::new(&conn.bbs)
        .map_err(|e| component(format!("Failed creating rep client factory: {e}")))
}

async fn cells(conn: &Connection) -> Result<Vec<models::CellPresence>, ClientError> {
    let client = bbs(conn).map_err(|f| ClientError::Other(f.message))?;
    let resp: models::CellsResponse = client.call::<(), _>("/v1/cells/list.r1", None).await?;
    Ok(resp.cells)
}

/// `FetchCellState`: the rep's state, printed as cfdot prints it.
async fn fetch_cell_state(
    factory: &RepClientFactory,
    cell: &models::CellPresence,
    out: &mut Out<'_>,
) -> Result<(), String> {
    let base = factory.pick_url(&cell.rep_address, &cell.rep_url)?;
    let body = factory.state(&base).await?;
    let line = cell_state_line(&body)?;
    out.raw(&line).map_err(|f| f.message)
}

async fn cell_state(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    let id = match inv.args.len() {
        0 => return Err(Failure::validation(MISSING_ARGUMENTS)),
        1 => inv.args[0].clone(),
        _ => return Err(Failure::validation(EXTRA_ARGUMENTS)),
    };
    bbs(conn)?;
    let all = cells(conn).await.map_err(Failure::run)?;
    let Some(cell) = all.into_iter().find(|c| c.cell_id == id) else {
        return Err(Failure::other("Cell not found"));
    };
    let factory = factory(conn)?;
    fetch_cell_state(&factory, &cell, out).await.map_err(|e| {
        component(format!(
            "Rep error: Failed to get cell state for cell {id}: {e}"
        ))
    })
}

async fn cell_states(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    no_args(inv)?;
    bbs(conn)?;
    let factory = factory(conn)?;
    let all = cells(conn).await.map_err(|e| {
        // Go's `models.Error.Error()` is the bare message.
        let text = match e {
            ClientError::Bbs(b) => b.message,
            ClientError::Other(s) => s,
        };
        component(format!(
            "BBS error: Failed to get cell registrations from BBS: {text}"
        ))
    })?;
    let mut errs = String::new();
    for cell in &all {
        if let Err(e) = fetch_cell_state(&factory, cell, out).await {
            errs += &format!(
                "Rep error: Failed to get cell state for cell {}: {e}\n",
                cell.cell_id
            );
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(component(errs))
    }
}
