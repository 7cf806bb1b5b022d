//! The encoding/decoding traits and their implementations for scalars,
//! slices, maps and pointers, following `encoding/json`'s rules for the Go
//! types gogo-protobuf generates.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use super::error::JsonError;
use super::escape::write_go_string;
use super::parse::{Kind, Node};

/// A value with a Go JSON form.
///
/// Implemented for the Diego models (see [`super`]) and for the scalar,
/// slice (`Vec`), map (`BTreeMap<String, _>`) and pointer (`Option`) shapes
/// they are built from.
pub trait GoCodec {
    /// Appends the compact JSON Go's `json.Marshal` produces.
    fn encode_go(&self, out: &mut String);
    /// Whether a field of this type tagged `omitempty` is left out
    /// (false, 0, "", nil pointer, empty slice or map; never for structs).
    fn is_go_empty(&self) -> bool;
    /// Decodes `v` into `self` the way `json.Unmarshal` does (null leaves
    /// scalars and struct values alone and sets pointers, slices, maps to nil).
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError>;
    /// The Go type, as named in type errors.
    fn go_type() -> String;
}

/// Decoding context: where in the document we are, for error messages.
#[derive(Debug, Default)]
pub struct Cx {
    stack: Vec<(&'static str, &'static str)>,
}

impl Cx {
    pub(crate) fn push(&mut self, struct_name: &'static str, field: &'static str) {
        self.stack.push((struct_name, field));
    }

    pub(crate) fn pop(&mut self) {
        self.stack.pop();
    }

    /// An `UnmarshalTypeError` for `value` landing in a `go_type` here.
    pub fn type_error(&self, value: impl Into<String>, go_type: impl Into<String>) -> JsonError {
        JsonError::Type {
            value: value.into(),
            struct_name: self.stack.last().map(|s| s.0).unwrap_or("").to_string(),
            field: self.stack.iter().map(|s| s.1).collect::<Vec<_>>().join("."),
            go_type: go_type.into(),
        }
    }

    /// A type error describing the kind of `v`.
    pub fn mismatch(&self, v: &Node<'_>, go_type: impl Into<String>) -> JsonError {
        self.type_error(v.kind.go_desc(), go_type)
    }
}

/// Writes the members of one JSON object, handling the separators.
pub struct ObjWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    /// Opens an object (`{`) on `out`; call [`ObjWriter::finish`] to close it.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjWriter { out, first: true }
    }

    /// Writes `"name":` and returns the buffer for the value.
    pub fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_go_string(self.out, name);
        self.out.push(':');
        self.out
    }

    /// Writes a member whose value is a [`GoCodec`].
    pub fn value<T: GoCodec + ?Sized>(&mut self, name: &str, v: &T) {
        v.encode_go(self.key(name));
    }

    pub fn finish(self) {
        self.out.push('}');
    }
}

/// A Go struct: an ordered set of JSON members, some of them promoted from
/// embedded structs.
pub trait GoStruct: Default {
    /// The Go type name ("DesiredLRP"), for error messages.
    const GO_NAME: &'static str;
    /// Writes this struct's members (promoted ones included) in Go field order.
    fn write_fields(&self, w: &mut ObjWriter<'_>);
    /// Lists this struct's JSON member names (promoted ones included).
    fn field_names(out: &mut Vec<&'static str>);
    /// Decodes `v` into the member named `name` (one of [`GoStruct::field_names`]).
    /// Returns false if the name is not one of this struct's members.
    fn set_field(&mut self, name: &str, v: &Node<'_>, cx: &mut Cx) -> Result<bool, JsonError>;
}

/// Go's case folding for matching JSON keys to field names (as
/// `encoding/json`'s `foldName`: ASCII upper-cased, other runes mapped
/// through ToUpper(ToLower(r))).
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_uppercase());
            continue;
        }
        let mut lower = c.to_lowercase();
        let l = match (lower.next(), lower.next()) {
            (Some(l), None) => l,
            _ => c,
        };
        let mut upper = l.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(l),
        }
    }
    out
}

