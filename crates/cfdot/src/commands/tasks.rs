//! `tasks`, `task`, `create-task`, `cancel-task`, `delete-task`.

use bbs_client::{BbsClient, TaskFilter};

use crate::cli::{flag, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::{
    bbs, decode_spec, no_args, one_arg, read_spec, Out, EXTRA_ARGUMENTS, INVALID_PROCESS_GUID,
    MISSING_ARGUMENTS,
};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "tasks",
            "tasks",
            "List tasks in BBS",
            "List all tasks in BBS",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag(
            "domain",
            Some('d'),
            FlagKind::Str,
            "retrieve only tasks for the given domain",
        ))
        .flag(flag(
            "cell-id",
            Some('c'),
            FlagKind::Str,
            "retrieve only tasks for the given cell-id",
        )),
        CommandSpec::new(
            "task",
            "task TASK_GUID",
            "Display task",
            "Retrieve the specified task",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "create-task",
            "create-task (SPEC|@FILE)",
            "Create a Task",
            "Create a Task from the given spec. Spec can either be json encoded task, e.g. '{\"task_guid\":\"some-guid\"}' or a file containing json encoded task, e.g. @/path/to/spec/file",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "cancel-task",
            "cancel-task TASK_GUID",
            "Cancel task",
            "Cancel the specified task",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "delete-task",
            "delete-task TASK_GUID",
            "Delete a Task",
            "Delete a Task with the given task guid.",
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
        "tasks" => tasks(inv, conn, out).await,
        "task" => task(inv, conn, out).await,
        "create-task" => create(inv, conn).await,
        "cancel-task" => lifecycle(inv, conn, &[Step::Cancel]).await,
        "delete-task" => {
            // cfdot moves the task to resolving, then deletes it.
            if let Err(e) = one_arg(inv, INVALID_PROCESS_GUID) {
                return Some(Err(e));
            }
            lifecycle(inv, conn, &[Step::Resolving, Step::Delete]).await
        }
        _ => return None,
    })
}

/// `task` and `cancel-task` take one task guid (an empty one counts as
/// missing).
fn task_guid(inv: &Invocation) -> Result<String, Failure> {
    match inv.args.len() {
        0 => Err(Failure::validation(MISSING_ARGUMENTS)),
        _ if inv.args[0].is_empty() => Err(Failure::validation(MISSING_ARGUMENTS)),
        1 => Ok(inv.args[0].clone()),
        _ => Err(Failure::validation(EXTRA_ARGUMENTS)),
    }
}

async fn tasks(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    inv.check_conflict("-d", "--domain")?;
    inv.check_conflict("-c", "--cell-id")?;
    no_args(inv)?;
    let client = bbs(conn)?;
    let filter = TaskFilter {
        domain: inv.str("domain"),
        cell_id: inv.str("cell-id"),
    };
    let tasks = client.tasks(&filter).await.map_err(Failure::run)?;
    out.json_all(&tasks)
}

async fn task(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    let task_guid = task_guid(inv)?;
    let client = bbs(conn)?;
    let task = client
        .task_by_guid(&task_guid)
        .await
        .map_err(Failure::run)?;
    out.json_opt(task.as_ref())
}

async fn create(inv: &Invocation, conn: &Connection) -> Result<(), Failure> {
    if inv.args.len() != 1 {
        return Err(Failure::validation("missing spec argument"));
    }
    let spec = read_spec(&inv.args[0]).map_err(Failure::validation)?;
    // cfdot reads the spec as a Task (definition members promoted).
    let task: models::Task = decode_spec(&spec)?;
    let client = bbs(conn)?;
    client
        .desire_task(&task.task_guid, &task.domain, task.task_definition)
        .await
        .map_err(Failure::run)
}

/// The task calls `cancel-task` and `delete-task` make, in order.
enum Step {
    Cancel,
    Resolving,
    Delete,
}

async fn lifecycle(inv: &Invocation, conn: &Connection, steps: &[Step]) -> Result<(), Failure> {
    let task_guid = task_guid(inv)?;
    let client = bbs(conn)?;
    for step in steps {
        match step {
            Step::Cancel => client.cancel_task(&task_guid).await,
            Step::Resolving => client.resolving_task(&task_guid).await,
            Step::Delete => client.delete_task(&task_guid).await,
        }
        .map_err(Failure::run)?;
    }
    Ok(())
}
