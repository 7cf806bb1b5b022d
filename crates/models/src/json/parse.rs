//! A small JSON parser that accepts exactly what Go's `encoding/json`
//! accepts and keeps the raw text of every value (needed for
//! `json.RawMessage` fields such as LRP routes).

use super::error::JsonError;

/// Go refuses documents nested deeper than this.
const MAX_DEPTH: usize = 10_000;

/// One parsed JSON value and the exact input text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub raw: &'a str,
    pub kind: Kind<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    /// The number literal as written (already checked against JSON's grammar).
    Number(&'a str),
    Str(String),
    Array(Vec<Node<'a>>),
    /// Members in document order; duplicate keys are kept (later ones win
    /// when decoding, as in Go).
    Object(Vec<(String, Node<'a>)>),
}

impl Kind<'_> {
    /// How Go names this kind of value in an `UnmarshalTypeError`.
    pub fn go_desc(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "bool",
            Kind::Number(_) => "number",
            Kind::Str(_) => "string",
            Kind::Array(_) => "array",
            Kind::Object(_) => "object",
        }
    }
}

/// Parses a complete document (one value, optional surrounding whitespace).
pub fn parse(input: &str) -> Result<Node<'_>, JsonError> {
    let mut p = Parser {
        s: input,
        b: input.as_bytes(),
        pos: 0,
    };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.pos < p.b.len() {
        return Err(p.invalid("after top-level value"));
    }
    Ok(node)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        '\n' => "'\\n'".to_string(),
        '\r' => "'\\r'".to_string(),
        '\t' => "'\\t'".to_string(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

impl<'a> Parser<'a> {
    fn eof(&self) -> JsonError {
        JsonError::Syntax {
            msg: "unexpected end of JSON input".into(),
            offset: self.b.len(),
        }
    }

    fn invalid(&self, context: &str) -> JsonError {
        match self.s[self.pos..].chars().next() {
            None => self.eof(),
            Some(c) => JsonError::Syntax {
                msg: format!("invalid character {} {}", quote_char(c), context),
                offset: self.pos + 1,
            },
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::Syntax {
                msg: "exceeded max depth".into(),
                offset: self.pos,
            });
        }
        let start = self.pos;
        let kind = match self.peek() {
            None => return Err(self.eof()),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::Str(self.string()?),
            Some(b't') => {
                self.literal("true")?;
                Kind::Bool(true)
            }
            Some(b'f') => {
                self.literal("false")?;
                Kind::Bool(false)
            }
            Some(b'n') => {
                self.literal("null")?;
                Kind::Null
            }
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            Some(_) => return Err(self.invalid("looking for beginning of value")),
        };
        Ok(Node {
            raw: &self.s[start..self.pos],
            kind,
        })
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        for expected in word.bytes() {
            match self.peek() {
                None => return Err(self.eof()),
                Some(b) if b == expected => self.pos += 1,
                Some(_) => {
                    let ctx = format!(
                        "in literal {word} (expecting {})",
                        quote_char(expected as char)
                    );
                    return Err(self.invalid(&ctx));
                }
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<&'a str, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            match self.peek() {
                Some(b'0'..=b'9') => {}
                None => return Err(self.eof()),
                Some(_) => return Err(self.invalid("in numeric literal")),
            }
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return match self.peek() {
                    None => Err(self.eof()),
                    Some(_) => Err(self.invalid("after decimal point in numeric literal")),
                };
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return match self.peek() {
                    None => Err(self.eof()),
                    Some(_) => Err(self.invalid("in exponent of numeric literal")),
                };
            }
        }
        Ok(&self.s[start..self.pos])
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                None => return Err(self.eof()),
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                Some(_) => return Err(self.invalid("in \\u hexadecimal character escape")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.eof());
            };
            match b {
                b'"' => {
                    out.push_str(&self.s[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.s[run..self.pos]);
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.eof());
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            out.push(self.surrogate_tail(hi)?);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.invalid("in string escape code"));
                        }
                    }
                    run = self.pos;
                }
                b if b < 0x20 => return Err(self.invalid("in string literal")),
                _ => self.pos += 1,
            }
        }
    }

    /// Completes a `\uXXXX` escape: pairs surrogates when a low surrogate
    /// escape follows, and yields U+FFFD for unpaired ones (as Go does).
    fn surrogate_tail(&mut self, hi: u32) -> Result<char, JsonError> {
        if !(0xD800..0xE000).contains(&hi) {
            return Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'));
        }
        if hi < 0xDC00 && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            // Not a pair: the second escape is decoded on its own.
            self.pos = save;
        }
        Ok('\u{FFFD}')
    }

    fn array(&mut self, depth: usize) -> Result<Kind<'a>, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                None => return Err(self.eof()),
                Some(_) => return Err(self.invalid("after array element")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind<'a>, JsonError> {
        self.pos += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.ws();
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.eof()),
                Some(_) => return Err(self.invalid("looking for beginning of object key string")),
            }
            let key = self.string()?;
            self.ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.eof()),
                Some(_) => return Err(self.invalid("after object key")),
            }
            self.ws();
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(members));
                }
                None => return Err(self.eof()),
                Some(_) => return Err(self.invalid("after object key:value pair")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn keeps_raw_text() {
        let n = parse(" {\"a\": [1, 2 ], \"b\":\"x\"} ").unwrap();
        let Kind::Object(m) = n.kind else { panic!() };
        assert_eq!(m[0].1.raw, "[1, 2 ]");
        assert_eq!(m[1].1.kind, Kind::Str("x".into()));
    }

    #[test]
    fn strings_decode_escapes_and_surrogates() {
        let n = parse(r#""a\u003cb\n\ud83d\ude00\ud800x\/""#).unwrap();
        assert_eq!(n.kind, Kind::Str("a<b\n😀\u{FFFD}x/".into()));
    }

    #[test]
    fn syntax_errors_read_like_go() {
        assert_eq!(err(""), "unexpected end of JSON input");
        assert_eq!(err("{"), "unexpected end of JSON input");
        assert_eq!(
            err("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(err("{} x"), "invalid character 'x' after top-level value");
        assert_eq!(
            err("{1:2}"),
            "invalid character '1' looking for beginning of object key string"
        );
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(err("01"), "invalid character '1' after top-level value");
        assert_eq!(err("tru"), "unexpected end of JSON input");
        assert_eq!(err("\"\n\""), "invalid character '\\n' in string literal");
    }
}
