//! `lrp-events`, `task-events`: subscribe to the BBS event streams and
//! print each event as `{"type":TYPE,"data":EVENT}`, one per line, until
//! the streams end.

use bbs_client::{BbsClient, EventStream, HttpBbsClient};
use futures::StreamExt;
use models::events::{ACTUAL_LRP_CHANGED, ACTUAL_LRP_CREATED, ACTUAL_LRP_REMOVED};

use crate::cli::{flag, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::error::Failure;
use crate::flags::Connection;
use crate::sse::event_line;

use super::{bbs, no_args, Out};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "lrp-events",
            "lrp-events",
            "Subscribe to BBS LRP events",
            "Subscribe to BBS LRP events",
            FlagGroup::Bbs,
        )
        .flag(flag(
            "cell-id",
            Some('c'),
            FlagKind::Str,
            "retrieve only events for the given cell id",
        ))
        .flag(flag(
            "exclude-actual-lrp-groups",
            Some('x'),
            FlagKind::Bool,
            "exclude actual lrp group events",
        )),
        CommandSpec::new(
            "task-events",
            "task-events",
            "Subscribe to BBS Task events",
            "Subscribe to BBS Task events",
            FlagGroup::Bbs,
        ),
    ]
}

pub async fn run(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Option<Result<(), Failure>> {
    Some(match inv.spec.name {
        "lrp-events" => lrp_events(inv, conn, out).await,
        "task-events" => task_events(inv, conn, out).await,
        _ => return None,
    })
}

/// Subscription failures surface as Diego errors (`models.ConvertError`).
fn subscribe_failure(e: bbs_client::Error) -> Failure {
    match e {
        bbs_client::Error::Bbs(_) => Failure::run(e),
        other => Failure::run(bbs_client::Error::new(
            models::ErrorType::UnknownError,
            other.to_string(),
        )),
    }
}

/// Which stream to open.
enum Source<'a> {
    Tasks,
    Instances(&'a str),
    Groups(&'a str),
}

async fn subscribe(client: &HttpBbsClient, source: Source<'_>) -> Result<EventStream, Failure> {
    match source {
        Source::Tasks => client.subscribe_to_task_events().await,
        Source::Instances(cell_id) => client.subscribe_to_instance_events(cell_id).await,
        Source::Groups(cell_id) => client.subscribe_to_events(cell_id).await,
    }
    .map_err(subscribe_failure)
}

async fn task_events(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    no_args(inv)?;
    let client = bbs(conn)?;
    let mut stream = subscribe(&client, Source::Tasks).await?;
    while let Some(item) = stream.next().await {
        let event = item.map_err(|e| Failure::other(e.to_string()))?;
        out.raw(&event_line(&event))?;
    }
    Ok(())
}

/// hashicorp/go-multierror's rendering.
fn multierror(errs: &[String]) -> String {
    let head = if errs.len() == 1 {
        "1 error occurred:".to_string()
    } else {
        format!("{} errors occurred:", errs.len())
    };
    let items: Vec<String> = errs.iter().map(|e| format!("\t* {e}")).collect();
    format!("{head}\n{}\n\n", items.join("\n"))
}

async fn lrp_events(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    no_args(inv)?;
    let exclude_groups = inv.changed("exclude-actual-lrp-groups")
        && crate::cli::parse_go_bool(&inv.str("exclude-actual-lrp-groups")).unwrap_or(false);
    if !exclude_groups {
        let _ = writeln!(
            out.stderr,
            "Event types \"actual_lrp_created\", \"actual_lrp_changed\" and \"actual_lrp_removed\" are deprecated. Use \"--exclude-actual-lrp-groups\" flag to exclude them."
        );
    }
    let client = bbs(conn)?;
    let cell_id = inv.str("cell-id");
    let mut old = if exclude_groups {
        None
    } else {
        Some(subscribe(&client, Source::Groups(&cell_id)).await?)
    };
    let mut new = Some(subscribe(&client, Source::Instances(&cell_id)).await?);
    let streams = if old.is_some() { 2 } else { 1 };
    // (reached the end cleanly, why) for each stream that stopped.
    let mut errors: Vec<(bool, String)> = Vec::new();
    loop {
        // Each stream stops at its first error, as cfdot's readers do.
        let (from_old, next) = tokio::select! {
            r = async { old.as_mut().unwrap().next().await }, if old.is_some() => (true, r),
            r = async { new.as_mut().unwrap().next().await }, if new.is_some() => (false, r),
        };
        match next {
            Some(Ok(event)) => {
                // From the deprecated stream only the group events are kept.
                if !from_old
                    || [ACTUAL_LRP_CREATED, ACTUAL_LRP_CHANGED, ACTUAL_LRP_REMOVED]
                        .contains(&event.event_type())
                {
                    out.raw(&event_line(&event))?;
                }
                continue;
            }
            Some(Err(e)) => errors.push((false, e.to_string())),
            None => errors.push((true, "EOF".into())),
        }
        if from_old {
            old = None;
        } else {
            new = None;
        }
        if errors.len() >= streams {
            if errors.iter().all(|(eof, _)| *eof) {
                return Ok(());
            }
            let msgs: Vec<String> = errors.into_iter().map(|(_, m)| m).collect();
            return Err(Failure::other(multierror(&msgs)));
        }
    }
}
