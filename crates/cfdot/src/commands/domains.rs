//! `domains`, `set-domain`.

use bbs_client::BbsClient;

use crate::cli::{flag, parse_go_duration, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::{bbs, no_args, Out, EXTRA_ARGUMENTS, MISSING_ARGUMENTS};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "domains",
            "domains",
            "List domains",
            "List fresh domains from the BBS",
            FlagGroup::BbsAndTimeout,
        ),
        CommandSpec::new(
            "set-domain",
            "set-domain DOMAIN",
            "Set domain",
            "Mark a domain as fresh for ttl seconds, where 0 or non-specified means keep fresh permanently",
            FlagGroup::BbsAndTimeout,
        )
        .flag(flag("ttl", Some('t'), FlagKind::Duration, "ttl of domain")),
    ]
}

pub async fn run(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Option<Result<(), Failure>> {
    Some(match inv.spec.name {
        "domains" => domains(inv, conn, out).await,
        "set-domain" => set_domain(inv, conn).await,
        _ => return None,
    })
}

async fn domains(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    no_args(inv)?;
    let client = bbs(conn)?;
    let domains = client.domains().await.map_err(Failure::run)?;
    out.json_all(&domains)
}

/// The `--ttl` value in seconds (pflag parses it before any validation).
pub fn ttl_seconds(inv: &Invocation) -> Result<f64, Failure> {
    if !inv.changed("ttl") {
        return Ok(0.0);
    }
    parse_go_duration(&inv.str("ttl")).map_err(|e| inv.invalid("ttl", e))
}

async fn set_domain(inv: &Invocation, conn: &Connection) -> Result<(), Failure> {
    let ttl = ttl_seconds(inv)?;
    let domain = match inv.args.len() {
        0 => return Err(Failure::validation(MISSING_ARGUMENTS)),
        1 if inv.args[0].is_empty() => return Err(Failure::validation("No domain given")),
        1 => inv.args[0].clone(),
        _ => return Err(Failure::validation(EXTRA_ARGUMENTS)),
    };
    if ttl < 0.0 {
        return Err(Failure::validation("ttl is negative"));
    }
    let client = bbs(conn)?;
    // Whole seconds, as Diego's client sends them (`uint32(ttl.Seconds())`).
    let ttl = std::time::Duration::from_secs(ttl as u64);
    client
        .upsert_domain(&domain, ttl)
        .await
        .map_err(Failure::run)
}
