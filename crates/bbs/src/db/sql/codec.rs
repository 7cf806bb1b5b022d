//! Record ↔ column encodings, the same on every backend and the same as
//! Diego's (`db/sqldb/*_db.go`), so that Diego's bbs reads what ours
//! writes and the other way round:
//! - protobuf records (net_info, run_info, volume_placement,
//!   task_definition) enveloped and encrypted (`format.Serializer`);
//! - routes (`json.Marshal` of the `*Routes`: router → raw JSON), desired
//!   metric tags (`{"name":{"static":"v"}|{"dynamic":"INDEX"}}`), actual
//!   metric tags (`{"name":"v"}`) and internal routes
//!   (`[{"hostname":"h"}]`) as JSON, encrypted (`format.Encoder`), each as
//!   Go's `encoding/json` writes it (`null` for none);
//! - placement tags as plain JSON (`null` for none).
//!
//! Reads also take what earlier releases of ours wrote: routes as an
//! enveloped protobuf, dynamic metric tags as numbers, `[]` for none.

use crate::db::encryption::Encoder;
use models::json::GoJson;
use models::metric_tag_value::DynamicValue;
use models::{
    ActualLrpInternalRoute, BbsError, DesiredLrp, DesiredLrpKey, DesiredLrpResource,
    DesiredLrpRunInfo, DesiredLrpSchedulingInfo, MetricTagValue, ModificationTag, ProtoRoutes,
    VolumePlacement,
};
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) const TRUNCATED: &str = "(truncated)";

/// Diego's truncation of long error strings (byte-based, on a char boundary).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() < max {
        return s.to_string();
    }
    let mut end = max - TRUNCATED.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &s[..end], TRUNCATED)
}

pub(crate) fn blob_to_string(blob: Vec<u8>) -> String {
    // Encoded blobs are "0x" + base64: always ASCII.
    String::from_utf8(blob).expect("encoded blobs are ASCII")
}

pub(crate) fn deserialize_err(what: &str, e: impl std::fmt::Display) -> BbsError {
    tracing::error!(record = what, error = %e, "failed to deserialize stored record");
    BbsError::deserialize()
}

pub(crate) fn encode_proto<M: prost::Message>(enc: &Encoder, m: &M) -> String {
    blob_to_string(enc.marshal(m))
}

pub(crate) fn decode_proto<M: prost::Message + Default>(
    enc: &Encoder,
    what: &str,
    data: &str,
) -> Result<M, BbsError> {
    enc.unmarshal(data.as_bytes())
        .map_err(|e| deserialize_err(what, e))
}

fn encode_text(enc: &Encoder, json: &str) -> String {
    blob_to_string(enc.encode(json.as_bytes()))
}

fn decode_json(enc: &Encoder, what: &str, data: &str) -> Result<Value, BbsError> {
    if data.is_empty() {
        return Ok(Value::Null);
    }
    let plain = enc
        .decode(data.as_bytes())
        .map_err(|e| deserialize_err(what, e))?;
    serde_json::from_slice(&plain).map_err(|e| deserialize_err(what, e))
}

// --- actual LRP JSON columns -------------------------------------------

pub(crate) fn encode_internal_routes(enc: &Encoder, routes: &[ActualLrpInternalRoute]) -> String {
    encode_text(enc, &routes.to_vec().to_go_json())
}

