//! Tasks: plain state columns plus the task definition as an encrypted blob.

use super::args::where_clause;
use super::codec::{decode_proto, encode_proto, truncate};
use super::ctx::{ColsExt, Ctx};
use crate::db::{DbResult, TaskFilter};
use models::task::State;
use models::{BbsError, Task, TaskDefinition};
use sqldb::{Arg, Backend};

const COLUMNS: &str = "guid, domain, updated_at, created_at, first_completed_at, state, \
    cell_id, result, failed, failure_reason, task_definition, rejection_count, rejection_reason";
const ORDER: &str = " ORDER BY guid";
const MAX_ERROR_LEN: usize = 1024;

fn decode_row<B: Backend>(cx: &Ctx<B>, row: &B::Row) -> DbResult<Task> {
    let definition = row.get_str(10)?;
    Ok(Task {
        task_guid: row.get_str(0)?,
        domain: row.get_str(1)?,
        updated_at: row.get_i64(2)?,
        created_at: row.get_i64(3)?,
        first_completed_at: row.get_i64(4)?,
        state: row.get_i32(5)?,
        cell_id: row.get_str(6)?,
        result: row.get_str(7)?,
        failed: row.get_bool(8)?,
        failure_reason: row.get_str(9)?,
        task_definition: Some(decode_proto::<TaskDefinition>(
            &cx.enc,
            "task_definition",
            &definition,
        )?),
        rejection_count: row.get_i32(11)?,
        rejection_reason: row.get_str(12)?,
    })
}

pub(crate) async fn list<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    filter: &TaskFilter,
) -> DbResult<Vec<Task>> {
    let mut wheres = Vec::new();
    let mut args = Vec::new();
    if !filter.domain.is_empty() {
        wheres.push("domain = ?".to_string());
        args.push(Arg::from(filter.domain.as_str()));
    }
    if !filter.cell_id.is_empty() {
        wheres.push("cell_id = ?".to_string());
        args.push(Arg::from(filter.cell_id.as_str()));
    }
    let stmt = cx
        .q(&format!(
            "SELECT {COLUMNS} FROM tasks{}{ORDER}",
            where_clause(&wheres)
        ))
        .bind_all(args);
    let rows = cx.all(conn, &stmt).await?;
    Ok(rows
        .iter()
        .filter_map(|r| match decode_row(cx, r) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "skipping undecodable task row");
                None
            }
        })
        .collect())
}

/// One page of tasks in guid order after `after` (a keyset read; see
/// [`crate::db::Store::tasks_page`]).
pub(crate) async fn page<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    filter: &TaskFilter,
    after: Option<&str>,
    limit: usize,
) -> DbResult<crate::db::Page<Task>> {
    let limit = limit.max(1);
    let mut wheres = Vec::new();
    let mut args = Vec::new();
    if !filter.domain.is_empty() {
        wheres.push("domain = ?".to_string());
        args.push(Arg::from(filter.domain.as_str()));
    }
    if !filter.cell_id.is_empty() {
        wheres.push("cell_id = ?".to_string());
        args.push(Arg::from(filter.cell_id.as_str()));
    }
    if let Some(a) = after {
        wheres.push("guid > ?".to_string());
        args.push(Arg::from(a));
    }
    let stmt = cx
        .q(&format!(
            "SELECT {COLUMNS} FROM tasks{}{ORDER} LIMIT {limit}",
            where_clause(&wheres)
        ))
        .bind_all(args);
    let rows = cx.all(conn, &stmt).await?;
    let next = if rows.len() == limit {
        rows.last().map(|r| r.get_str(0)).transpose()?
    } else {
        None
    };
    let items = rows
        .iter()
        .filter_map(|r| match decode_row(cx, r) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "skipping undecodable task row");
                None
            }
        })
        .collect();
    Ok(crate::db::Page { items, next })
}

pub(crate) async fn by_guid<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    lock: bool,
) -> DbResult<Task> {
    let base = format!("SELECT {COLUMNS} FROM tasks WHERE guid = ?");
    let stmt = if lock { cx.q_lock(&base) } else { cx.q(&base) }.bind(task_guid);
    let row = cx
        .one(conn, &stmt)
        .await?
        .ok_or_else(BbsError::resource_not_found)?;
    decode_row(cx, &row)
}

/// Writes the mutable state columns of `task`.
async fn save<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn, task: &Task) -> DbResult<()> {
    let stmt = cx
        .q(
            "UPDATE tasks SET updated_at = ?, first_completed_at = ?, state = ?, cell_id = ?, \
            result = ?, failed = ?, failure_reason = ?, rejection_count = ?, \
            rejection_reason = ? WHERE guid = ?",
        )
        .bind(task.updated_at)
        .bind(task.first_completed_at)
        .bind(task.state)
        .bind(task.cell_id.as_str())
        .bind(task.result.as_str())
        .bind(task.failed)
        .bind(task.failure_reason.as_str())
        .bind(task.rejection_count)
        .bind(task.rejection_reason.as_str())
        .bind(task.task_guid.as_str());
    cx.exec(conn, &stmt).await?;
    Ok(())
}

