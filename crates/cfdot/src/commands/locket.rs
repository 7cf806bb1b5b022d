//! The Locket commands: `locks`, `presences`, `claim-lock`,
//! `claim-presence` and `release-lock`.
//!
//! As in Diego's cfdot, every failure after validation (connecting, or an
//! error the server answers) exits 4 and prints the gRPC error the way
//! grpc-go words it (`rpc error: code = AlreadyExists desc = lock-collision`).
//! Listings print one Go-encoded `models.Resource` per line.

use std::time::{Duration, Instant};

use ::locket::client::ClientLocketConfig;
use ::locket::proto::{FetchAllRequest, LockRequest, ReleaseRequest, Resource, TypeCode};
use models::json::escape::write_go_string;

use crate::cli::{flag, parse_go_int, CommandSpec, FlagGroup, FlagKind, Invocation};
use crate::error::Failure;
use crate::flags::Connection;

use super::{no_args, Out};

/// How long cfdot waits for the connection to become ready.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new(
            "locks",
            "locks",
            "List Locket locks",
            "List locks from Locket",
            FlagGroup::Locket,
        ),
        CommandSpec::new(
            "presences",
            "presences",
            "List Locket presences",
            "List presences registered in Locket",
            FlagGroup::Locket,
        ),
        CommandSpec::new(
            "claim-lock",
            "claim-lock",
            "Claim Locket lock",
            "Claims a Locket lock with the given key, owner, and optional value",
            FlagGroup::Locket,
        )
        .flag(flag(
            "key",
            Some('k'),
            FlagKind::Str,
            "the key of the lock being claimed",
        ))
        .flag(flag("owner", Some('o'), FlagKind::Str, "the lock owner"))
        .flag(flag(
            "value",
            Some('v'),
            FlagKind::Str,
            "the value associated with the key",
        ))
        .flag(flag(
            "ttl",
            Some('t'),
            FlagKind::Int,
            "the TTL for the lock",
        )),
        CommandSpec::new(
            "claim-presence",
            "claim-presence",
            "Claim Locket presence",
            "Claims a Locket presence with the given key, owner, and optional value",
            FlagGroup::Locket,
        )
        .flag(flag(
            "key",
            Some('k'),
            FlagKind::Str,
            "the key of the presence being claimed",
        ))
        .flag(flag(
            "owner",
            Some('o'),
            FlagKind::Str,
            "the presence owner",
        ))
        .flag(flag(
            "value",
            Some('v'),
            FlagKind::Str,
            "the value associated with the presence",
        ))
        .flag(flag(
            "ttl",
            Some('t'),
            FlagKind::Int,
            "the TTL for the presence",
        )),
        CommandSpec::new(
            "release-lock",
            "release-lock",
            "Release Locket lock",
            "Releases a Locket lock with the given key and owner",
            FlagGroup::Locket,
        )
        .flag(flag(
            "key",
            Some('k'),
            FlagKind::Str,
            // sic: Diego's help text.
            "the key of the lock being releaseed",
        ))
        .flag(flag("owner", Some('o'), FlagKind::Str, "the lock owner")),
    ]
}

pub async fn run(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
) -> Option<Result<(), Failure>> {
    let r = match inv.spec.name {
        "locks" => list(inv, conn, out, TypeCode::Lock).await,
        "presences" => list(inv, conn, out, TypeCode::Presence).await,
        "claim-lock" => claim(inv, conn, TypeCode::Lock).await,
        "claim-presence" => claim(inv, conn, TypeCode::Presence).await,
        "release-lock" => release(inv, conn).await,
        _ => return None,
    };
    Some(r)
}

/// `NewCFDotComponentError`: exit 4, no usage.
fn component(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        exit_code: 4,
        usage: false,
    }
}

/// grpc-go's name of a status code (`codes.Code.String()`).
fn go_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

/// A failed RPC as cfdot reports it (grpc-go's `status.Error` text).
fn rpc_failure(status: tonic::Status) -> Failure {
    component(format!(
        "rpc error: code = {} desc = {}",
        go_code_name(status.code()),
        status.message()
    ))
}

