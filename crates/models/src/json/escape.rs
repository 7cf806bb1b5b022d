//! Go's `encoding/json` string escaping and compaction (with HTML escaping on,
//! which is what `json.Marshal` and a default `json.Encoder` use).

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal, escaped exactly as Go's encoder does:
/// `"`, `\` and control characters are escaped (`\n`, `\r`, `\t`, `\b`, `\f`
/// short forms, `\u00XX` otherwise), `<`, `>` and `&` become `\u003c`,
/// `\u003e`, `\u0026`, and U+2028/U+2029 become `\u2028`/`\u2029`.
/// Everything else (including DEL and non-ASCII) is written verbatim.
pub fn write_go_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            _ => None,
        };
        let needs_hex = (c as u32) < 0x20 || c == '<' || c == '>' || c == '&';
        if esc.is_none() && !needs_hex {
            continue;
        }
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => push_u00(out, c as u8),
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_u00(out: &mut String, b: u8) {
    out.push_str("\\u00");
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 0xf) as usize] as char);
}

/// The JSON string literal Go would write for `s`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_go_string(&mut out, s);
    out
}

/// Appends already-valid JSON `raw` the way Go re-emits the output of a
/// `json.Marshaler` (e.g. a `json.RawMessage`): insignificant whitespace is
/// removed and, inside strings, `<`, `>`, `&`, U+2028 and U+2029 are escaped.
/// Other string contents (including existing escapes) are kept byte for byte.
/// The caller must have checked that `raw` is valid JSON.
pub fn write_compact_html(out: &mut String, raw: &str) {
    let mut in_str = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in raw.char_indices() {
        let replacement: Option<&str> = if in_str {
            if escaped {
                escaped = false;
                None
            } else {
                match c {
                    '\\' => {
                        escaped = true;
                        None
                    }
                    '"' => {
                        in_str = false;
                        None
                    }
                    '<' => Some("\\u003c"),
                    '>' => Some("\\u003e"),
                    '&' => Some("\\u0026"),
                    '\u{2028}' => Some("\\u2028"),
                    '\u{2029}' => Some("\\u2029"),
                    _ => None,
                }
            }
        } else {
            match c {
                '"' => {
                    in_str = true;
                    None
                }
                ' ' | '\t' | '\n' | '\r' => Some(""),
                _ => None,
            }
        };
        if let Some(r) = replacement {
            out.push_str(&raw[start..i]);
            out.push_str(r);
            start = i + c.len_utf8();
        }
    }
    out.push_str(&raw[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(go_quote("plain"), r#""plain""#);
        assert_eq!(go_quote("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(go_quote("q\"b\\"), r#""q\"b\\""#);
        assert_eq!(go_quote("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(go_quote("\u{1}\u{1f}\u{7f}"), "\"\\u0001\\u001f\u{7f}\"");
        assert_eq!(go_quote("\u{2028}x\u{2029}"), r#""\u2028x\u2029""#);
        assert_eq!(go_quote("héllo ☃ 😀"), "\"héllo ☃ 😀\"");
        assert_eq!(go_quote("/"), r#""/""#);
    }

    #[test]
    fn compacts_like_go() {
        let mut out = String::new();
        write_compact_html(
            &mut out,
            "[ {\"hostnames\" : [\"a <b> & c\", \"x\\\"y \"],\n\t\"port\": 8080} ]",
        );
        assert_eq!(
            out,
            r#"[{"hostnames":["a \u003cb\u003e \u0026 c","x\"y "],"port":8080}]"#
        );
    }
}
