//! JSON as Go's `encoding/json` writes it: object keys of maps sorted, and
//! `<`, `>`, `&`, U+2028 and U+2029 escaped (Go's default HTML-safe
//! escaping), so result.json and staging_info.yml read byte for byte like
//! Diego's. Those characters only ever occur inside JSON strings, so
//! escaping them in the serialized text is exact.

use serde::Serialize;

pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string(value).expect("serializable");
    escape_html(&text)
}

/// As Go's `json.Encoder.Encode`: the document and a newline.
pub fn to_line<T: Serialize + ?Sized>(value: &T) -> String {
    let mut s = to_string(value);
    s.push('\n');
    s
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_as_go_does() {
        let v = serde_json::json!({"b": "x && y > z", "a": 1});
        assert_eq!(
            super::to_line(&v),
            "{\"a\":1,\"b\":\"x \\u0026\\u0026 y \\u003e z\"}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&super::to_string(&v)).unwrap();
        assert_eq!(back, v);
    }
}
