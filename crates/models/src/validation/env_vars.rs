//! Environment variables.

use super::{Validate, ValidationError};
use crate::EnvironmentVariable;

impl Validate for EnvironmentVariable {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.name.is_empty() {
            return Err(ValidationError::single(
                "invalid field: name cannot be blank",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_required() {
        let ok = EnvironmentVariable {
            name: "FOO".into(),
            value: String::new(),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(
            EnvironmentVariable::default()
                .validate()
                .unwrap_err()
                .to_string(),
            "invalid field: name cannot be blank"
        );
    }
}
