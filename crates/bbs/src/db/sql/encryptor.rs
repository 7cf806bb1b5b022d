//! Encryption key rotation (Diego's `encryptor` and `PerformEncryption`,
//! `db/sqldb/encryption_db.go`).
//!
//! The `configurations` row `encryption_key_label` names the key every
//! stored record is encrypted with. At start-up:
//! - a label that is not among the configured keys stops the bbs ("Existing
//!   encryption key version (…) is not among the known keys"): it could not
//!   read what is stored;
//! - a label other than the active key's (or none) means the records were
//!   written with another key: every encrypted column of every row is
//!   decrypted and encrypted again with the active key, then the label is
//!   set to the active key. After that the old key can be dropped from the
//!   configuration.
//!
//! The same columns as Diego's: tasks.task_definition; desired_lrps
//! run_info, volume_placement, routes, metric_tags; actual_lrps net_info,
//! internal_routes, metric_tags. Unlike Diego, which re-encrypts one row
//! per transaction and skips an actual LRP row altogether when one of its
//! columns is empty, rows go a few hundred per transaction and only empty
//! (or NULL) columns are left as they are. A value that cannot be decrypted
//! is logged and left alone, as Diego does.

use super::codec::blob_to_string;
use super::ctx::ColsExt;
use super::engine::{write_tx, Engine};
use super::schema::{set_configuration, ENCRYPTION_KEY_ID};
use crate::db::DbResult;
use models::BbsError;
use sqldb::{Arg, Backend};

/// Rows re-encrypted per transaction.
const CHUNK: usize = 250;

struct Table {
    name: &'static str,
    key: &'static [&'static str],
    columns: &'static [&'static str],
}

const TABLES: &[Table] = &[
    Table {
        name: "tasks",
        key: &["guid"],
        columns: &["task_definition"],
    },
    Table {
        name: "desired_lrps",
        key: &["process_guid"],
        columns: &["run_info", "volume_placement", "routes", "metric_tags"],
    },
    Table {
        name: "actual_lrps",
        key: &["process_guid", "instance_index", "presence"],
        columns: &["net_info", "internal_routes", "metric_tags"],
    },
];

/// What the encryptor did at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionOutcome {
    /// The label found in the database (None: no label yet).
    pub previous_label: Option<String>,
    /// The active key's label, now in the database.
    pub label: String,
    /// Values encrypted again with the active key.
    pub reencrypted: u64,
    /// Values that could not be decrypted (left as they are).
    pub failed: u64,
}

/// A row's primary key values, as read.
#[derive(Clone)]
enum KeyPart {
    Str(String),
    Int(i32),
}

impl<B: Backend> Engine<B> {
    /// The stored key label (None: the row is absent).
    pub(crate) async fn stored_key_label(&self) -> DbResult<Option<String>> {
        let mut conn = self.read_conn().await?;
        let stmt = self
            .cx
            .q("SELECT value FROM configurations WHERE id = ?")
            .bind(ENCRYPTION_KEY_ID);
        self.cx
            .one(&mut conn, &stmt)
            .await?
            .map(|r| r.get_str(0))
            .transpose()
    }

    pub(crate) async fn set_key_label(&self, label: &str) -> DbResult<()> {
        write_tx!(self, |cx, conn| async {
            set_configuration::<B>(conn, ENCRYPTION_KEY_ID, label)
                .await
                .map_err(|e| cx.err(e))
        })
    }

    /// Diego's encryptor (see the module docs).
    pub(crate) async fn run_encryptor(&self) -> anyhow::Result<EncryptionOutcome> {
        let active = self.cx.enc.active_label().unwrap_or("").to_string();
        let previous = self.stored_key_label().await.map_err(anyhow::Error::new)?;
        if let Some(label) = &previous {
            if !self.cx.enc.knows_label(label) {
                anyhow::bail!(
                    "Existing encryption key version ({label}) is not among the known keys"
                );
            }
        }
        let mut outcome = EncryptionOutcome {
            previous_label: previous.clone(),
            label: active.clone(),
            reencrypted: 0,
            failed: 0,
        };
        if previous.as_deref() == Some(active.as_str()) {
            return Ok(outcome);
        }
        tracing::info!(
            desired_key_label = %active,
            existing_key_label = previous.as_deref().unwrap_or(""),
            "encryption-started"
        );
        let started = std::time::Instant::now();
        for table in TABLES {
            let (n, failed) = self
                .reencrypt_table(table)
                .await
                .map_err(anyhow::Error::new)?;
            outcome.reencrypted += n;
            outcome.failed += failed;
        }
        self.set_key_label(&active)
            .await
            .map_err(anyhow::Error::new)?;
        tracing::info!(
            reencrypted = outcome.reencrypted,
            failed = outcome.failed,
            total_time_ms = started.elapsed().as_millis() as u64,
            "encryption-finished"
        );
        Ok(outcome)
    }

