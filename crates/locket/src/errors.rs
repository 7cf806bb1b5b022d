//! Locket's errors and their gRPC form (Diego's codes and messages:
//! `lock-collision` AlreadyExists, `invalid-ttl` / `invalid-owner`
//! InvalidArgument, `resource-not-found` / `invalid-type` NotFound).

use tonic::{Code, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocketError {
    LockCollision,
    InvalidTtl,
    InvalidOwner,
    ResourceNotFound,
    InvalidType,
    /// Transient database conflict; the transaction is run again.
    Retry(String),
    /// Any other database failure.
    Database(String),
}

impl LocketError {
    pub fn code(&self) -> Code {
        match self {
            LocketError::LockCollision => Code::AlreadyExists,
            LocketError::InvalidTtl | LocketError::InvalidOwner => Code::InvalidArgument,
            LocketError::ResourceNotFound | LocketError::InvalidType => Code::NotFound,
            LocketError::Retry(_) | LocketError::Database(_) => Code::Unknown,
        }
    }

    pub fn message(&self) -> String {
        match self {
            LocketError::LockCollision => "lock-collision".into(),
            LocketError::InvalidTtl => "invalid-ttl".into(),
            LocketError::InvalidOwner => "invalid-owner".into(),
            LocketError::ResourceNotFound => "resource-not-found".into(),
            LocketError::InvalidType => "invalid-type".into(),
            LocketError::Retry(m) | LocketError::Database(m) => m.clone(),
        }
    }

    /// Is `status` this error as a Diego locket sends it?
    pub fn matches(&self, status: &Status) -> bool {
        status.code() == self.code() && status.message() == self.message()
    }
}

impl std::fmt::Display for LocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for LocketError {}

impl From<LocketError> for Status {
    fn from(e: LocketError) -> Status {
        Status::new(e.code(), e.message())
    }
}

impl From<sqlx::Error> for LocketError {
    fn from(e: sqlx::Error) -> LocketError {
        if let sqlx::Error::Database(db) = &e {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let retry = db.is_unique_violation()
                || matches!(code.as_str(), "40001" | "40P01" | "55P03")
                || code
                    .parse::<i32>()
                    .map(|n| matches!(n & 0xff, 5 | 6))
                    .unwrap_or(false);
            if retry {
                return LocketError::Retry(format!("database conflict: {}", db.message()));
            }
            return LocketError::Database(format!("database error: {}", db.message()));
        }
        LocketError::Database(format!("database error: {e}"))
    }
}
