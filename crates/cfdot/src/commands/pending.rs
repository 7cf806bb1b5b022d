//! Commands whose implementations live elsewhere and are not wired in yet:
//! the rep commands (`cell-state`, `cell-states`). They fail clearly
//! (exit 5) until their modules land.

use crate::cli::{CommandSpec, FlagGroup, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::Out;

const PENDING: &[(&str, &str, &str, FlagGroup)] = &[
    (
        "cell-state",
        "cell-state CELL_ID",
        "Show the specified cell state",
        FlagGroup::BbsAndTimeout,
    ),
    (
        "cell-states",
        "cell-states",
        "Show cell states for all cells",
        FlagGroup::BbsAndTimeout,
    ),
];

pub fn specs() -> Vec<CommandSpec> {
    PENDING
        .iter()
        .map(|(name, usage, short, group)| CommandSpec::new(name, usage, short, short, *group))
        .collect()
}

pub async fn run(
    inv: &Invocation,
    _conn: &Connection,
    _out: &mut Out<'_>,
) -> Option<Result<(), Failure>> {
    if PENDING.iter().any(|(name, ..)| *name == inv.spec.name) {
        return Some(Err(Failure::other(format!(
            "{} is not implemented yet",
            inv.spec.name
        ))));
    }
    None
}
