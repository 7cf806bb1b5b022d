//! Task convergence (Diego's `db/sqldb/task_convergence.go`): one scan of
//! the tasks decides everything; each change is one set-based statement
//! whose WHERE repeats the rule (state and age), so a task that moved on
//! since the scan is left alone.

use super::args::IN_CHUNK;
use super::ctx::{ColsExt, Ctx};
use crate::db::{CellSet, DbResult, TaskConvergenceMetrics};
use models::task::State;
use models::Task;
use sqldb::{Arg, Backend};

/// Diego's failure reason for PENDING tasks past `expire_pending_task_duration`.
pub const EXPIRED_FAILURE_REASON: &str = "not started within time limit";
/// Diego's failure reason for RUNNING tasks whose cell has no presence.
pub const CELL_DISAPPEARED_FAILURE_REASON: &str = "cell disappeared before completion";

/// What the scan decided, before any change is written.
#[derive(Debug, Default)]
pub(crate) struct TaskPlan {
    pub expired_pending: Vec<Task>,
    pub to_auction: Vec<Task>,
    pub lost_cell: Vec<Task>,
    pub stuck_resolving: Vec<Task>,
    pub expired_completed: Vec<Task>,
    pub to_complete: Vec<Task>,
}

/// Applies Diego's rules to the scanned tasks. Thresholds are absolute
/// times in ns (`now - duration`).
pub(crate) fn plan(
    tasks: Vec<Task>,
    cells: &CellSet,
    kick_before: i64,
    expire_pending_before: i64,
    expire_completed_before: i64,
) -> TaskPlan {
    let mut p = TaskPlan::default();
    for t in tasks {
        match t.state() {
            State::Pending => {
                if t.created_at < expire_pending_before {
                    p.expired_pending.push(t);
                } else if t.created_at > expire_pending_before {
                    p.to_auction.push(t);
                }
            }
            State::Running if cells.is_empty() || !cells.contains(&t.cell_id) => {
                p.lost_cell.push(t);
            }
            State::Resolving if t.updated_at < kick_before => {
                // Demoted to COMPLETED; then the completed rules apply.
                p.stuck_resolving.push(t.clone());
                let mut after = t;
                after.state = State::Completed as i32;
                completed_rules(&mut p, after, kick_before, expire_completed_before);
            }
            State::Completed => {
                completed_rules(&mut p, t, kick_before, expire_completed_before);
            }
            _ => {}
        }
    }
    p
}

fn completed_rules(p: &mut TaskPlan, t: Task, kick_before: i64, expire_completed_before: i64) {
    if t.first_completed_at < expire_completed_before {
        p.expired_completed.push(t);
    } else if t.updated_at < kick_before {
        p.to_complete.push(t);
    }
}

/// The task after being failed by convergence.
pub(crate) fn failed(before: &Task, reason: &str, now: i64) -> Task {
    let mut after = before.clone();
    after.failed = true;
    after.failure_reason = reason.to_string();
    after.result = String::new();
    after.state = State::Completed as i32;
    after.first_completed_at = now;
    after.updated_at = now;
    after
}

fn guid_list(n: usize) -> String {
    sqldb::in_list("guid", n)
}

/// Fails the given PENDING (created before `created_before`) or RUNNING
/// tasks; returns the number of rows changed.
pub(crate) async fn fail_tasks<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    tasks: &[Task],
    from: State,
    created_before: Option<i64>,
    reason: &str,
    now: i64,
) -> DbResult<u64> {
    let mut n = 0;
    for chunk in tasks.chunks(IN_CHUNK) {
        let age = if created_before.is_some() {
            " AND created_at < ?"
        } else {
            ""
        };
        let mut q = cx
            .q(&format!(
                "UPDATE tasks SET failed = ?, failure_reason = ?, result = ?, state = ?, \
                 first_completed_at = ?, updated_at = ? WHERE state = ?{age} AND {}",
                guid_list(chunk.len())
            ))
            .once()
            .bind(true)
            .bind(reason)
            .bind("")
            .bind(State::Completed as i32)
            .bind(now)
            .bind(now)
            .bind(from as i32);
        if let Some(t) = created_before {
            q = q.bind(t);
        }
        q = q.bind_all(chunk.iter().map(|t| Arg::from(t.task_guid.as_str())));
        n += cx.exec(conn, &q).await?;
    }
    Ok(n)
}

/// RESOLVING tasks not updated since `updated_before` go back to COMPLETED
/// (only the state changes, as in Diego).
pub(crate) async fn demote_resolving<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    tasks: &[Task],
    updated_before: i64,
) -> DbResult<u64> {
    let mut n = 0;
    for chunk in tasks.chunks(IN_CHUNK) {
        let mut q = cx
            .q(&format!(
                "UPDATE tasks SET state = ? WHERE state = ? AND updated_at < ? AND {}",
                guid_list(chunk.len())
            ))
            .once()
            .bind(State::Completed as i32)
            .bind(State::Resolving as i32)
            .bind(updated_before);
        q = q.bind_all(chunk.iter().map(|t| Arg::from(t.task_guid.as_str())));
        n += cx.exec(conn, &q).await?;
    }
    Ok(n)
}

/// Deletes COMPLETED tasks first completed before `completed_before`.
pub(crate) async fn delete_expired_completed<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    tasks: &[Task],
    completed_before: i64,
) -> DbResult<u64> {
    let mut n = 0;
    for chunk in tasks.chunks(IN_CHUNK) {
        let mut q = cx
            .q(&format!(
                "DELETE FROM tasks WHERE state = ? AND first_completed_at < ? AND {}",
                guid_list(chunk.len())
            ))
            .once()
            .bind(State::Completed as i32)
            .bind(completed_before);
        q = q.bind_all(chunk.iter().map(|t| Arg::from(t.task_guid.as_str())));
        n += cx.exec(conn, &q).await?;
    }
    Ok(n)
}

/// Task counts by state (pending, running, completed, resolving).
pub(crate) async fn counts<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    m: &mut TaskConvergenceMetrics,
) -> DbResult<()> {
    let rows = cx
        .all(
            conn,
            &cx.q("SELECT state, COUNT(*) FROM tasks GROUP BY state"),
        )
        .await?;
    for r in &rows {
        let state = r.get_i32(0)?;
        let n = r.get_i64(1)?;
        match State::try_from(state) {
            Ok(State::Pending) => m.pending = n,
            Ok(State::Running) => m.running = n,
            Ok(State::Completed) => m.completed = n,
            Ok(State::Resolving) => m.resolving = n,
            _ => {}
        }
    }
    Ok(())
}
