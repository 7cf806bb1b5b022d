//! Diego stores a desired LRP's routes as JSON (`json.Marshal` of the
//! route map), so the route payloads it hands back are compacted, with
//! `<`, `>`, `&`, U+2028 and U+2029 escaped inside strings. We apply the
//! same normalisation before storing, so readers see Diego's bytes.

use models::ProtoRoutes;

/// Go's `json.Compact` with HTML escaping. None when `raw` is not JSON.
pub fn compact_json(raw: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(raw).ok()?;
    let text = std::str::from_utf8(raw).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
                out.push(c);
                continue;
            }
            match c {
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                _ => out.push(c),
            }
        } else {
            match c {
                ' ' | '\t' | '\n' | '\r' => {}
                '"' => {
                    in_string = true;
                    out.push(c);
                }
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                _ => out.push(c),
            }
        }
    }
    Some(out.into_bytes())
}

/// Compacts every route payload that is valid JSON; others stay as sent.
pub fn compact_routes(routes: &mut Option<ProtoRoutes>) {
    if let Some(r) = routes {
        for v in r.routes.values_mut() {
            if let Some(c) = compact_json(v) {
                *v = c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_like_go() {
        let raw = br#"[{"hostnames": ["a.example.com"], "port": 8080, "x": "<b> & \" c"}]"#;
        let c = compact_json(raw).unwrap();
        assert_eq!(
            String::from_utf8(c).unwrap(),
            r#"[{"hostnames":["a.example.com"],"port":8080,"x":"\u003cb\u003e \u0026 \" c"}]"#
        );
        assert!(compact_json(b"{not json").is_none());
    }
}
