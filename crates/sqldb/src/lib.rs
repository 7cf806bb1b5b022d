//! The SQL plumbing the bbs and locket stores share (Diego keeps the same
//! in `diego-db-helpers`): one [`Backend`] trait with an engine per
//! database (SQLite, PostgreSQL, MySQL/MariaDB), each on sqlx's native
//! driver so every backend binds and decodes its own types and keeps its
//! own prepared statements.
//!
//! A store writes its SQL once, with `?` placeholders, builds a [`Stmt`],
//! and runs it through `B::fetch_all(conn, &stmt)` and friends; rows are
//! read through [`Cols`]. What differs per database (placeholders, row
//! locks, upserts, error codes, aggregates) is a method of the backend.
//!
//! `connect` turns connection strings into pools: URLs, and the forms
//! Diego's configs take (`database_driver` + `database_connection_string`,
//! e.g. MySQL's Go DSN `user:pass@tcp(host:port)/db`).

mod backend;
pub mod connect;
mod stmt;

pub use backend::{Backend, ErrorClass, Flavor, MySql, Postgres, Sqlite};
pub use connect::{diego_url, diego_url_with_tls, PoolSettings, RawPool, SqlTls};
pub use stmt::{in_list, Arg, Cols, Stmt};