/// Finds the field a JSON key selects: an exact match first, otherwise the
/// first field whose name folds to the same string.
pub(crate) fn match_field(names: &[&'static str], key: &str) -> Option<&'static str> {
    if let Some(n) = names.iter().find(|n| **n == key) {
        return Some(n);
    }
    let folded = fold(key);
    names.iter().copied().find(|n| fold(n) == folded)
}

/// Decodes a JSON object into a struct's members; unknown keys are ignored.
pub(crate) fn decode_struct<T: GoStruct>(
    t: &mut T,
    v: &Node<'_>,
    cx: &mut Cx,
) -> Result<(), JsonError> {
    let members = match &v.kind {
        Kind::Null => return Ok(()),
        Kind::Object(m) => m,
        _ => return Err(cx.mismatch(v, format!("models.{}", T::GO_NAME))),
    };
    let mut names = Vec::new();
    T::field_names(&mut names);
    for (key, val) in members {
        if let Some(name) = match_field(&names, key) {
            cx.push(T::GO_NAME, name);
            t.set_field(name, val, cx)?;
            cx.pop();
        }
    }
    Ok(())
}

/// Writes a struct as a JSON object (the `GoCodec` of every `go_struct!`).
pub(crate) fn encode_struct<T: GoStruct>(t: &T, out: &mut String) {
    let mut w = ObjWriter::new(out);
    t.write_fields(&mut w);
    w.finish();
}

impl GoCodec for String {
    fn encode_go(&self, out: &mut String) {
        write_go_string(out, self);
    }
    fn is_go_empty(&self) -> bool {
        self.is_empty()
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        match &v.kind {
            Kind::Null => Ok(()),
            Kind::Str(s) => {
                self.clone_from(s);
                Ok(())
            }
            _ => Err(cx.mismatch(v, "string")),
        }
    }
    fn go_type() -> String {
        "string".into()
    }
}

impl GoCodec for bool {
    fn encode_go(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn is_go_empty(&self) -> bool {
        !*self
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        match v.kind {
            Kind::Null => Ok(()),
            Kind::Bool(b) => {
                *self = b;
                Ok(())
            }
            _ => Err(cx.mismatch(v, "bool")),
        }
    }
    fn go_type() -> String {
        "bool".into()
    }
}

macro_rules! int_codec {
    ($($t:ty => $go:literal),*) => {$(
        impl GoCodec for $t {
            fn encode_go(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
            fn is_go_empty(&self) -> bool {
                *self == 0
            }
            fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
                match v.kind {
                    Kind::Null => Ok(()),
                    // Go parses the literal as an integer of the field's
                    // size: fractions, exponents and overflow are errors.
                    Kind::Number(lit) => match lit.parse::<$t>() {
                        Ok(n) => {
                            *self = n;
                            Ok(())
                        }
                        Err(_) => Err(cx.type_error(format!("number {lit}"), $go)),
                    },
                    _ => Err(cx.mismatch(v, $go)),
                }
            }
            fn go_type() -> String {
                $go.into()
            }
        }
    )*};
}
int_codec!(i32 => "int32", i64 => "int64", u32 => "uint32", u64 => "uint64");

/// `Option<T>` is a Go pointer: `None` is nil (`null`, omitted by omitempty).
impl<T: GoCodec + Default> GoCodec for Option<T> {
    fn encode_go(&self, out: &mut String) {
        match self {
            Some(v) => v.encode_go(out),
            None => out.push_str("null"),
        }
    }
    fn is_go_empty(&self) -> bool {
        self.is_none()
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        if v.kind == Kind::Null {
            *self = None;
            return Ok(());
        }
        self.get_or_insert_with(T::default).decode_go(v, cx)
    }
    fn go_type() -> String {
        format!("*{}", T::go_type())
    }
}

/// A boxed value (prost boxes recursive messages) is the value itself.
impl<T: GoCodec> GoCodec for Box<T> {
    fn encode_go(&self, out: &mut String) {
        (**self).encode_go(out)
    }
    fn is_go_empty(&self) -> bool {
        (**self).is_go_empty()
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        (**self).decode_go(v, cx)
    }
    fn go_type() -> String {
        T::go_type()
    }
}

/// `Vec<T>` is a Go slice; protobuf decoding leaves empty ones nil, so an
/// empty `Vec` is written as `null`.
impl<T: GoCodec + Default> GoCodec for Vec<T> {
    fn encode_go(&self, out: &mut String) {
        if self.is_empty() {
            out.push_str("null");
            return;
        }
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.encode_go(out);
        }
        out.push(']');
    }
    fn is_go_empty(&self) -> bool {
        self.is_empty()
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        match &v.kind {
            Kind::Null => {
                self.clear();
                Ok(())
            }
            Kind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let mut t = T::default();
                    t.decode_go(item, cx)?;
                    out.push(t);
                }
                *self = out;
                Ok(())
            }
            _ => Err(cx.mismatch(v, Self::go_type())),
        }
    }
    fn go_type() -> String {
        format!("[]{}", T::go_type())
    }
}

