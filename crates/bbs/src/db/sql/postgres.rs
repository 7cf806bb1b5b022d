//! PostgreSQL: row locks (`SELECT ... FOR UPDATE`) serialize concurrent
//! changes of the same record; everything else runs in parallel.

use super::dialect::{on_conflict_upsert, Dialect, ErrorClass};

pub struct Postgres;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS configurations (
        id VARCHAR(255) PRIMARY KEY,
        value VARCHAR(255)
    )",
    "CREATE TABLE IF NOT EXISTS domains (
        domain VARCHAR(255) PRIMARY KEY,
        expire_time BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS domains_expire_time_idx ON domains (expire_time)",
    "CREATE TABLE IF NOT EXISTS desired_lrps (
        process_guid VARCHAR(255) PRIMARY KEY,
        domain VARCHAR(255) NOT NULL,
        log_guid VARCHAR(255) NOT NULL,
        annotation TEXT NOT NULL DEFAULT '',
        instances INT NOT NULL,
        memory_mb INT NOT NULL,
        disk_mb INT NOT NULL,
        max_pids INT NOT NULL DEFAULT 0,
        rootfs VARCHAR(1024) NOT NULL,
        routes TEXT NOT NULL,
        volume_placement TEXT NOT NULL,
        modification_tag_epoch VARCHAR(255) NOT NULL,
        modification_tag_index BIGINT NOT NULL DEFAULT 0,
        run_info TEXT NOT NULL,
        placement_tags TEXT NOT NULL DEFAULT '[]',
        metric_tags TEXT NOT NULL,
        update_strategy INT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS desired_lrps_domain_idx ON desired_lrps (domain)",
    "CREATE TABLE IF NOT EXISTS actual_lrps (
        process_guid VARCHAR(255) NOT NULL,
        instance_index INT NOT NULL,
        presence INT NOT NULL DEFAULT 0,
        domain VARCHAR(255) NOT NULL,
        state VARCHAR(255) NOT NULL,
        instance_guid VARCHAR(255) NOT NULL DEFAULT '',
        cell_id VARCHAR(255) NOT NULL DEFAULT '',
        placement_error VARCHAR(1024) NOT NULL DEFAULT '',
        since BIGINT NOT NULL DEFAULT 0,
        net_info TEXT NOT NULL,
        internal_routes TEXT NOT NULL,
        metric_tags TEXT NOT NULL,
        routable BOOLEAN NOT NULL DEFAULT false,
        availability_zone VARCHAR(255) NOT NULL DEFAULT '',
        modification_tag_epoch VARCHAR(255) NOT NULL,
        modification_tag_index BIGINT NOT NULL DEFAULT 0,
        crash_count INT NOT NULL DEFAULT 0,
        crash_reason VARCHAR(1024) NOT NULL DEFAULT '',
        expire_time BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (process_guid, instance_index, presence)
    )",
    "CREATE INDEX IF NOT EXISTS actual_lrps_domain_idx ON actual_lrps (domain)",
    "CREATE INDEX IF NOT EXISTS actual_lrps_cell_id_idx ON actual_lrps (cell_id)",
    "CREATE INDEX IF NOT EXISTS actual_lrps_state_idx ON actual_lrps (state)",
    "CREATE INDEX IF NOT EXISTS actual_lrps_since_idx ON actual_lrps (since)",
    // Convergence looks for the few EVACUATING rows among all.
    "CREATE INDEX IF NOT EXISTS actual_lrps_presence_idx ON actual_lrps (presence)",
    "CREATE TABLE IF NOT EXISTS tasks (
        guid VARCHAR(255) PRIMARY KEY,
        domain VARCHAR(255) NOT NULL,
        updated_at BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL DEFAULT 0,
        first_completed_at BIGINT NOT NULL DEFAULT 0,
        state INT NOT NULL,
        cell_id VARCHAR(255) NOT NULL DEFAULT '',
        result TEXT,
        failed BOOLEAN NOT NULL DEFAULT false,
        failure_reason VARCHAR(1024) NOT NULL DEFAULT '',
        task_definition TEXT NOT NULL,
        rejection_count INT NOT NULL DEFAULT 0,
        rejection_reason VARCHAR(1024) NOT NULL DEFAULT ''
    )",
    "CREATE INDEX IF NOT EXISTS tasks_domain_idx ON tasks (domain)",
    "CREATE INDEX IF NOT EXISTS tasks_state_idx ON tasks (state)",
    "CREATE INDEX IF NOT EXISTS tasks_cell_id_idx ON tasks (cell_id)",
    "CREATE INDEX IF NOT EXISTS tasks_updated_at_idx ON tasks (updated_at)",
    "CREATE INDEX IF NOT EXISTS tasks_first_completed_at_idx ON tasks (first_completed_at)",
];

impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }

    fn connection_setup(&self) -> &'static [&'static str] {
        &[]
    }

    fn rebind(&self, sql: &str) -> String {
        // `?` → `$1, $2, ...` (our SQL has no `?` inside string literals).
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
        out
    }

    fn lock_clause(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn serialize_writers(&self) -> bool {
        false
    }

    fn upsert(&self, table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String {
        on_conflict_upsert(table, columns, key, update)
    }

    fn classify(&self, code: &str) -> ErrorClass {
        match code {
            "23505" => ErrorClass::Exists,
            // deadlock_detected, serialization_failure, lock_not_available
            "40P01" | "40001" | "55P03" => ErrorClass::Retry,
            // string_data_right_truncation
            "22001" => ErrorClass::BadRequest,
            // undefined_table
            "42P01" => ErrorClass::Unrecoverable,
            _ => ErrorClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinds_placeholders() {
        assert_eq!(
            Postgres.rebind("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
    }

    #[test]
    fn classifies_sqlstates() {
        assert_eq!(Postgres.classify("23505"), ErrorClass::Exists);
        assert_eq!(Postgres.classify("40P01"), ErrorClass::Retry);
        assert_eq!(Postgres.classify("22001"), ErrorClass::BadRequest);
        assert_eq!(Postgres.classify("42P01"), ErrorClass::Unrecoverable);
        assert_eq!(Postgres.classify("XX000"), ErrorClass::Other);
    }
}
