//! Input rules, checked before anything is written.

use crate::error::{ApiError, ApiResult};
use models::capi::{health_check_type, HealthCheck, ProcessSettings};

pub const MAX_INSTANCES: i32 = 2000;

/// App names double as hostnames (`NAME.<domain>`): a DNS label.
pub fn app_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "invalid app name {name:?}: use letters, digits and '-' (not first or last), at most \
             63 characters (it is also the app's hostname)"
        )))
    }
}

pub fn hostname(h: &str) -> ApiResult<()> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "invalid route {h:?}: not a hostname"
        )))
    }
}

pub fn env_name(k: &str) -> ApiResult<()> {
    let ok = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(ApiError::Unprocessable(format!(
            "invalid environment variable name {k:?}: use letters, digits and '_', not starting \
             with a digit"
        )));
    }
    if k.starts_with("VCAP_") || k.starts_with("CF_") || k == "PORT" {
        return Err(ApiError::Unprocessable(format!(
            "environment variable {k} is set by the platform and cannot be set"
        )));
    }
    Ok(())
}

pub fn health_check(h: &HealthCheck) -> ApiResult<()> {
    match h.kind.as_str() {
        health_check_type::PORT | health_check_type::PROCESS => {}
        health_check_type::HTTP => {
            if let Some(e) = &h.data.endpoint {
                if !e.starts_with('/') {
                    return Err(ApiError::Unprocessable(format!(
                        "health check endpoint {e:?} must start with '/'"
                    )));
                }
            }
        }
        other => {
            return Err(ApiError::Unprocessable(format!(
                "health check type {other:?} is not one of port, http, process"
            )))
        }
    }
    if let Some(t) = h.data.timeout {
        if t == 0 || t > 600 {
            return Err(ApiError::Unprocessable(format!(
                "health check timeout {t} s must be between 1 and 600"
            )));
        }
    }
    Ok(())
}

pub fn instances(n: i32) -> ApiResult<()> {
    if (0..=MAX_INSTANCES).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "instances {n} must be between 0 and {MAX_INSTANCES}"
        )))
    }
}

pub fn megabytes(what: &str, mb: i32) -> ApiResult<()> {
    if (1..=1024 * 1024).contains(&mb) {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "{what} {mb} MB must be at least 1 MB (and at most 1 TB)"
        )))
    }
}

pub fn process_settings(s: &ProcessSettings) -> ApiResult<()> {
    if let Some(n) = s.instances {
        instances(n)?;
    }
    if let Some(m) = s.memory_in_mb {
        megabytes("memory", m)?;
    }
    if let Some(d) = s.disk_in_mb {
        megabytes("disk", d)?;
    }
    if let Some(Some(c)) = &s.command {
        if c.trim().is_empty() {
            return Err(ApiError::Unprocessable(
                "the command is empty (null resets it to the droplet's)".into(),
            ));
        }
    }
    if let Some(h) = &s.health_check {
        health_check(h)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        for ok in ["hello", "my-app", "a1"] {
            assert!(app_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "my app",
            "a/b",
            "é",
            "my_app",
            "-x",
            "x-",
            &"a".repeat(64),
        ] {
            assert!(app_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_names_and_reserved_ones() {
        assert!(env_name("FOO_1").is_ok());
        for bad in ["", "1A", "A-B", "PORT", "VCAP_SERVICES", "CF_INSTANCE_IP"] {
            assert!(env_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_and_checks() {
        assert!(instances(-1).is_err());
        assert!(megabytes("memory", 0).is_err());
        let bad = HealthCheck {
            kind: "tcp".into(),
            ..Default::default()
        };
        assert!(health_check(&bad).is_err());
    }
}
