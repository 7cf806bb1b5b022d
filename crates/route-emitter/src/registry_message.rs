//! The JSON body of `router.register` / `router.unregister`, field for
//! field as Diego's route-emitter writes it (empty optional fields are
//! left out; `host`, `port` and `uris` are always present).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistryMessage {
    pub host: String,
    pub port: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls_port: u32,
    pub uris: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub route_service_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_instance_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_instance_index: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_cert_domain_san: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub isolation_segment: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub endpoint_updated_at_ns: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub availability_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// What a router keys an endpoint of a route by: one registration per
/// (hostname, address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey {
    pub uri: String,
    pub host: String,
    pub port: u32,
}

impl RegistryMessage {
    pub fn key(&self) -> MessageKey {
        MessageKey {
            uri: self.uris.first().cloned().unwrap_or_default(),
            host: self.host.clone(),
            port: self.port,
        }
    }

    /// Equal for routing purposes: everything but the update timestamp,
    /// which only says when the endpoint appeared.
    pub fn same_route(&self, other: &RegistryMessage) -> bool {
        RegistryMessage {
            endpoint_updated_at_ns: 0,
            ..self.clone()
        } == RegistryMessage {
            endpoint_updated_at_ns: 0,
            ..other.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_out_empty_fields_like_diego() {
        let m = RegistryMessage {
            host: "10.0.0.1".into(),
            port: 61001,
            uris: vec!["a.example.com".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"host":"10.0.0.1","port":61001,"uris":["a.example.com"]}"#
        );
    }
}
