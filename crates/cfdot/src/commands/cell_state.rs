//! `cell-state CELL_ID`, `cell-states`: each cell's rep `/state`, found
//! through the cell presences the BBS lists (cfdot's `cell_state.go`,
//! `cell_states.go`).

use bbs_client::BbsClient;
use rep_client::{ClientConfig, RepClientFactory};

use crate::cli::{CommandSpec, FlagGroup, Invocation};
use crate::error::Failure;
use crate::flags::Connection;
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

/// cfdot's rep client factory (`rep.NewClientFactory`): the BBS TLS flags
/// double as the rep client's certificates when all three are given (no
/// `RequireTLS`), and `GET /state` times out after 10 s.
fn factory(conn: &Connection) -> Result<RepClientFactory, Failure> {
    let f = &conn.bbs;
    let has_creds = !f.ca_cert_file.is_empty() && !f.cert_file.is_empty() && !f.key_file.is_empty();
    let cfg = ClientConfig {
        tls: has_creds
            .then(|| tlsconfig::ClientTls::from_files(&f.ca_cert_file, &f.cert_file, &f.key_file)),
        require_tls: false,
        request_timeout: None,
        state_timeout: Some(std::time::Duration::from_secs(10)),
    };
    RepClientFactory::new(&cfg)
        .map_err(|e| component(format!("Failed creating rep client factory: {e}")))
}

async fn cells(conn: &Connection) -> Result<Vec<models::CellPresence>, bbs_client::Error> {
    let client = bbs(conn).map_err(|f| bbs_client::Error::Transport(f.message))?;
    client.cells().await
}

/// `FetchCellState`: the rep's state, printed as cfdot prints it.
async fn fetch_cell_state(
    factory: &RepClientFactory,
    cell: &models::CellPresence,
    out: &mut Out<'_>,
) -> Result<(), String> {
    let rep = factory
        .client(&cell.rep_address, &cell.rep_url, "")
        .map_err(|e| e.to_string())?;
    let body = rep.state_body().await.map_err(|e| e.to_string())?;
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
        component(format!(
            "BBS error: Failed to get cell registrations from BBS: {e}"
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
