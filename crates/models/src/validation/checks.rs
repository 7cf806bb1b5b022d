//! Health checks: `CheckDefinition` and each `Check`.

use super::{Validate, ValidationError};
use crate::{Check, CheckDefinition};

impl Validate for Check {
    /// Exactly one of tcp/http may be set and its port must be 1..=65535.
    /// Both set is "Invalid field: check"; neither set counts as port 0
    /// ("Invalid field: port"), as Diego's nil-check behaves.
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        let port = match (&self.tcp_check, &self.http_check) {
            (Some(_), Some(_)) => {
                errs.invalid_field("check");
                return errs.into_result();
            }
            (None, Some(http)) => http.port,
            (Some(tcp), None) => tcp.port,
            (None, None) => 0,
        };
        if !(1..=65535).contains(&port) {
            errs.invalid_field("port");
        }
        errs.into_result()
    }
}

impl Validate for CheckDefinition {
    /// Problems of every liveness check, then of every readiness check.
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        for check in self.checks.iter().chain(self.readiness_checks.iter()) {
            errs.absorb(check.validate());
        }
        errs.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpCheck, TcpCheck};

    fn tcp(port: u32) -> Check {
        Check {
            tcp_check: Some(TcpCheck {
                port,
                ..Default::default()
            }),
            http_check: None,
        }
    }

    fn http(port: u32) -> Check {
        Check {
            tcp_check: None,
            http_check: Some(HttpCheck {
                port,
                path: "/health".into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn valid_checks() {
        assert!(tcp(8080).validate().is_ok());
        assert!(http(65535).validate().is_ok());
        let def = CheckDefinition {
            checks: vec![tcp(1)],
            readiness_checks: vec![http(8080)],
            ..Default::default()
        };
        assert!(def.validate().is_ok());
    }

    #[test]
    fn invalid_checks() {
        assert_eq!(
            tcp(0).validate().unwrap_err().to_string(),
            "Invalid field: port"
        );
        assert_eq!(
            http(65536).validate().unwrap_err().to_string(),
            "Invalid field: port"
        );
        assert_eq!(
            Check::default().validate().unwrap_err().to_string(),
            "Invalid field: port"
        );
        let both = Check {
            tcp_check: Some(TcpCheck {
                port: 1,
                ..Default::default()
            }),
            http_check: Some(HttpCheck::default()),
        };
        assert_eq!(
            both.validate().unwrap_err().to_string(),
            "Invalid field: check"
        );
        let def = CheckDefinition {
            checks: vec![tcp(0), tcp(80)],
            readiness_checks: vec![both],
            ..Default::default()
        };
        assert_eq!(
            def.validate().unwrap_err().to_string(),
            "Invalid field: port, Invalid field: check"
        );
    }
}
