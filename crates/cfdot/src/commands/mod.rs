//! cfdot's commands, one module per command group. Each module lists its
//! commands (`specs`) and runs the ones it owns (`run` answers `None` for
//! commands of other groups).

use std::io::Write;

use models::json::{GoCodec, GoJson};

use crate::cli::{CommandSpec, Invocation};
use crate::error::{go_os_error_text, Failure};
use crate::flags::Connection;
use bbs_client::{ClientConfig, HttpBbsClient};

pub mod actual_lrps;
pub mod cell_state;
pub mod cells;
pub mod desired_lrps;
pub mod domains;
pub mod events;
pub mod locket;
pub mod tasks;

/// Where a command writes.
pub struct Out<'a> {
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

impl Out<'_> {
    /// Writes one line as Go's `json.Encoder.Encode` would.
    pub fn json<T: GoCodec + ?Sized>(&mut self, v: &T) -> Result<(), Failure> {
        self.raw(&v.to_go_json_line())
    }

    pub fn json_all<'t, T: GoCodec + 't>(
        &mut self,
        items: impl IntoIterator<Item = &'t T>,
    ) -> Result<(), Failure> {
        for i in items {
            self.json(i)?;
        }
        Ok(())
    }

    /// Go's `Encode` of a possibly-nil pointer (`null` when absent).
    pub fn json_opt<T: GoCodec>(&mut self, v: Option<&T>) -> Result<(), Failure> {
        match v {
            Some(v) => self.json(v),
            None => self.raw("null\n"),
        }
    }

    pub fn raw(&mut self, s: &str) -> Result<(), Failure> {
        self.stdout
            .write_all(s.as_bytes())
            .and_then(|_| self.stdout.flush())
            .map_err(|e| Failure::other(format!("write stdout: {e}")))
    }
}

/// Every command cfdot knows.
pub fn specs() -> Vec<CommandSpec> {
    let mut v = Vec::new();
    v.extend(domains::specs());
    v.extend(desired_lrps::specs());
    v.extend(actual_lrps::specs());
    v.extend(tasks::specs());
    v.extend(cells::specs());
    v.extend(events::specs());
    v.extend(locket::specs());
    v.extend(cell_state::specs());
    v
}

/// Runs the invoked command.
pub async fn run(inv: &Invocation, conn: &Connection, out: &mut Out<'_>) -> Result<(), Failure> {
    if let Some(r) = domains::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = desired_lrps::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = actual_lrps::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = tasks::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = cells::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = events::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = locket::run(inv, conn, out).await {
        return r;
    }
    if let Some(r) = cell_state::run(inv, conn, out).await {
        return r;
    }
    Err(Failure::other(format!(
        "command {} has no implementation",
        inv.spec.name
    )))
}

pub const MISSING_ARGUMENTS: &str = "Missing arguments";
pub const EXTRA_ARGUMENTS: &str = "Too many arguments specified";
pub const INVALID_PROCESS_GUID: &str = "Process guid should be non empty string";
pub const INVALID_INDEX: &str = "Index must be a non-negative integer";

/// A BBS client for the run (`helpers.NewBBSClient`): TLS only for an
/// `https` URL, one attempt per call (cfdot's `Retries: 1`).
pub fn bbs(conn: &Connection) -> Result<HttpBbsClient, Failure> {
    let flags = &conn.bbs;
    let tls = flags
        .url
        .starts_with("https")
        .then(|| tlsconfig::ClientTls {
            ca: (!flags.skip_cert_verify).then(|| tlsconfig::Pem::file(&flags.ca_cert_file)),
            identity: Some((
                tlsconfig::Pem::file(&flags.cert_file),
                tlsconfig::Pem::file(&flags.key_file),
            )),
            skip_verify: flags.skip_cert_verify,
        });
    let mut cfg = ClientConfig::new(&flags.url).with_tls(tls).with_retries(1);
    if flags.timeout_secs > 0 {
        cfg.request_timeout = Some(std::time::Duration::from_secs(flags.timeout_secs));
    }
    cfg.user_agent = Some("cfdot".into());
    HttpBbsClient::new(&cfg).map_err(Failure::run)
}

/// Commands that take no positional arguments.
pub fn no_args(inv: &Invocation) -> Result<(), Failure> {
    if !inv.args.is_empty() {
        return Err(Failure::validation(EXTRA_ARGUMENTS));
    }
    Ok(())
}

/// Commands that take exactly one non-empty argument.
pub fn one_arg(inv: &Invocation, empty: &str) -> Result<String, Failure> {
    match inv.args.len() {
        0 => Err(Failure::validation(MISSING_ARGUMENTS)),
        1 if inv.args[0].is_empty() => Err(Failure::validation(empty)),
        1 => Ok(inv.args[0].clone()),
        _ => Err(Failure::validation(EXTRA_ARGUMENTS)),
    }
}

/// A `SPEC|@FILE` argument's JSON text. `Err` carries the Go error text.
pub fn read_spec(arg: &str) -> Result<String, String> {
    let Some(path) = arg.strip_prefix('@') else {
        return Ok(arg.to_string());
    };
    std::fs::metadata(path).map_err(|e| format!("stat {path}: {}", go_os_error_text(&e)))?;
    let bytes =
        std::fs::read(path).map_err(|e| format!("open {path}: {}", go_os_error_text(&e)))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Decodes a spec as cfdot does (`json.Unmarshal` into a model pointer).
pub fn decode_spec<T: GoCodec + Default>(spec: &str) -> Result<T, Failure> {
    models::json::from_go_json::<T>(spec)
        .map_err(|e| Failure::validation(format!("Invalid JSON: {e}")))
}
