//! What differs between the SQL backends. The state logic (in the sibling
//! modules) is written once against this trait; `sqlite.rs` and
//! `postgres.rs` implement it.

use models::BbsError;

/// How a database error should be reported (and whether to retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Unique-key violation → ResourceExists.
    Exists,
    /// Deadlock, serialization failure or a busy database → retry the
    /// transaction, then Deadlock.
    Retry,
    /// Value too long for its column → InvalidRequest.
    BadRequest,
    /// Missing table and the like → Unrecoverable.
    Unrecoverable,
    /// Anything else → UnknownError with the driver's message.
    Other,
}

pub trait Dialect: Send + Sync + 'static {
    /// "sqlite" or "postgres".
    fn name(&self) -> &'static str;

    /// DDL creating the schema; each statement idempotent.
    fn schema(&self) -> &'static [&'static str];

    /// Statements run on every new connection.
    fn connection_setup(&self) -> &'static [&'static str];

    /// Rewrites `?` placeholders to the backend's syntax.
    fn rebind(&self, sql: &str) -> String;

    /// Appended to SELECTs that read a row the transaction will change.
    fn lock_clause(&self) -> &'static str;

    /// Must writers be serialized inside this process (no row locks)?
    fn serialize_writers(&self) -> bool;

    /// INSERT of `columns` into `table` that, when a row with the same
    /// `key` exists, overwrites `update` columns instead.
    fn upsert(&self, table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String;

    /// Classifies a backend error code (SQLSTATE or SQLite extended code).
    fn classify(&self, code: &str) -> ErrorClass;
}

/// Maps a driver error to Diego's error model.
pub fn convert_error(dialect: &dyn Dialect, err: sqlx::Error) -> BbsError {
    match &err {
        sqlx::Error::RowNotFound => BbsError::resource_not_found(),
        sqlx::Error::Database(db) => {
            let class = match db.code() {
                Some(code) => dialect.classify(&code),
                None => ErrorClass::Other,
            };
            let class = if class == ErrorClass::Other && db.is_unique_violation() {
                ErrorClass::Exists
            } else {
                class
            };
            match class {
                ErrorClass::Exists => BbsError::resource_exists(),
                ErrorClass::Retry => BbsError::deadlock(),
                ErrorClass::BadRequest => BbsError::bad_request(),
                ErrorClass::Unrecoverable => BbsError::unrecoverable(db.message()),
                ErrorClass::Other => unknown(format!("{} error: {}", dialect.name(), db.message())),
            }
        }
        sqlx::Error::PoolTimedOut => BbsError::from(models::Error {
            // Diego's Error.Type Timeout
            r#type: 31,
            message: "timed out waiting for a database connection".into(),
        }),
        other => unknown(other.to_string()),
    }
}

fn unknown(message: String) -> BbsError {
    let mut e = BbsError::unknown();
    e.message = message;
    e
}

/// Shared helper: `INSERT ... ON CONFLICT (key) DO UPDATE SET col = excluded.col`
/// (both backends accept this form; each dialect decides to use it).
pub(super) fn on_conflict_upsert(
    table: &str,
    columns: &[&str],
    key: &[&str],
    update: &[&str],
) -> String {
    let placeholders = vec!["?"; columns.len()].join(", ");
    let sets: Vec<String> = update
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({placeholders}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        key.join(", "),
        sets.join(", ")
    )
}