pub(crate) async fn desire<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    definition: &TaskDefinition,
    task_guid: &str,
    domain: &str,
    now: i64,
) -> DbResult<Task> {
    let stmt = cx
        .q(
            "INSERT INTO tasks (guid, domain, created_at, updated_at, first_completed_at, state, \
            task_definition, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(task_guid)
        .bind(domain)
        .bind(now)
        .bind(now)
        .bind(0i64)
        .bind(State::Pending as i32)
        .bind(encode_proto(&cx.enc, definition))
        .bind("");
    cx.exec(conn, &stmt).await?;
    Ok(Task {
        task_definition: Some(definition.clone()),
        task_guid: task_guid.to_string(),
        domain: domain.to_string(),
        created_at: now,
        updated_at: now,
        first_completed_at: 0,
        state: State::Pending as i32,
        ..Default::default()
    })
}

pub(crate) async fn start<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    cell_id: &str,
    now: i64,
) -> DbResult<(Task, Task, bool)> {
    let before = by_guid(cx, conn, task_guid, true).await?;
    if before.state() == State::Running && before.cell_id == cell_id {
        return Ok((before.clone(), before, false));
    }
    before.validate_transition_to(State::Running)?;
    let mut after = before.clone();
    after.state = State::Running as i32;
    after.updated_at = now;
    after.cell_id = cell_id.to_string();
    save(cx, conn, &after).await?;
    Ok((before, after, true))
}

fn complete(task: &mut Task, failed: bool, failure_reason: &str, result: &str, now: i64) {
    task.state = State::Completed as i32;
    task.updated_at = now;
    task.first_completed_at = now;
    task.failed = failed;
    task.failure_reason = truncate(failure_reason, MAX_ERROR_LEN);
    task.result = result.to_string();
    task.cell_id.clear();
}

/// Pending or Running → Completed(failed) (cancel and the deprecated fail).
fn check_cancellable(task: &Task) -> DbResult<()> {
    match task.validate_transition_to(State::Completed) {
        Ok(()) => Ok(()),
        Err(_) if task.state() == State::Pending => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) async fn cancel<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    now: i64,
) -> DbResult<(Task, Task, String)> {
    let before = by_guid(cx, conn, task_guid, true).await?;
    check_cancellable(&before)?;
    let cell_id = before.cell_id.clone();
    let mut after = before.clone();
    complete(&mut after, true, "task was cancelled", "", now);
    save(cx, conn, &after).await?;
    Ok((before, after, cell_id))
}

pub(crate) async fn fail<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    failure_reason: &str,
    now: i64,
) -> DbResult<(Task, Task)> {
    let before = by_guid(cx, conn, task_guid, true).await?;
    check_cancellable(&before)?;
    let mut after = before.clone();
    complete(&mut after, true, failure_reason, "", now);
    save(cx, conn, &after).await?;
    Ok((before, after))
}

/// Diego's controller + DB reject: the rejection is recorded (back to
/// Pending, count+1); if the count *before* this rejection had already
/// reached `max_retries`, the task is then failed with the rejection
/// reason. One transaction.
pub(crate) async fn reject<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    rejection_reason: &str,
    max_retries: i32,
    now: i64,
) -> DbResult<(Task, Task)> {
    let before = by_guid(cx, conn, task_guid, true).await?;
    if before.state() != State::Pending && before.state() != State::Running {
        return Err(BbsError::bad_request());
    }
    let mut after = before.clone();
    after.rejection_count += 1;
    after.rejection_reason = truncate(rejection_reason, MAX_ERROR_LEN);
    after.state = State::Pending as i32;
    after.updated_at = now;
    if before.rejection_count >= max_retries {
        complete(&mut after, true, rejection_reason, "", now);
    }
    save(cx, conn, &after).await?;
    Ok((before, after))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn complete_task<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    cell_id: &str,
    failed: bool,
    failure_reason: &str,
    result: &str,
    now: i64,
) -> DbResult<(Task, Task)> {
    let before = by_guid(cx, conn, task_guid, true).await?;
    if before.cell_id != cell_id && before.state() == State::Running {
        return Err(BbsError::running_on_different_cell(
            cell_id,
            &before.cell_id,
        ));
    }
    before.validate_transition_to(State::Completed)?;
    let mut after = before.clone();
    complete(&mut after, failed, failure_reason, result, now);
    save(cx, conn, &after).await?;
    Ok((before, after))
}

pub(crate) async fn resolving<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
    now: i64,
) -> DbResult<(Task, Task)> {
    let before = by_guid(cx, conn, task_guid, true).await?;
    before.validate_transition_to(State::Resolving)?;
    let mut after = before.clone();
    after.state = State::Resolving as i32;
    after.updated_at = now;
    save(cx, conn, &after).await?;
    Ok((before, after))
}

pub(crate) async fn delete<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    task_guid: &str,
) -> DbResult<Task> {
    let task = by_guid(cx, conn, task_guid, true).await?;
    if task.state() != State::Resolving {
        return Err(BbsError::task_transition(task.state(), State::Resolving));
    }
    let stmt = cx.q("DELETE FROM tasks WHERE guid = ?").bind(task_guid);
    cx.exec(conn, &stmt).await?;
    Ok(task)
}
