//! Sidecar processes.

use super::rules::INVALID_ACTION_TYPE;
use super::{Validate, ValidationError};
use crate::Sidecar;

impl Validate for Sidecar {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        match &self.action {
            None => errs.push(INVALID_ACTION_TYPE),
            Some(action) => errs.nested("action", action.validate()),
        }
        if self.memory_mb < 0 {
            errs.invalid_field("memory_mb");
        }
        if self.disk_mb < 0 {
            errs.invalid_field("disk_mb");
        }
        errs.into_result()
    }
}

/// When any sidecar is bad: "Invalid field: sidecars" and every problem.
pub(crate) fn check_sidecars(errs: &mut ValidationError, sidecars: &[Sidecar]) {
    let mut inner = ValidationError::default();
    for s in sidecars {
        inner.absorb(s.validate());
    }
    errs.nested("sidecars", inner.into_result());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::actions::tests::run;

    #[test]
    fn rules() {
        let ok = Sidecar {
            action: Some(run("/bin/sidecar", "vcap")),
            disk_mb: 1,
            memory_mb: 1,
        };
        assert!(ok.validate().is_ok());
        let bad = Sidecar {
            action: None,
            disk_mb: -1,
            memory_mb: -1,
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "invalid action type, Invalid field: memory_mb, Invalid field: disk_mb"
        );
        let bad_action = Sidecar {
            action: Some(run("", "vcap")),
            ..Default::default()
        };
        let mut errs = ValidationError::default();
        check_sidecars(&mut errs, &[ok, bad_action]);
        assert_eq!(
            errs.to_string(),
            "Invalid field: sidecars, Invalid field: action, Invalid field: path"
        );
    }
}
