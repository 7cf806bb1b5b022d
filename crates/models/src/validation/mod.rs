//! Request and record validation with Diego's rules and messages.
//!
//! A failed validation lists every problem, joined by ", " (as Diego's
//! ValidationError), and reaches clients as an InvalidRequest error.

use crate::bbs_error::BbsError;

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
    /// Adds the problems of a nested validation, if any.
    pub fn absorb(&mut self, result: Result<(), ValidationError>) {
        if let Err(e) = result {
            self.append(e);
        }
    }
    /// Adds "Invalid field: NAME" followed by the nested problems, when the
    /// nested validation failed (Diego's pattern for sub-records).
    pub fn nested(&mut self, field: &str, result: Result<(), ValidationError>) {
        if let Err(e) = result {
            self.invalid_field(field);
            self.append(e);
        }
    }
    /// A single-problem error.
    pub fn single(problem: impl Into<String>) -> Self {
        ValidationError(vec![problem.into()])
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

pub mod rootfs_url;
pub mod rules;

mod actions;
mod actual_lrp;
mod cached_dependencies;
mod cells;
mod checks;
mod desired_lrp;
mod desired_requests;
mod env_vars;
mod image_layers;
mod lrp_requests;
mod metric_tags;
mod security_groups;
mod sidecars;
mod task;
mod task_requests;
mod volume_mounts;

pub use actions::InnerAction;
pub use metric_tags::metric_tags_problems;

#[cfg(test)]
mod desired_lrp_tests;
