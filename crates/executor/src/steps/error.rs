//! How steps fail, and the text Diego makes of it (the failure reason).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    Cancelled,
    /// The process outlived TERM by the graceful shutdown interval.
    ExceededGracefulShutdownInterval,
    /// Not even KILL ended the process.
    ExitTimeout,
    /// A codependent step ended (successfully) and took the others down.
    CodependentExited,
    /// A failure whose message is meant for the app's user.
    Emittable {
        message: String,
        wrapped: Option<Box<StepError>>,
    },
    /// Anything else (errors from the backend, HTTP, ...).
    Failed(String),
    /// Several steps failed (parallel, codependent).
    Multi(Vec<StepError>),
}

impl StepError {
    pub fn emittable(message: impl Into<String>) -> Self {
        StepError::Emittable {
            message: message.into(),
            wrapped: None,
        }
    }

    pub fn emittable_wrapping(message: impl Into<String>, wrapped: StepError) -> Self {
        StepError::Emittable {
            message: message.into(),
            wrapped: Some(Box::new(wrapped)),
        }
    }

    /// Cancellation and graceful-shutdown overruns are left out of
    /// combined messages.
    fn displayable(&self) -> bool {
        !matches!(
            self,
            StepError::Cancelled | StepError::ExceededGracefulShutdownInterval
        )
    }

    /// Collects errors flat, as Diego's multierror does.
    pub fn multi(errors: Vec<StepError>) -> Self {
        let mut flat = Vec::new();
        for e in errors {
            match e {
                StepError::Multi(inner) => flat.extend(inner),
                e => flat.push(e),
            }
        }
        StepError::Multi(flat)
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, StepError::Cancelled)
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Cancelled => f.write_str("cancelled"),
            StepError::ExceededGracefulShutdownInterval => {
                f.write_str("exceeded graceful shutdown interval")
            }
            StepError::ExitTimeout => f.write_str("process did not exit"),
            StepError::CodependentExited => f.write_str("Codependent step exited"),
            StepError::Emittable { message, .. } => f.write_str(message),
            StepError::Failed(m) => f.write_str(m),
            StepError::Multi(errors) => {
                let mut out = String::new();
                for e in errors.iter().filter(|e| e.displayable()) {
                    let s = e.to_string();
                    if out.is_empty() {
                        out = s;
                    } else if !s.is_empty() {
                        out.push_str("; ");
                        out.push_str(&s);
                    }
                }
                f.write_str(&out)
            }
        }
    }
}

impl std::error::Error for StepError {}

/// Go's `time.Duration.String()`, which Diego's messages use ("1m0s",
/// "500ms", "1.5s").
pub fn go_duration(d: std::time::Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos, 1_000_000));
    }
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let sec = trim_fraction(s * 1_000_000_000 + frac, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

fn trim_fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_duration(Duration::from_millis(1)), "1ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn combined_messages_skip_cancellations() {
        let e = StepError::multi(vec![
            StepError::Cancelled,
            StepError::emittable("a: Exited with status 1"),
            StepError::multi(vec![StepError::emittable(""), StepError::CodependentExited]),
        ]);
        assert_eq!(
            e.to_string(),
            "a: Exited with status 1; Codependent step exited"
        );
    }
}