/// `helpers.NewLocketClient`: connects and waits (up to 10 s) for the
/// connection to be ready, retrying as grpc-go does.
async fn client(conn: &Connection) -> Result<::locket::client::LocketClient, Failure> {
    let loc = &conn.locket_api_location;
    let cfg = if loc.starts_with("http://") {
        // Our extension: plaintext gRPC (see `flags.rs`).
        ClientLocketConfig::insecure(loc.clone())
    } else {
        ClientLocketConfig {
            locket_address: loc.clone(),
            locket_ca_cert_file: conn.bbs.ca_cert_file.clone(),
            locket_client_cert_file: conn.bbs.cert_file.clone(),
            locket_client_key_file: conn.bbs.key_file.clone(),
        }
    };
    if conn.bbs.skip_cert_verify && !loc.starts_with("http://") {
        return crate::locket_tls::connect_skip_verify(&cfg, CONNECT_DEADLINE).await;
    }
    let deadline = Instant::now() + CONNECT_DEADLINE;
    let mut backoff = Duration::from_millis(200);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(component("context deadline exceeded"));
        }
        if let Ok(Ok(c)) = tokio::time::timeout(left, ::locket::client::connect(&cfg)).await {
            return Ok(c);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(backoff.min(left)).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One resource as Go's `json.Encoder` writes a `*models.Resource`
/// (every field `omitempty`; the type code as a number).
#[allow(deprecated)]
pub fn resource_json(r: &Resource) -> String {
    let mut s = String::from("{");
    let mut sep = "";
    for (name, v) in [
        ("key", &r.key),
        ("owner", &r.owner),
        ("value", &r.value),
        ("type", &r.r#type),
    ] {
        if !v.is_empty() {
            s.push_str(sep);
            s.push('"');
            s.push_str(name);
            s.push_str("\":");
            write_go_string(&mut s, v);
            sep = ",";
        }
    }
    if r.type_code != 0 {
        s.push_str(sep);
        s.push_str(&format!("\"type_code\":{}", r.type_code));
    }
    s.push_str("}\n");
    s
}

async fn list(
    inv: &Invocation,
    conn: &Connection,
    out: &mut Out<'_>,
    code: TypeCode,
) -> Result<(), Failure> {
    no_args(inv)?;
    let mut c = client(conn).await?;
    #[allow(deprecated)]
    let req = FetchAllRequest {
        r#type: String::new(),
        type_code: code as i32,
    };
    let resp = c.fetch_all(req).await.map_err(rpc_failure)?.into_inner();
    for r in &resp.resources {
        out.raw(&resource_json(r))?;
    }
    Ok(())
}

/// The key and owner flags, validated as cfdot does.
fn key_owner(inv: &Invocation, with_value_ttl: bool) -> Result<(String, String), Failure> {
    no_args(inv)?;
    inv.check_conflict("-k", "--key")?;
    inv.check_conflict("-o", "--owner")?;
    if with_value_ttl {
        inv.check_conflict("-v", "--value")?;
        inv.check_conflict("-t", "--ttl")?;
    }
    let key = inv.str("key");
    if key.is_empty() {
        return Err(Failure::validation("key cannot be empty"));
    }
    let owner = inv.str("owner");
    if owner.is_empty() {
        return Err(Failure::validation("owner cannot be empty"));
    }
    Ok((key, owner))
}

async fn claim(inv: &Invocation, conn: &Connection, code: TypeCode) -> Result<(), Failure> {
    let (key, owner) = key_owner(inv, true)?;
    let ttl = if inv.changed("ttl") {
        parse_go_int(&inv.str("ttl"), 64).map_err(|e| inv.invalid("ttl", e))?
    } else {
        0
    };
    if ttl <= 0 {
        return Err(Failure::validation(
            "ttl should be an integer greater than zero",
        ));
    }
    let mut c = client(conn).await?;
    #[allow(deprecated)]
    let req = LockRequest {
        resource: Some(Resource {
            key,
            owner,
            value: inv.str("value"),
            r#type: String::new(),
            type_code: code as i32,
        }),
        ttl_in_seconds: ttl,
    };
    c.lock(req).await.map_err(rpc_failure)?;
    Ok(())
}

async fn release(inv: &Invocation, conn: &Connection) -> Result<(), Failure> {
    let (key, owner) = key_owner(inv, false)?;
    let mut c = client(conn).await?;
    let req = ReleaseRequest {
        resource: Some(Resource {
            key,
            owner,
            ..Default::default()
        }),
    };
    c.release(req).await.map_err(rpc_failure)?;
    Ok(())
}
