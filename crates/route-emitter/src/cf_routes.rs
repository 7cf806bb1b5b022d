//! HTTP routes of a DesiredLRP: the JSON under `routes["cf-router"]`,
//! `[{"hostnames":[..], "port":8080, "route_service_url":"..",
//! "isolation_segment":"..", "protocol":"http2", "options":{"loadbalancing":".."}}]`.

use serde::Deserialize;

pub const CF_ROUTER: &str = "cf-router";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CfRoute {
    #[serde(deserialize_with = "null_as_default")]
    pub hostnames: Vec<String>,
    pub port: u32,
    // Cloud Controller sends `null` for an unset route service URL or
    // isolation segment, which Go's decoder reads as "".
    #[serde(deserialize_with = "null_as_default")]
    pub route_service_url: String,
    #[serde(deserialize_with = "null_as_default")]
    pub isolation_segment: String,
    #[serde(deserialize_with = "null_as_default")]
    pub protocol: String,
    /// Passed through to the router as it is (e.g. the load-balancing algorithm).
    pub options: Option<serde_json::Value>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The `cf-router` routes of `lrp`; none when absent, and none (logged) when
/// the JSON is malformed, as Diego ignores routes it cannot decode.
pub fn cf_routes(lrp: &models::DesiredLrp) -> Vec<CfRoute> {
    let Some(raw) = lrp.routes.as_ref().and_then(|r| r.routes.get(CF_ROUTER)) else {
        return Vec::new();
    };
    match serde_json::from_slice::<Option<Vec<CfRoute>>>(raw) {
        Ok(routes) => routes.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(process_guid = %lrp.process_guid, error = %e, "invalid-cf-router-routes");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_from_cloud_controller_read_as_empty() {
        let r = cf_routes(&lrp_with(
            r#"[{"hostnames":["a.example.com"],"port":8080,"route_service_url":null,
                 "isolation_segment":null,"protocol":"http1"}]"#,
        ));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].route_service_url, "");
        assert_eq!(r[0].isolation_segment, "");
        assert_eq!(r[0].protocol, "http1");
    }

    fn lrp_with(json: &str) -> models::DesiredLrp {
        let mut routes = models::ProtoRoutes::default();
        routes
            .routes
            .insert(CF_ROUTER.into(), json.as_bytes().to_vec());
        models::DesiredLrp {
            process_guid: "pg".into(),
            routes: Some(routes),
            ..Default::default()
        }
    }

    #[test]
    fn decodes_all_fields() {
        let r = cf_routes(&lrp_with(
            r#"[{"hostnames":["a.example.com"],"port":8080,"route_service_url":"https://rs",
                 "isolation_segment":"iso","protocol":"http2","options":{"loadbalancing":"least-connection"}}]"#,
        ));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].hostnames, vec!["a.example.com"]);
        assert_eq!(r[0].port, 8080);
        assert_eq!(r[0].isolation_segment, "iso");
        assert_eq!(
            r[0].options,
            Some(serde_json::json!({"loadbalancing":"least-connection"}))
        );
    }

    #[test]
    fn malformed_or_null_means_no_routes() {
        assert!(cf_routes(&lrp_with("{nope")).is_empty());
        assert!(cf_routes(&lrp_with("null")).is_empty());
        assert!(cf_routes(&models::DesiredLrp::default()).is_empty());
    }
}
