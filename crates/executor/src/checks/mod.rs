//! Health checks: the declarative TCP/HTTP checks of a `CheckDefinition`
//! (liveness and readiness) and the legacy `monitor` action.
//!
//! Diego runs its healthcheck program inside the container; we probe from
//! the cell at the container's internal address with the same timings and
//! messages, so no program has to be put into the container.

mod health;
mod loops;
mod monitor;
mod probe;
mod readiness;

pub use health::HealthCheck;
pub use loops::{CheckLoop, Kind};
pub use monitor::{ConsistentlySucceeds, EventuallySucceeds, StepFactory};
pub use probe::Probe;
pub use readiness::Readiness;

use crate::logs::LogStreamer;
use crate::steps::{BoxStep, Codependent, Parallel};
use models::{Check, CheckDefinition};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where check failures are logged unless the definition names a source.
pub const HEALTH_LOG_SOURCE: &str = "HEALTH";

/// The cell's check timings (Diego's executor configuration).
#[derive(Debug, Clone, Copy)]
pub struct CheckConfig {
    /// Between liveness checks without an interval of their own.
    pub healthy_interval: Duration,
    /// Between startup attempts.
    pub unhealthy_interval: Duration,
    /// A check's timeout when it gives none.
    pub default_timeout: Duration,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            healthy_interval: Duration::from_secs(30),
            unhealthy_interval: Duration::from_millis(500),
            default_timeout: Duration::from_secs(1),
        }
    }
}

/// The probe and interval of a valid check (a port, and exactly one kind).
fn probe_of(check: &Check, cfg: &CheckConfig) -> Option<(Probe, Duration)> {
    let ms = |v: u64, default: Duration| {
        if v == 0 {
            default
        } else {
            Duration::from_millis(v)
        }
    };
    let port = |p: u32| u16::try_from(p).ok().filter(|p| *p > 0);
    match (&check.tcp_check, &check.http_check) {
        (Some(t), None) => Some((
            Probe::Tcp {
                port: port(t.port)?,
                timeout: ms(t.connect_timeout_ms, cfg.default_timeout),
            },
            ms(t.interval_ms, cfg.healthy_interval),
        )),
        (None, Some(h)) => Some((
            Probe::Http {
                port: port(h.port)?,
                path: if h.path.is_empty() {
                    "/".into()
                } else {
                    h.path.clone()
                },
                timeout: ms(h.request_timeout_ms, cfg.default_timeout),
            },
            ms(h.interval_ms, cfg.healthy_interval),
        )),
        _ => {
            tracing::warn!("ignoring invalid check {check:?}");
            None
        }
    }
}

fn health_source(def: &CheckDefinition) -> &str {
    if def.log_source.is_empty() {
        HEALTH_LOG_SOURCE
    } else {
        &def.log_source
    }
}

/// The liveness health check of a definition with checks: every check's
/// startup loop in parallel, then their liveness loops codependent.
pub fn check_definition_step(
    def: &CheckDefinition,
    ip: &str,
    start_timeout: Duration,
    cfg: &CheckConfig,
    log: &LogStreamer,
    http: &Arc<reqwest::Client>,
) -> Option<BoxStep> {
    if def.checks.is_empty() {
        return None;
    }
    let probes: Vec<_> = def.checks.iter().filter_map(|c| probe_of(c, cfg)).collect();
    let make = |probe: &Probe, kind: Kind, interval: Duration| -> BoxStep {
        Box::new(CheckLoop {
            probe: probe.clone(),
            kind,
            interval,
            ip: ip.to_string(),
            http: http.clone(),
        })
    };
    let startup = probes
        .iter()
        .map(|(p, _)| make(p, Kind::Startup { start_timeout }, cfg.unhealthy_interval))
        .collect();
    let liveness = probes
        .iter()
        .map(|(p, interval)| make(p, Kind::Liveness, *interval))
        .collect();
    Some(Box::new(HealthCheck {
        startup: Box::new(Parallel { steps: startup }),
        liveness: Box::new(Codependent {
            steps: liveness,
            error_on_exit: false,
            cancel_others_on_exit: false,
        }),
        log: log.clone(),
        health_log: log.with_source(health_source(def)),
    }))
}

/// The readiness step of a definition with valid readiness checks; it
/// sends routability changes on `changes`.
pub fn readiness_step(
    def: &CheckDefinition,
    ip: &str,
    cfg: &CheckConfig,
    log: &LogStreamer,
    http: &Arc<reqwest::Client>,
    changes: mpsc::Sender<bool>,
) -> Option<BoxStep> {
    let probes: Arc<Vec<_>> = Arc::new(
        def.readiness_checks
            .iter()
            .filter_map(|c| probe_of(c, cfg))
            .collect(),
    );
    if probes.is_empty() {
        return None;
    }
    let build = |kind: Kind, probes: Arc<Vec<(Probe, Duration)>>| {
        let (ip, http, unhealthy) = (ip.to_string(), http.clone(), cfg.unhealthy_interval);
        move || -> Vec<BoxStep> {
            probes
                .iter()
                .map(|(p, interval)| -> BoxStep {
                    Box::new(CheckLoop {
                        probe: p.clone(),
                        kind,
                        interval: if kind == Kind::UntilReady {
                            unhealthy
                        } else {
                            *interval
                        },
                        ip: ip.clone(),
                        http: http.clone(),
                    })
                })
                .collect()
        }
    };
    let until_ready = build(Kind::UntilReady, probes.clone());
    let until_failure = build(Kind::UntilFailure, probes);
    Some(Box::new(Readiness {
        until_ready: Box::new(move || {
            Box::new(Parallel {
                steps: until_ready(),
            })
        }),
        until_failure: Box::new(move || {
            Box::new(Codependent {
                steps: until_failure(),
                error_on_exit: true,
                cancel_others_on_exit: true,
            })
        }),
        log: log.with_source(health_source(def)),
        changes,
    }))
}

/// The legacy monitor: `create` builds the monitor action's step.
pub fn monitor_step(
    create: StepFactory,
    start_timeout: Duration,
    cfg: &CheckConfig,
    log: &LogStreamer,
) -> BoxStep {
    Box::new(HealthCheck {
        startup: Box::new(EventuallySucceeds {
            create: create.clone(),
            interval: cfg.unhealthy_interval,
            timeout: start_timeout,
        }),
        liveness: Box::new(ConsistentlySucceeds {
            create,
            interval: cfg.healthy_interval,
        }),
        log: log.clone(),
        health_log: log.clone(),
    })
}
