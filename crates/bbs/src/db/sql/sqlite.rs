//! SQLite: the embedded default. One database file in WAL mode; readers
//! run concurrently, writers are serialized inside the process (a single
//! writer at a time, so SQLITE_BUSY cannot reach callers).

use super::dialect::{on_conflict_upsert, Dialect, ErrorClass};

pub struct Sqlite;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS configurations (
        id TEXT PRIMARY KEY,
        value TEXT
    )",
    "CREATE TABLE IF NOT EXISTS domains (
        domain TEXT PRIMARY KEY,
        expire_time INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS domains_expire_time_idx ON domains (expire_time)",
    "CREATE TABLE IF NOT EXISTS desired_lrps (
        process_guid TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        log_guid TEXT NOT NULL,
        annotation TEXT NOT NULL DEFAULT '',
        instances INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        disk_mb INTEGER NOT NULL,
        max_pids INTEGER NOT NULL DEFAULT 0,
        rootfs TEXT NOT NULL,
        routes TEXT NOT NULL,
        volume_placement TEXT NOT NULL,
        modification_tag_epoch TEXT NOT NULL,
        modification_tag_index INTEGER NOT NULL DEFAULT 0,
        run_info TEXT NOT NULL,
        placement_tags TEXT NOT NULL DEFAULT '[]',
        metric_tags TEXT NOT NULL,
        update_strategy INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS desired_lrps_domain_idx ON desired_lrps (domain)",
    "CREATE TABLE IF NOT EXISTS actual_lrps (
        process_guid TEXT NOT NULL,
        instance_index INTEGER NOT NULL,
        presence INTEGER NOT NULL DEFAULT 0,
        domain TEXT NOT NULL,
        state TEXT NOT NULL,
        instance_guid TEXT NOT NULL DEFAULT '',
        cell_id TEXT NOT NULL DEFAULT '',
        placement_error TEXT NOT NULL DEFAULT '',
        since INTEGER NOT NULL DEFAULT 0,
        net_info TEXT NOT NULL,
        internal_routes TEXT NOT NULL,
        metric_tags TEXT NOT NULL,
        routable INTEGER NOT NULL DEFAULT 0,
        availability_zone TEXT NOT NULL DEFAULT '',
        modification_tag_epoch TEXT NOT NULL,
        modification_tag_index INTEGER NOT NULL DEFAULT 0,
        crash_count INTEGER NOT NULL DEFAULT 0,
        crash_reason TEXT NOT NULL DEFAULT '',
        expire_time INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (process_guid, instance_index, presence)
    )",
    "CREATE INDEX IF NOT EXISTS actual_lrps_domain_idx ON actual_lrps (domain)",
    "CREATE INDEX IF NOT EXISTS actual_lrps_cell_id_idx ON actual_lrps (cell_id)",
    "CREATE INDEX IF NOT EXISTS actual_lrps_state_idx ON actual_lrps (state)",
    "CREATE INDEX IF NOT EXISTS actual_lrps_since_idx ON actual_lrps (since)",
    // Convergence looks for the few EVACUATING rows among all.
    "CREATE INDEX IF NOT EXISTS actual_lrps_presence_idx ON actual_lrps (presence)",
    "CREATE TABLE IF NOT EXISTS tasks (
        guid TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        updated_at INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL DEFAULT 0,
        first_completed_at INTEGER NOT NULL DEFAULT 0,
        state INTEGER NOT NULL,
        cell_id TEXT NOT NULL DEFAULT '',
        result TEXT,
        failed INTEGER NOT NULL DEFAULT 0,
        failure_reason TEXT NOT NULL DEFAULT '',
        task_definition TEXT NOT NULL,
        rejection_count INTEGER NOT NULL DEFAULT 0,
        rejection_reason TEXT NOT NULL DEFAULT ''
    )",
    "CREATE INDEX IF NOT EXISTS tasks_domain_idx ON tasks (domain)",
    "CREATE INDEX IF NOT EXISTS tasks_state_idx ON tasks (state)",
    "CREATE INDEX IF NOT EXISTS tasks_cell_id_idx ON tasks (cell_id)",
    "CREATE INDEX IF NOT EXISTS tasks_updated_at_idx ON tasks (updated_at)",
    "CREATE INDEX IF NOT EXISTS tasks_first_completed_at_idx ON tasks (first_completed_at)",
];

impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }

    fn connection_setup(&self) -> &'static [&'static str] {
        &[
            // Waits (rather than failing) if another process holds the lock.
            "PRAGMA busy_timeout = 30000",
            "PRAGMA synchronous = NORMAL",
            // 16 MiB of page cache per connection (default 2 MiB): bulk
            // reads of a large store otherwise re-read most pages from the
            // OS (a pread each) on every request.
            "PRAGMA cache_size = -16384",
            "PRAGMA foreign_keys = OFF",
        ]
    }

    fn rebind(&self, sql: &str) -> String {
        sql.to_string()
    }

    fn lock_clause(&self) -> &'static str {
        // No row locks: the store runs one write transaction at a time.
        ""
    }

    fn serialize_writers(&self) -> bool {
        true
    }

    fn upsert(&self, table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String {
        on_conflict_upsert(table, columns, key, update)
    }

    fn classify(&self, code: &str) -> ErrorClass {
        // Extended result codes: the low byte is the primary code.
        let Ok(n) = code.parse::<i32>() else {
            return ErrorClass::Other;
        };
        match n {
            // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
            1555 | 2067 => ErrorClass::Exists,
            // SQLITE_TOOBIG
            18 => ErrorClass::BadRequest,
            _ => match n & 0xff {
                // SQLITE_BUSY, SQLITE_LOCKED
                5 | 6 => ErrorClass::Retry,
                _ => ErrorClass::Other,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sqlite_codes() {
        assert_eq!(Sqlite.classify("2067"), ErrorClass::Exists);
        assert_eq!(Sqlite.classify("1555"), ErrorClass::Exists);
        assert_eq!(Sqlite.classify("5"), ErrorClass::Retry);
        assert_eq!(Sqlite.classify("517"), ErrorClass::Retry);
        assert_eq!(Sqlite.classify("1"), ErrorClass::Other);
    }
}
