//! Domains: a name and an expiry (TTL 0 = never expires).

use super::Ctx;
use crate::db::DbResult;
use sqlx::{AnyConnection, Row};

pub(crate) async fn fresh(
    cx: &Ctx,
    conn: &mut AnyConnection,
    now_ns: i64,
) -> DbResult<Vec<String>> {
    // Diego compares against "now" rounded to the second.
    let now_rounded = ((now_ns + 500_000_000) / 1_000_000_000) * 1_000_000_000;
    let sql = cx.sql("SELECT domain FROM domains WHERE expire_time > ? ORDER BY domain");
    let rows = sqlx::query(&sql)
        .bind(now_rounded)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(|e| cx.err(e)))
        .collect()
}

pub(crate) async fn upsert(
    cx: &Ctx,
    conn: &mut AnyConnection,
    domain: &str,
    ttl_seconds: u32,
    now_ns: i64,
) -> DbResult<()> {
    let expire = if ttl_seconds == 0 {
        i64::MAX
    } else {
        now_ns.saturating_add(i64::from(ttl_seconds) * 1_000_000_000)
    };
    let sql = cx.sql(&cx.dialect.upsert(
        "domains",
        &["domain", "expire_time"],
        &["domain"],
        &["expire_time"],
    ));
    sqlx::query(&sql)
        .bind(domain)
        .bind(expire)
        .execute(&mut *conn)
        .await
        .map_err(|e| cx.err(e))?;
    Ok(())
}
