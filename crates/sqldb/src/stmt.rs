//! Statements (SQL text with `?` placeholders and their arguments) and
//! reading columns out of a backend's rows.

use std::borrow::Cow;

/// One bound value. Strings borrow where they can (binding copies them into
/// the driver's buffer anyway).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    Str(Cow<'a, str>),
    I32(i32),
    I64(i64),
    Bool(bool),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Str(Cow::Borrowed(s))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Str(Cow::Borrowed(s.as_str()))
    }
}

impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Str(Cow::Owned(s))
    }
}

impl From<i32> for Arg<'_> {
    fn from(v: i32) -> Self {
        Arg::I32(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::I64(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// A statement ready for a backend: SQL already in the backend's
/// placeholder syntax, and its arguments in order.
#[derive(Debug, Clone)]
pub struct Stmt<'a> {
    pub sql: String,
    pub args: Vec<Arg<'a>>,
    /// Kept prepared on the connection (the default). Statements whose text
    /// varies (IN lists of every length) are run unprepared instead, so they
    /// do not push the fixed ones out of the connection's statement cache.
    pub persistent: bool,
}

impl<'a> Stmt<'a> {
    pub fn new(sql: String) -> Self {
        Stmt {
            sql,
            args: Vec::new(),
            persistent: true,
        }
    }

    pub fn bind(mut self, a: impl Into<Arg<'a>>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn bind_all(mut self, args: impl IntoIterator<Item = Arg<'a>>) -> Self {
        self.args.extend(args);
        self
    }

    /// Not kept prepared (see `persistent`).
    pub fn once(mut self) -> Self {
        self.persistent = false;
        self
    }
}

/// `column IN (?, ?, ...)` for `n` values.
pub fn in_list(column: &str, n: usize) -> String {
    format!("{column} IN ({})", vec!["?"; n].join(", "))
}

/// Reading a row's columns by position. NULL reads as the type's zero value
/// (Diego's schema leaves many columns nullable that it always fills), and
/// integers read across widths (an INT column as i64 and back), so a
/// column that is BIGINT in one database and INT in another reads alike.
pub trait Cols {
    fn str(&self, i: usize) -> Result<String, sqlx::Error>;
    fn opt_str(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    fn i32(&self, i: usize) -> Result<i32, sqlx::Error>;
    fn i64(&self, i: usize) -> Result<i64, sqlx::Error>;
    fn bool(&self, i: usize) -> Result<bool, sqlx::Error>;
    /// NULL stays None (Diego's nullable columns where that matters).
    fn opt_bool(&self, i: usize) -> Result<Option<bool>, sqlx::Error>;
}

pub(crate) fn out_of_range(i: usize, v: i64) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: i.to_string(),
        source: format!("integer {v} out of range for i32").into(),
    }
}

macro_rules! impl_cols {
    ($row:ty) => {
        impl $crate::stmt::Cols for $row {
            fn str(&self, i: usize) -> Result<String, sqlx::Error> {
                Ok(self.opt_str(i)?.unwrap_or_default())
            }
            fn opt_str(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get::<Option<String>, _>(self, i)
            }
            fn i32(&self, i: usize) -> Result<i32, sqlx::Error> {
                match sqlx::Row::try_get::<Option<i32>, _>(self, i) {
                    Ok(v) => Ok(v.unwrap_or(0)),
                    Err(sqlx::Error::ColumnDecode { .. }) => {
                        let v = sqlx::Row::try_get::<Option<i64>, _>(self, i)?.unwrap_or(0);
                        i32::try_from(v).map_err(|_| $crate::stmt::out_of_range(i, v))
                    }
                    Err(e) => Err(e),
                }
            }
            fn i64(&self, i: usize) -> Result<i64, sqlx::Error> {
                match sqlx::Row::try_get::<Option<i64>, _>(self, i) {
                    Ok(v) => Ok(v.unwrap_or(0)),
                    Err(sqlx::Error::ColumnDecode { .. }) => {
                        Ok(sqlx::Row::try_get::<Option<i32>, _>(self, i)?
                            .map(i64::from)
                            .unwrap_or(0))
                    }
                    Err(e) => Err(e),
                }
            }
            fn bool(&self, i: usize) -> Result<bool, sqlx::Error> {
                Ok(self.opt_bool(i)?.unwrap_or(false))
            }
            fn opt_bool(&self, i: usize) -> Result<Option<bool>, sqlx::Error> {
                match sqlx::Row::try_get::<Option<bool>, _>(self, i) {
                    Ok(v) => Ok(v),
                    // An integer column used as a flag.
                    Err(sqlx::Error::ColumnDecode { .. }) => {
                        Ok(sqlx::Row::try_get::<Option<i64>, _>(self, i)?.map(|v| v != 0))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    };
}

impl_cols!(sqlx::sqlite::SqliteRow);
impl_cols!(sqlx::postgres::PgRow);
impl_cols!(sqlx::mysql::MySqlRow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_in_lists_and_binds_in_order() {
        assert_eq!(in_list("g", 3), "g IN (?, ?, ?)");
        let owned = String::from("b");
        let s = Stmt::new("x".into())
            .bind("a")
            .bind(&owned)
            .bind(3i32)
            .bind(4i64)
            .bind(true)
            .once();
        assert_eq!(
            s.args,
            vec![
                Arg::Str("a".into()),
                Arg::Str("b".into()),
                Arg::I32(3),
                Arg::I64(4),
                Arg::Bool(true)
            ]
        );
        assert!(!s.persistent);
    }
}