    async fn table_keys(&self, table: &Table) -> DbResult<Vec<Vec<KeyPart>>> {
        let mut conn = self.read_conn().await?;
        let stmt = self.cx.q(&format!(
            "SELECT {} FROM {}",
            table.key.join(", "),
            table.name
        ));
        let rows = self.cx.all(&mut conn, &stmt).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in &rows {
            // The actual LRP key is (string, int, int); the others a string.
            let mut k = Vec::with_capacity(table.key.len());
            for i in 0..table.key.len() {
                k.push(if i == 0 {
                    KeyPart::Str(r.get_str(i)?)
                } else {
                    KeyPart::Int(r.get_i32(i)?)
                });
            }
            keys.push(k);
        }
        Ok(keys)
    }

    /// Re-encrypts one table; (values re-encrypted, values undecryptable).
    async fn reencrypt_table(&self, table: &Table) -> DbResult<(u64, u64)> {
        let keys = self.table_keys(table).await?;
        let mut done = 0;
        let mut failed = 0;
        for chunk in keys.chunks(CHUNK) {
            let (n, f) = write_tx!(self, |cx, conn| async {
                let key_match = format!("({})", table.key.join(" = ? AND ") + " = ?");
                let wheres = vec![key_match; chunk.len()].join(" OR ");
                let args = chunk.iter().flat_map(|k| {
                    k.iter().map(|p| match p {
                        KeyPart::Str(s) => Arg::from(s.as_str()),
                        KeyPart::Int(i) => Arg::I32(*i),
                    })
                });
                let stmt = cx
                    .q_lock(&format!(
                        "SELECT {}, {} FROM {} WHERE {wheres}",
                        table.key.join(", "),
                        table.columns.join(", "),
                        table.name
                    ))
                    .bind_all(args)
                    .once();
                let rows = cx.all(conn, &stmt).await?;
                let nkey = table.key.len();
                let mut n = 0u64;
                let mut f = 0u64;
                for r in &rows {
                    let mut sets: Vec<String> = Vec::new();
                    let mut values: Vec<Arg<'static>> = Vec::new();
                    for (i, column) in table.columns.iter().enumerate() {
                        let Some(blob) = r.get_opt_str(nkey + i)? else {
                            continue;
                        };
                        if blob.is_empty() {
                            continue;
                        }
                        match cx.enc.decode(blob.as_bytes()) {
                            Ok(plain) => {
                                sets.push(format!("{column} = ?"));
                                values.push(Arg::from(blob_to_string(cx.enc.encode(&plain))));
                            }
                            Err(e) => {
                                tracing::error!(table = table.name, column, error = %e,
                                    "failed-to-decode-blob");
                                f += 1;
                            }
                        }
                    }
                    if sets.is_empty() {
                        continue;
                    }
                    n += values.len() as u64;
                    let mut stmt = cx
                        .q(&format!(
                            "UPDATE {} SET {} WHERE {}",
                            table.name,
                            sets.join(", "),
                            table.key.join(" = ? AND ") + " = ?"
                        ))
                        .bind_all(values);
                    for i in 0..nkey {
                        stmt = if i == 0 {
                            stmt.bind(r.get_str(0)?)
                        } else {
                            stmt.bind(r.get_i32(i)?)
                        };
                    }
                    cx.exec(conn, &stmt).await?;
                }
                Ok::<_, BbsError>((n, f))
            })?;
            done += n;
            failed += f;
        }
        Ok((done, failed))
    }
}
