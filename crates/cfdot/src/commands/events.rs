//! `lrp-events`, `task-events`: subscribe to the BBS event streams and
//! print each event as `{"type":TYPE,"data":EVENT}`, one per line, until
//! the streams end.

use crate::cli::{flag, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::client::BbsClient;
use crate::error::{ClientError, Failure};
use crate::flags::Connection;
use crate::sse::{event_line, SseStream, StreamEnd};

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
fn subscribe_failure(e: ClientError) -> Failure {
    match e {
        ClientError::Bbs(_) => Failure::run(e),
        ClientError::Other(msg) => Failure::run(ClientError::Bbs(crate::error::BbsError::new(
            models::ErrorType::UnknownError,
            msg,
        ))),
    }
}

async fn subscribe(
    client: &BbsClient,
    method: reqwest::Method,
    path: &str,
    cell_id: &str,
) -> Result<SseStream, Failure> {
    client
        .subscribe(method, path, cell_id)
        .await
        .map_err(subscribe_failure)
}

async fn task_events(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Result<(), Failure> {
    no_args(inv)?;
    let client = bbs(conn)?;
    let mut stream = subscribe(&client, reqwest::Method::POST, "/v1/events/tasks.r1", "").await?;
    loop {
        match stream.next().await {
            Ok(raw) => {
                let line = event_line(&raw).map_err(Failure::other)?;
                out.raw(&line)?;
            }
            Err(StreamEnd::Eof) => return Ok(()),
            Err(StreamEnd::Error(e)) => return Err(Failure::other(e)),
        }
    }
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
        Some(subscribe(&client, reqwest::Method::GET, "/v1/events.r1", &cell_id).await?)
    };
    let mut new = Some(
        subscribe(
            &client,
            reqwest::Method::POST,
            "/v1/events/lrp_instances.r1",
            &cell_id,
        )
        .await?,
    );
    let streams = if old.is_some() { 2 } else { 1 };
    let mut errors: Vec<(bool, String)> = Vec::new();
    loop {
        // Each stream stops at its first error, as cfdot's readers do.
        let (from_old, next) = tokio::select! {
            r = async { old.as_mut().unwrap().next().await }, if old.is_some() => (true, r),
            r = async { new.as_mut().unwrap().next().await }, if new.is_some() => (false, r),
        };
        let stop = |errors: &mut Vec<(bool, String)>, eof: bool, msg: String| {
            errors.push((eof, msg));
        };
        match next {
            Ok(raw) => match event_line(&raw) {
                Ok(line) => {
                    // From the deprecated stream only the group events are kept.
                    if from_old
                        && !matches!(
                            raw.name.as_str(),
                            "actual_lrp_created" | "actual_lrp_changed" | "actual_lrp_removed"
                        )
                    {
                        continue;
                    }
                    out.raw(&line)?;
                    continue;
                }
                Err(e) => stop(&mut errors, false, e),
            },
            Err(StreamEnd::Eof) => stop(&mut errors, true, "EOF".into()),
            Err(StreamEnd::Error(e)) => stop(&mut errors, false, e),
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
