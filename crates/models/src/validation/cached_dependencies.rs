//! Cached dependencies (shared downloads cached on the cell).

use super::actions::check_checksum;
use super::{Validate, ValidationError};
use crate::CachedDependency;

impl Validate for CachedDependency {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.from.is_empty() {
            errs.invalid_field("from");
        }
        if self.to.is_empty() {
            errs.invalid_field("to");
        }
        check_checksum(&mut errs, &self.checksum_algorithm, &self.checksum_value);
        errs.into_result()
    }
}

/// Each bad dependency adds "Invalid field: cached_dependency" and its
/// problems.
pub(crate) fn check_cached_dependencies(errs: &mut ValidationError, deps: &[CachedDependency]) {
    for dep in deps {
        errs.nested("cached_dependency", dep.validate());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let ok = CachedDependency {
            from: "http://x".into(),
            to: "/tmp".into(),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let mut errs = ValidationError::default();
        let bad = CachedDependency {
            checksum_algorithm: "sha512".into(),
            checksum_value: "v".into(),
            ..Default::default()
        };
        check_cached_dependencies(&mut errs, &[ok, bad]);
        assert_eq!(
            errs.to_string(),
            "Invalid field: cached_dependency, Invalid field: from, Invalid field: to, \
             Invalid field: invalid algorithm"
        );
        let half = CachedDependency {
            from: "x".into(),
            to: "y".into(),
            checksum_value: "v".into(),
            ..Default::default()
        };
        assert_eq!(
            half.validate().unwrap_err().to_string(),
            "Invalid field: checksum algorithm"
        );
    }
}
