//! LRP routes: Go's `models.Routes` (`map[string]*json.RawMessage`), which
//! travels in protobuf as `ProtoRoutes` (router name → raw JSON bytes).

use std::collections::BTreeMap;

use super::codec::{Cx, FieldCodec, ObjWriter};
use super::error::JsonError;
use super::escape::write_compact_html;
use super::parse::{parse, Kind, Node};
use crate::pb::ProtoRoutes;

/// Writes one router's raw JSON the way Go re-emits a `json.RawMessage`
/// (compacted, HTML-escaped). Bytes that are not valid JSON (which would make
/// Go's `json.Marshal` fail as a whole) are written as `null`.
fn write_raw(out: &mut String, raw: &[u8]) {
    match std::str::from_utf8(raw) {
        Ok(s) if parse(s).is_ok() => write_compact_html(out, s),
        _ => out.push_str("null"),
    }
}

fn encode_routes(routes: &Option<ProtoRoutes>, out: &mut String) {
    match routes {
        // A Routes decoded from an empty ProtoRoutes is a nil map.
        Some(pr) if !pr.routes.is_empty() => {
            let mut w = ObjWriter::new(out);
            for (router, raw) in &pr.routes {
                write_raw(w.key(router), raw);
            }
            w.finish();
        }
        _ => out.push_str("null"),
    }
}

/// Reads a routes object keeping each router's value byte for byte as
/// written (Go's `json.RawMessage` copies the input text verbatim).
fn decode_routes(
    routes: &mut Option<ProtoRoutes>,
    v: &Node<'_>,
    cx: &mut Cx,
) -> Result<(), JsonError> {
    match &v.kind {
        Kind::Null => {
            *routes = None;
            Ok(())
        }
        Kind::Object(members) => {
            let pr = routes.get_or_insert_with(|| ProtoRoutes {
                routes: BTreeMap::new(),
            });
            for (router, raw) in members {
                pr.routes
                    .insert(router.clone(), raw.raw.as_bytes().to_vec());
            }
            Ok(())
        }
        _ => Err(cx.mismatch(v, "models.Routes")),
    }
}

/// `*Routes` (DesiredLRP, DesiredLRPUpdate): nil when absent.
pub struct RoutesPtr;

impl FieldCodec<Option<ProtoRoutes>> for RoutesPtr {
    fn encode(f: &Option<ProtoRoutes>, out: &mut String) {
        encode_routes(f, out)
    }
    fn is_empty(f: &Option<ProtoRoutes>) -> bool {
        f.is_none()
    }
    fn decode(f: &mut Option<ProtoRoutes>, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        decode_routes(f, v, cx)
    }
}

/// `Routes` held by value (DesiredLRPSchedulingInfo): `null` when empty.
pub struct RoutesValue;

impl FieldCodec<Option<ProtoRoutes>> for RoutesValue {
    fn encode(f: &Option<ProtoRoutes>, out: &mut String) {
        encode_routes(f, out)
    }
    fn is_empty(f: &Option<ProtoRoutes>) -> bool {
        !matches!(f, Some(r) if !r.routes.is_empty())
    }
    fn decode(f: &mut Option<ProtoRoutes>, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        decode_routes(f, v, cx)
    }
}

/// Routes as Diego's bbs stores them in `desired_lrps.routes` (before
/// encryption): `json.Marshal` of the `*Routes`, `null` for none. A
/// router's bytes that are not JSON make Go's `json.Marshal` fail; so
/// does this, with the router's name.
pub fn routes_to_go_json(routes: Option<&ProtoRoutes>) -> Result<String, String> {
    let Some(pr) = routes else {
        return Ok("null".to_string());
    };
    let mut out = String::new();
    let mut w = ObjWriter::new(&mut out);
    for (router, raw) in &pr.routes {
        match std::str::from_utf8(raw) {
            Ok(s) if parse(s).is_ok() => write_compact_html(w.key(router), s),
            _ => return Err(format!("routes[{router:?}] is not JSON")),
        }
    }
    w.finish();
    Ok(out)
}

/// Routes read back from their stored JSON (`null` is no routes): each
/// router's value byte for byte, as Go's `json.RawMessage` keeps it.
pub fn routes_from_go_json(json: &str) -> Result<ProtoRoutes, JsonError> {
    let mut routes = None;
    let node = parse(json)?;
    let mut cx = Cx::default();
    decode_routes(&mut routes, &node, &mut cx)?;
    Ok(routes.unwrap_or_default())
}

#[cfg(test)]
mod stored_form_tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_diegos_stored_form() {
        let mut pr = ProtoRoutes::default();
        pr.routes.insert(
            "cf-router".into(),
            br#"[ {"hostnames": ["a.example.com"], "port": 8080, "route_service_url": "https://x?a=1&b=<2>"} ]"#
                .to_vec(),
        );
        pr.routes.insert("tcp-router".into(), b"[]".to_vec());
        let json = routes_to_go_json(Some(&pr)).unwrap();
        assert_eq!(
            json,
            r#"{"cf-router":[{"hostnames":["a.example.com"],"port":8080,"route_service_url":"https://x?a=1\u0026b=\u003c2\u003e"}],"tcp-router":[]}"#
        );
        let back = routes_from_go_json(&json).unwrap();
        assert_eq!(
            back.routes["cf-router"],
            br#"[{"hostnames":["a.example.com"],"port":8080,"route_service_url":"https://x?a=1\u0026b=\u003c2\u003e"}]"#
                .to_vec()
        );
        assert_eq!(routes_to_go_json(Some(&back)).unwrap(), json);
        assert_eq!(routes_to_go_json(None).unwrap(), "null");
        assert_eq!(
            routes_to_go_json(Some(&ProtoRoutes::default())).unwrap(),
            "{}"
        );
        assert_eq!(routes_from_go_json("null").unwrap(), ProtoRoutes::default());
        pr.routes.insert("bad".into(), b"not json".to_vec());
        assert!(routes_to_go_json(Some(&pr)).unwrap_err().contains("bad"));
        assert!(routes_from_go_json("[1]").is_err());
    }
}