/// `BTreeMap<String, V>` is a Go map: keys come out sorted (byte order, as
/// Go sorts them), an empty map is written as `null` (nil after protobuf
/// decoding), and decoding adds to what is already there.
impl<V: GoCodec + Default> GoCodec for BTreeMap<String, V> {
    fn encode_go(&self, out: &mut String) {
        if self.is_empty() {
            out.push_str("null");
            return;
        }
        encode_map(self, out);
    }
    fn is_go_empty(&self) -> bool {
        self.is_empty()
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        match &v.kind {
            Kind::Null => {
                self.clear();
                Ok(())
            }
            Kind::Object(members) => {
                for (k, item) in members {
                    let mut t = V::default();
                    t.decode_go(item, cx)?;
                    self.insert(k.clone(), t);
                }
                Ok(())
            }
            _ => Err(cx.mismatch(v, Self::go_type())),
        }
    }
    fn go_type() -> String {
        format!("map[string]{}", V::go_type())
    }
}

/// Writes a map as a JSON object even when it is empty (`{}`).
pub(crate) fn encode_map<V: GoCodec>(m: &BTreeMap<String, V>, out: &mut String) {
    let mut w = ObjWriter::new(out);
    for (k, v) in m {
        w.value(k, v);
    }
    w.finish();
}

/// How one struct member is encoded and decoded, when that differs from the
/// field type's own [`GoCodec`].
pub trait FieldCodec<F> {
    fn encode(f: &F, out: &mut String);
    fn is_empty(f: &F) -> bool;
    fn decode(f: &mut F, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError>;
}

/// The field type's own [`GoCodec`].
pub struct Plain;

impl<F: GoCodec> FieldCodec<F> for Plain {
    fn encode(f: &F, out: &mut String) {
        f.encode_go(out)
    }
    fn is_empty(f: &F) -> bool {
        f.is_go_empty()
    }
    fn decode(f: &mut F, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        f.decode_go(v, cx)
    }
}

/// A gogo non-nullable message field: a Go struct value, never `null`
/// (an absent protobuf field is written as the zero struct).
pub struct NonNull;

impl<T: GoCodec + Default> FieldCodec<Option<T>> for NonNull {
    fn encode(f: &Option<T>, out: &mut String) {
        match f {
            Some(v) => v.encode_go(out),
            None => T::default().encode_go(out),
        }
    }
    fn is_empty(_: &Option<T>) -> bool {
        false
    }
    fn decode(f: &mut Option<T>, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        if v.kind == Kind::Null {
            return Ok(());
        }
        f.get_or_insert_with(T::default).decode_go(v, cx)
    }
}

/// A protobuf enum Diego marshals by name (a custom `MarshalJSON` writing
/// `String()`, and an `UnmarshalJSON` looking the name up).
pub trait GoEnum {
    /// The Go name of a value, if it has one.
    fn name(v: i32) -> Option<&'static str>;
    /// The value of a name.
    fn value(name: &str) -> Option<i32>;
    /// The prefix of the error for an unknown name ("invalid presence").
    const INVALID: &'static str;
}

/// Encodes an `i32` enum field through its [`GoEnum`] names.
pub struct Named<E>(PhantomData<E>);

/// Decodes the JSON string a named-enum `UnmarshalJSON` expects; like
/// Diego's, it unmarshals into a Go string first (so `null` gives "").
pub(crate) fn enum_name_arg(v: &Node<'_>) -> Result<String, JsonError> {
    match &v.kind {
        Kind::Str(s) => Ok(s.clone()),
        Kind::Null => Ok(String::new()),
        k => Err(JsonError::Type {
            value: k.go_desc().into(),
            struct_name: String::new(),
            field: String::new(),
            go_type: "string".into(),
        }),
    }
}

impl<E: GoEnum> FieldCodec<i32> for Named<E> {
    fn encode(f: &i32, out: &mut String) {
        match E::name(*f) {
            Some(n) => write_go_string(out, n),
            // gogo's String() falls back to the number.
            None => write_go_string(out, &f.to_string()),
        }
    }
    fn is_empty(f: &i32) -> bool {
        *f == 0
    }
    fn decode(f: &mut i32, v: &Node<'_>, _cx: &mut Cx) -> Result<(), JsonError> {
        let name = enum_name_arg(v)?;
        match E::value(&name) {
            Some(n) => {
                *f = n;
                Ok(())
            }
            None => Err(JsonError::Custom(format!("{}: {}", E::INVALID, name))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_go() {
        assert_eq!(
            match_field(&["process_guid"], "PROCESS_GUID"),
            Some("process_guid")
        );
        assert_eq!(
            match_field(&["process_guid"], "Process_Guid"),
            Some("process_guid")
        );
        assert_eq!(match_field(&["process_guid"], "processguid"), None);
        // Kelvin sign folds to K, long s to S.
        assert_eq!(match_field(&["kind"], "\u{212a}ind"), Some("kind"));
        assert_eq!(match_field(&["state"], "\u{17f}tate"), Some("state"));
        // An exact match wins over an earlier folded one.
        assert_eq!(
            match_field(&["Routable", "routable"], "routable"),
            Some("routable")
        );
    }
}
