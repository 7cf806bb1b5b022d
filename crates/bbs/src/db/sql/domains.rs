//! Domains: a name and an expiry (TTL 0 = never expires).

use super::ctx::{ColsExt, Ctx};
use crate::db::DbResult;
use sqldb::Backend;

pub(crate) async fn fresh<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    now_ns: i64,
) -> DbResult<Vec<String>> {
    // Diego compares against "now" rounded to the second.
    let now_rounded = ((now_ns + 500_000_000) / 1_000_000_000) * 1_000_000_000;
    let stmt = cx
        .q("SELECT domain FROM domains WHERE expire_time > ? ORDER BY domain")
        .bind(now_rounded);
    let rows = cx.all(conn, &stmt).await?;
    rows.iter().map(|r| r.get_str(0)).collect()
}

pub(crate) async fn upsert<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    domain: &str,
    ttl_seconds: u32,
    now_ns: i64,
) -> DbResult<()> {
    let expire = if ttl_seconds == 0 {
        i64::MAX
    } else {
        now_ns.saturating_add(i64::from(ttl_seconds) * 1_000_000_000)
    };
    let stmt = cx
        .q(&B::upsert(
            "domains",
            &["domain", "expire_time"],
            &["domain"],
            &["expire_time"],
        ))
        .bind(domain)
        .bind(expire);
    cx.exec(conn, &stmt).await?;
    Ok(())
}
