//! Syslog drains from the app's environment. On Cloud Foundry a drain is
//! a user-provided service's `syslog_drain_url` bound to the app (`cf cups
//! NAME -l URL`, `cf bind-service APP NAME`); here, without service
//! instances, it is the app's `SYSLOG_DRAIN_URL` variable (one or more
//! `syslog://`, `syslog-tls://` or `https://` URLs, separated by commas
//! or spaces), checked when set. They leave the API as Cloud Controller's
//! do: `GET /internal/v4/syslog_drain_urls`, which the log component
//! polls as Loggregator's syslog binding cache polls Cloud Controller.

use super::Api;
use crate::error::{ApiError, ApiResult};
use crate::store::{AppRec, Filter};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The app variable holding its drain URLs.
pub const DRAIN_VAR: &str = "SYSLOG_DRAIN_URL";

/// The drain URLs in the variable's value.
pub fn urls(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// The app's drains.
pub fn of_env(env: &BTreeMap<String, String>) -> Vec<String> {
    env.get(DRAIN_VAR).map(|v| urls(v)).unwrap_or_default()
}

/// Refuses a value with a URL no drain can take.
pub fn validate(value: &str) -> ApiResult<()> {
    for u in urls(value) {
        let (scheme, rest) = u.split_once("://").unwrap_or(("", ""));
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let ok = match scheme {
            "syslog" | "syslog-tls" => host
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0)),
            "https" => !host.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(ApiError::Unprocessable(format!(
                "{DRAIN_VAR}: invalid syslog drain URL {u:?}: use syslog://HOST:PORT, \
                 syslog-tls://HOST:PORT or https://HOST/PATH"
            )));
        }
    }
    Ok(())
}

/// Cloud Controller's hostname of an app's drain messages (org.space.app
/// there; the app's name here, with what syslog cannot take removed).
fn hostname(name: &str) -> String {
    let s: String = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    s.trim_end_matches('-').chars().take(63).collect()
}

impl Api {
    /// Cloud Controller's `GET /internal/v4/syslog_drain_urls`: the apps
    /// with drains, by guid, a page of `batch_size` from `next_id`;
    /// `next_id` is null after the last page.
    pub async fn syslog_drain_urls(&self, batch_size: usize, next_id: usize) -> ApiResult<Value> {
        let mut apps: Vec<AppRec> = self
            .repo
            .list::<AppRec>(&Filter::default())
            .await?
            .into_iter()
            .filter(|a| !of_env(&a.env).is_empty())
            .collect();
        apps.sort_by(|a, b| a.guid.cmp(&b.guid));
        let page: Vec<&AppRec> = apps.iter().skip(next_id).take(batch_size).collect();
        let results: serde_json::Map<String, Value> = page
            .iter()
            .map(|a| {
                (
                    a.guid.clone(),
                    json!({ "drains": of_env(&a.env), "hostname": hostname(&a.name) }),
                )
            })
            .collect();
        let next = (!page.is_empty()).then_some(next_id + batch_size);
        Ok(json!({ "results": results, "next_id": next }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_values_are_checked() {
        assert_eq!(
            urls("syslog://a:1, https://b/x  syslog-tls://c:2"),
            ["syslog://a:1", "https://b/x", "syslog-tls://c:2"]
        );
        assert!(validate("syslog://logs.example.com:514").is_ok());
        assert!(validate("https://logs.example.com/drain?drain-type=all").is_ok());
        for bad in ["http://a:1", "syslog://a", "syslog://:5", "nonsense"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert_eq!(hostname("my app!"), "my-app");
    }
}
