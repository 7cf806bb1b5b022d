//! What the state logic of the SQL store works with: `Ctx<B>` (the
//! encoder, the read caches, statements and their errors on backend `B`)
//! and column reads with Diego's errors.

use super::scheduling_cache::{SchedulingCache, TagCache};
use crate::db::encryption::Encoder;
use crate::db::lrp_convergence_rules::DesiredDrift;
use crate::db::DbResult;
use futures::stream::BoxStream;
use futures::StreamExt;
use models::BbsError;
use sqldb::{Backend, Cols, ErrorClass, Stmt};
use std::marker::PhantomData;
use std::sync::Arc;

/// What the state logic needs: the encoder, the read caches, and (as a
/// type) the backend.
pub(crate) struct Ctx<B> {
    pub enc: Encoder,
    pub scheduling_cache: SchedulingCache,
    /// What LRP convergence compares RUNNING instances with, per desired LRP.
    pub drift_cache: TagCache<Arc<DesiredDrift>>,
    _backend: PhantomData<fn() -> B>,
}

impl<B: Backend> Ctx<B> {
    pub fn new(enc: Encoder) -> Self {
        Ctx {
            enc,
            scheduling_cache: Default::default(),
            drift_cache: Default::default(),
            _backend: PhantomData,
        }
    }

    /// A statement for `sql` (written with `?` placeholders).
    pub fn q<'a>(&self, sql: &str) -> Stmt<'a> {
        B::stmt(sql)
    }

    /// A SELECT that locks the rows it reads until the transaction ends.
    pub fn q_lock<'a>(&self, sql: &str) -> Stmt<'a> {
        B::stmt(&format!("{sql}{}", B::LOCK_ROWS))
    }

    pub fn err(&self, e: sqlx::Error) -> BbsError {
        db_error::<B>(e)
    }

    pub async fn all<'a>(&self, conn: &mut B::Conn, stmt: &Stmt<'a>) -> DbResult<Vec<B::Row>> {
        B::fetch_all(conn, stmt).await.map_err(|e| self.err(e))
    }

    pub async fn one<'a>(&self, conn: &mut B::Conn, stmt: &Stmt<'a>) -> DbResult<Option<B::Row>> {
        B::fetch_optional(conn, stmt).await.map_err(|e| self.err(e))
    }

    pub async fn exec<'a>(&self, conn: &mut B::Conn, stmt: &Stmt<'a>) -> DbResult<u64> {
        B::execute(conn, stmt).await.map_err(|e| self.err(e))
    }

    /// The rows as they arrive (a whole-table read never holds every raw
    /// row at once).
    pub fn stream<'c, 'a: 'c>(
        &self,
        conn: &'c mut B::Conn,
        stmt: &'c Stmt<'a>,
    ) -> BoxStream<'c, DbResult<B::Row>> {
        B::fetch(conn, stmt)
            .map(|r| r.map_err(db_error::<B>))
            .boxed()
    }
}

/// Maps a driver error to Diego's error model.
pub(crate) fn db_error<B: Backend>(err: sqlx::Error) -> BbsError {
    match &err {
        sqlx::Error::RowNotFound => BbsError::resource_not_found(),
        sqlx::Error::Database(db) => match B::classify(&err) {
            ErrorClass::Exists => BbsError::resource_exists(),
            ErrorClass::Retry => BbsError::deadlock(),
            ErrorClass::BadRequest => BbsError::bad_request(),
            ErrorClass::Unrecoverable => BbsError::unrecoverable(db.message()),
            ErrorClass::Other => {
                crate::errors::unknown(format!("{} error: {}", B::FLAVOR.name(), db.message()))
            }
        },
        sqlx::Error::PoolTimedOut => BbsError::from(models::Error {
            // Diego's Error.Type Timeout
            r#type: 31,
            message: "timed out waiting for a database connection".into(),
        }),
        other => crate::errors::unknown(other),
    }
}

/// Column reads with Diego's errors.
pub(crate) trait ColsExt: Cols {
    fn get_str(&self, i: usize) -> DbResult<String> {
        self.str(i).map_err(crate::errors::unknown)
    }
    fn get_opt_str(&self, i: usize) -> DbResult<Option<String>> {
        self.opt_str(i).map_err(crate::errors::unknown)
    }
    fn get_i32(&self, i: usize) -> DbResult<i32> {
        self.i32(i).map_err(crate::errors::unknown)
    }
    fn get_i64(&self, i: usize) -> DbResult<i64> {
        self.i64(i).map_err(crate::errors::unknown)
    }
    fn get_bool(&self, i: usize) -> DbResult<bool> {
        self.bool(i).map_err(crate::errors::unknown)
    }
}

impl<R: Cols> ColsExt for R {}
