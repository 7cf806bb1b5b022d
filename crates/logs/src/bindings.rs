//! Drains from the app API (Loggregator's syslog binding cache): every
//! `bindings_polling_interval` the component reads the API's
//! `GET /internal/v4/syslog_drain_urls` (Cloud Controller's route, in
//! pages of `bindings_batch_size`) and binds what it lists beside the
//! drains `diego bind-drain` set. A failed poll keeps the last list, as
//! the binding cache does, so an API restart drops no drain.

use crate::drains::Origin;
use crate::Hub;
use anyhow::Context;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub async fn poll_forever(hub: Arc<Hub>, api_url: String, every: Duration, batch: usize) {
    let http = match (cfhttp::Config {
        request_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .client()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "drain-bindings-client");
            return;
        }
    };
    let base = api_url.trim_end_matches('/').to_string();
    let mut failures = FailureLog::default();
    loop {
        match fetch(&http, &base, batch.max(1)).await {
            Ok(bindings) => {
                failures.recovered();
                hub.drains.replace(Origin::AppApi, bindings)
            }
            Err(e) => failures.failed(&format!("{e:#}")),
        }
        tokio::time::sleep(every).await;
    }
}

/// How long an API not answered yet (one starting beside this component)
/// goes unreported, and how often a streak of failures is reported.
const QUIET_AT_START: Duration = Duration::from_secs(30);
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Polls that fail in a row are one warning (then one a minute), not one
/// per poll; before the API has answered once, the first 30 s are quiet.
#[derive(Default)]
struct FailureLog {
    reached: bool,
    started: Option<std::time::Instant>,
    streak: u32,
    reported: Option<std::time::Instant>,
}

impl FailureLog {
    fn failed(&mut self, error: &str) {
        if self.report_at(std::time::Instant::now()) {
            tracing::warn!(
                error,
                failed_polls = self.streak,
                "drain-bindings-poll-failed"
            );
        } else {
            tracing::debug!(
                error,
                failed_polls = self.streak,
                "drain-bindings-poll-failed"
            );
        }
    }

    /// Counts a failure at `now`; whether it is one to report.
    fn report_at(&mut self, now: std::time::Instant) -> bool {
        let started = *self.started.get_or_insert(now);
        self.streak += 1;
        if !self.reached && now.duration_since(started) < QUIET_AT_START {
            return false;
        }
        let due = self
            .reported
            .is_none_or(|t| now.duration_since(t) >= REPORT_EVERY);
        if due {
            self.reported = Some(now);
        }
        due
    }

    fn recovered(&mut self) {
        if self.reported.is_some() {
            tracing::info!(failed_polls = self.streak, "drain-bindings-poll-recovered");
        }
        *self = FailureLog {
            reached: true,
            started: self.started,
            ..Default::default()
        };
    }
}

/// Every page of the API's list: app guid → drain URLs.
async fn fetch(
    http: &reqwest::Client,
    base: &str,
    batch: usize,
) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut out = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let url =
            format!("{base}/internal/v4/syslog_drain_urls?batch_size={batch}&next_id={next_id}");
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(cfhttp::describe(&e, &url)))?;
        anyhow::ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
        let page: serde_json::Value =
            serde_json::from_slice(&resp.bytes().await?).context("the drain list is not JSON")?;
        if let Some(results) = page["results"].as_object() {
            for (app, binding) in results {
                let drains = binding["drains"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect();
                out.insert(app.clone(), drains);
            }
        }
        match page["next_id"].as_u64() {
            Some(n) if n > next_id => next_id = n,
            _ => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn failing_polls_are_reported_once_a_minute_and_quiet_while_the_api_starts() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut log = FailureLog::default();
        // The API starting beside us: quiet for 30 s, then reported.
        assert!(!log.report_at(at(0)));
        assert!(!log.report_at(at(29)));
        assert!(log.report_at(at(30)));
        assert!(!log.report_at(at(60)));
        assert!(log.report_at(at(90)));
        assert_eq!(log.streak, 5);
        // Once it has answered, a new failure is reported at once.
        log.recovered();
        assert_eq!(log.streak, 0);
        assert!(log.report_at(at(100)));
        assert!(!log.report_at(at(102)));
    }
}
