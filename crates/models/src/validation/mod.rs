//! Request and record validation with Diego's rules and messages.
//!
//! A failed validation lists every problem, joined by ", " (as Diego's
//! ValidationError), and reaches clients as an InvalidRequest error.

use crate::error::BbsError;

/// Every problem found in one value, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationError(pub Vec<String>);

impl ValidationError {
    pub fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }
    /// "Invalid field: NAME", Diego's ErrInvalidField text.
    pub fn invalid_field(&mut self, field: &str) {
        self.push(format!("Invalid field: {field}"));
    }
    pub fn append(&mut self, other: ValidationError) {
        self.0.extend(other.0);
    }
    pub fn check(&mut self, v: &impl Validate) {
        if let Err(e) = v.validate() {
            self.append(e);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_result(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl std::error::Error for ValidationError {}

impl From<ValidationError> for BbsError {
    fn from(e: ValidationError) -> Self {
        BbsError::invalid_request(e.to_string())
    }
}

pub trait Validate {
    fn validate(&self) -> Result<(), ValidationError>;
}
