//! Internal (container-to-container) routes of a DesiredLRP: the JSON under
//! `routes["internal-router"]`, `[{"hostname":"app.apps.internal"}]`,
//! published to service discovery rather than to the HTTP routers.

use serde::Deserialize;

pub const INTERNAL_ROUTER: &str = "internal-router";

#[derive(Debug, Deserialize)]
struct InternalRoute {
    #[serde(default)]
    hostname: String,
}

/// The internal hostnames of `lrp` (none when absent or malformed).
pub fn internal_hostnames(lrp: &models::DesiredLrp) -> Vec<String> {
    let Some(raw) = lrp
        .routes
        .as_ref()
        .and_then(|r| r.routes.get(INTERNAL_ROUTER))
    else {
        return Vec::new();
    };
    match serde_json::from_slice::<Option<Vec<InternalRoute>>>(raw) {
        Ok(routes) => routes
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.hostname)
            .filter(|h| !h.is_empty())
            .collect(),
        Err(e) => {
            tracing::warn!(process_guid = %lrp.process_guid, error = %e, "invalid-internal-routes");
            Vec::new()
        }
    }
}