pub(crate) fn decode_internal_routes(
    enc: &Encoder,
    data: &str,
) -> Result<Vec<ActualLrpInternalRoute>, BbsError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let plain = enc
        .decode(data.as_bytes())
        .map_err(|e| deserialize_err("internal_routes", e))?;
    // The usual shape straight into the model (no intermediate Value);
    // anything else through the lenient Value path.
    #[derive(serde::Deserialize)]
    struct Route {
        #[serde(default)]
        hostname: String,
    }
    if let Ok(routes) = serde_json::from_slice::<Vec<Route>>(&plain) {
        return Ok(routes
            .into_iter()
            .map(|r| ActualLrpInternalRoute {
                hostname: r.hostname,
            })
            .collect());
    }
    match serde_json::from_slice(&plain).map_err(|e| deserialize_err("internal_routes", e))? {
        Value::Array(items) => Ok(items
            .into_iter()
            .map(|i| ActualLrpInternalRoute {
                hostname: i
                    .get("hostname")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect()),
        _ => Ok(Vec::new()),
    }
}

pub(crate) fn encode_string_map(enc: &Encoder, tags: &BTreeMap<String, String>) -> String {
    encode_text(enc, &tags.to_go_json())
}

pub(crate) fn decode_string_map(
    enc: &Encoder,
    data: &str,
) -> Result<BTreeMap<String, String>, BbsError> {
    if data.is_empty() {
        return Ok(BTreeMap::new());
    }
    let plain = enc
        .decode(data.as_bytes())
        .map_err(|e| deserialize_err("metric_tags", e))?;
    // The usual shape straight into the map; anything else leniently.
    if let Ok(m) = serde_json::from_slice::<BTreeMap<String, String>>(&plain) {
        return Ok(m);
    }
    match serde_json::from_slice(&plain).map_err(|e| deserialize_err("metric_tags", e))? {
        Value::Object(m) => Ok(m
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect()),
        _ => Ok(BTreeMap::new()),
    }
}

// --- desired LRP columns -----------------------------------------------

pub(crate) fn encode_metric_tags(enc: &Encoder, tags: &BTreeMap<String, MetricTagValue>) -> String {
    encode_text(enc, &tags.to_go_json())
}

/// The routes column (encrypted JSON) and the routes a read of it gives
/// back: Go compacts each router's JSON when it writes it. Bytes that are
/// not JSON make Diego's `json.Marshal` fail: InvalidRequest (BadRequest).
pub(crate) fn stored_routes(
    enc: &Encoder,
    routes: Option<&ProtoRoutes>,
) -> Result<(String, ProtoRoutes), BbsError> {
    let json = routes_json(routes)?;
    let back = models::json::routes::routes_from_go_json(&json).map_err(|e| {
        tracing::error!(error = %e, "failed-marshalling-routes");
        BbsError::bad_request()
    })?;
    Ok((encode_text(enc, &json), back))
}

fn routes_json(routes: Option<&ProtoRoutes>) -> Result<String, BbsError> {
    models::json::routes::routes_to_go_json(routes).map_err(|e| {
        tracing::error!(error = %e, "failed-marshalling-routes");
        BbsError::bad_request()
    })
}

/// The routes column for `routes`.
pub(crate) fn encode_routes(
    enc: &Encoder,
    routes: Option<&ProtoRoutes>,
) -> Result<String, BbsError> {
    Ok(encode_text(enc, &routes_json(routes)?))
}

/// Routes from their column: Diego's encrypted JSON, or (written by an
/// earlier release of ours) an enveloped protobuf.
pub(crate) fn decode_routes(enc: &Encoder, data: &str) -> Result<ProtoRoutes, BbsError> {
    let plain = enc
        .decode(data.as_bytes())
        .map_err(|e| deserialize_err("routes", e))?;
    if plain.first() == Some(&crate::db::encryption::ENVELOPE_PROTO) {
        return <ProtoRoutes as prost::Message>::decode(&plain[2..])
            .map_err(|e| deserialize_err("routes", e));
    }
    let json = std::str::from_utf8(&plain).map_err(|e| deserialize_err("routes", e))?;
    models::json::routes::routes_from_go_json(json).map_err(|e| deserialize_err("routes", e))
}

pub(crate) fn decode_metric_tags(
    enc: &Encoder,
    data: &str,
) -> Result<BTreeMap<String, MetricTagValue>, BbsError> {
    let mut out = BTreeMap::new();
    if let Value::Object(m) = decode_json(enc, "desired_metric_tags", data)? {
        for (k, v) in m {
            let dynamic = match v.get("dynamic") {
                Some(Value::Number(n)) => n.as_i64().unwrap_or(0) as i32,
                Some(Value::String(s)) => DynamicValue::from_str_name(s).map_or(0, |d| d as i32),
                _ => 0,
            };
            out.insert(
                k,
                MetricTagValue {
                    r#static: v
                        .get("static")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    dynamic,
                },
            );
        }
    }
    Ok(out)
}

pub(crate) fn encode_placement_tags(tags: &[String]) -> String {
    tags.to_vec().to_go_json()
}

pub(crate) fn decode_placement_tags(data: &str) -> Result<Vec<String>, BbsError> {
    if data.is_empty() || data == "null" {
        return Ok(Vec::new());
    }
    serde_json::from_str(data).map_err(|e| deserialize_err("placement_tags", e))
}

pub(crate) fn volume_placement(lrp: &DesiredLrp) -> VolumePlacement {
    VolumePlacement {
        driver_names: lrp.volume_mounts.iter().map(|m| m.driver.clone()).collect(),
    }
}

/// The part of a desired LRP stored in the encrypted `run_info` column
/// (Diego's DesiredLRPRunInfo; metric tags live in their own column).
pub(crate) fn run_info(lrp: &DesiredLrp, created_at: i64) -> DesiredLrpRunInfo {
    DesiredLrpRunInfo {
        desired_lrp_key: Some(DesiredLrpKey {
            process_guid: lrp.process_guid.clone(),
            domain: lrp.domain.clone(),
            log_guid: lrp.log_guid.clone(),
        }),
        environment_variables: lrp.environment_variables.clone(),
        setup: lrp.setup.clone(),
        action: lrp.action.clone(),
        monitor: lrp.monitor.clone(),
        deprecated_start_timeout_s: 0,
        privileged: lrp.privileged,
        cpu_weight: lrp.cpu_weight,
        ports: lrp.ports.clone(),
        egress_rules: lrp.egress_rules.clone(),
        log_source: lrp.log_source.clone(),
        metrics_guid: lrp.metrics_guid.clone(),
        created_at,
        cached_dependencies: lrp.cached_dependencies.clone(),
        legacy_download_user: lrp.legacy_download_user.clone(),
        trusted_system_certificates_path: lrp.trusted_system_certificates_path.clone(),
        volume_mounts: lrp.volume_mounts.clone(),
        network: lrp.network.clone(),
        start_timeout_ms: lrp.start_timeout_ms,
        certificate_properties: lrp.certificate_properties.clone(),
        image_username: lrp.image_username.clone(),
        image_password: lrp.image_password.clone(),
        check_definition: lrp.check_definition.clone(),
        image_layers: lrp.image_layers.clone(),
        metric_tags: BTreeMap::new(),
        sidecars: lrp.sidecars.clone(),
        log_rate_limit: lrp.log_rate_limit,
        volume_mounted_files: lrp.volume_mounted_files.clone(),
    }
}

/// Ports deduplicated, first occurrence kept (Diego dedups on read).
fn dedup_ports(ports: Vec<u32>) -> Vec<u32> {
    let mut seen = std::collections::HashSet::with_capacity(ports.len());
    ports.into_iter().filter(|p| seen.insert(*p)).collect()
}

/// Diego's NewDesiredLRP: scheduling info + run info + metric tags.
pub(crate) fn desired_lrp(
    s: DesiredLrpSchedulingInfo,
    r: DesiredLrpRunInfo,
    metric_tags: BTreeMap<String, MetricTagValue>,
    update_strategy: i32,
) -> DesiredLrp {
    let key = s.desired_lrp_key.unwrap_or_default();
    let res = s.desired_lrp_resource.unwrap_or_default();
    DesiredLrp {
        process_guid: key.process_guid,
        domain: key.domain,
        log_guid: key.log_guid,
        root_fs: res.root_fs,
        memory_mb: res.memory_mb,
        disk_mb: res.disk_mb,
        max_pids: res.max_pids,
        instances: s.instances,
        annotation: s.annotation,
        routes: Some(s.routes.unwrap_or_default()),
        modification_tag: Some(s.modification_tag.unwrap_or_default()),
        placement_tags: s.placement_tags,
        environment_variables: r.environment_variables,
        cached_dependencies: r.cached_dependencies,
        setup: r.setup,
        action: r.action,
        monitor: r.monitor,
        start_timeout_ms: r.start_timeout_ms,
        privileged: r.privileged,
        cpu_weight: r.cpu_weight,
        ports: dedup_ports(r.ports),
        egress_rules: r.egress_rules,
        log_source: r.log_source,
        metrics_guid: r.metrics_guid,
        legacy_download_user: r.legacy_download_user,
        trusted_system_certificates_path: r.trusted_system_certificates_path,
        volume_mounts: r.volume_mounts,
        network: r.network,
        certificate_properties: r.certificate_properties,
        image_username: r.image_username,
        image_password: r.image_password,
        check_definition: r.check_definition,
        image_layers: r.image_layers,
        metric_tags,
        sidecars: r.sidecars,
        log_rate_limit: r.log_rate_limit,
        volume_mounted_files: r.volume_mounted_files,
        update_strategy,
        deprecated_start_timeout_s: 0,
    }
}

/// Scheduling info as stored (every always-present sub-message set).
#[allow(clippy::too_many_arguments)]
pub(crate) fn scheduling_info(
    key: DesiredLrpKey,
    annotation: String,
    instances: i32,
    resource: DesiredLrpResource,
    routes: ProtoRoutes,
    tag: ModificationTag,
    volume_placement: VolumePlacement,
    placement_tags: Vec<String>,
) -> DesiredLrpSchedulingInfo {
    DesiredLrpSchedulingInfo {
        desired_lrp_key: Some(key),
        annotation,
        instances,
        desired_lrp_resource: Some(resource),
        routes: Some(routes),
        modification_tag: Some(tag),
        volume_placement: Some(volume_placement),
        placement_tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::encryption::EncryptionConfig;

    #[test]
    fn truncates_like_diego() {
        assert_eq!(truncate("short", 10), "short");
        let long = "x".repeat(20);
        let t = truncate(&long, 15);
        assert_eq!(t.len(), 15);
        assert!(t.ends_with(TRUNCATED));
        // exactly max is truncated too (Diego's `<`)
        assert_eq!(truncate(&"y".repeat(15), 15).len(), 15);
        assert!(truncate(&"é".repeat(20), 15).ends_with(TRUNCATED));
    }

    #[test]
    fn json_columns_round_trip() {
        let enc = Encoder::new(&EncryptionConfig::single("k", "p")).unwrap();
        let routes = vec![ActualLrpInternalRoute {
            hostname: "a.apps.internal".into(),
        }];
        let data = encode_internal_routes(&enc, &routes);
        assert_eq!(decode_internal_routes(&enc, &data).unwrap(), routes);
        let mut tags = BTreeMap::new();
        tags.insert("app".to_string(), "x".to_string());
        let data = encode_string_map(&enc, &tags);
        assert_eq!(decode_string_map(&enc, &data).unwrap(), tags);
        let mut mt = BTreeMap::new();
        mt.insert(
            "idx".to_string(),
            MetricTagValue {
                r#static: String::new(),
                dynamic: DynamicValue::Index as i32,
            },
        );
        mt.insert(
            "s".to_string(),
            MetricTagValue {
                r#static: "v".into(),
                dynamic: 0,
            },
        );
        let data = encode_metric_tags(&enc, &mt);
        assert_eq!(decode_metric_tags(&enc, &data).unwrap(), mt);
        assert_eq!(decode_placement_tags("null").unwrap(), Vec::<String>::new());
        assert_eq!(
            decode_placement_tags(&encode_placement_tags(&["a".into()])).unwrap(),
            vec!["a".to_string()]
        );
    }

    #[test]
    fn dedups_ports_keeping_order() {
        assert_eq!(dedup_ports(vec![8080, 22, 8080, 9]), vec![8080, 22, 9]);
    }
}
