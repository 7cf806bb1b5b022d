//! Where the conformance corpora (Diego's own bbs/cfdot exchanges, and a
//! database Diego's bbs wrote) live, and reading their protobuf bytes
//! without losing what our schema lacks.
//!
//! They sit beside the repository in `shared/conformance/`, not in it, so
//! a checkout without them skips the replays and says so rather than
//! failing.

use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use std::path::PathBuf;

fn conformance_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
}

/// `dir` if it is there; else None, the calling test recorded as skipped
/// (see [`crate::skip`]). `DIEGO_REQUIRE_PREREQS=1` (or the older
/// `DIEGO_REQUIRE_CONFORMANCE=1`) makes its absence a failure, unless
/// `DIEGO_CONFORMANCE_OPTIONAL=1` (`.ci/run` sets it when the corpora are
/// not beside the checkout).
fn present(dir: PathBuf, what: &str, env: &str) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!(
        "{what} not found at {} (set {env} to use it)",
        dir.display()
    );
    if std::env::var("DIEGO_REQUIRE_CONFORMANCE").as_deref() == Ok("1") {
        panic!("{why}");
    }
    if std::env::var("DIEGO_CONFORMANCE_OPTIONAL").as_deref() == Ok("1") {
        crate::skip::skip_allowed(&why);
    } else {
        crate::skip::skip(&why);
    }
    None
}

/// The corpus directory: `DIEGO_CONFORMANCE_DIR` if set, else
/// `../shared/conformance/bbs` beside the repository; absent: see
/// [`present`].
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DIEGO_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => conformance_root().join("bbs"),
    };
    present(dir, "conformance corpus", "DIEGO_CONFORMANCE_DIR")
}

/// The database Diego's own bbs wrote (`pg_dump` schema and rows, and what
/// Diego's cfdot read from it): `DIEGO_CONFORMANCE_DB_DIR` if set, else
/// `bbs-database` beside the corpus directory. Absent: as [`corpus_dir`].
pub fn database_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DIEGO_CONFORMANCE_DB_DIR") {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("DIEGO_CONFORMANCE_DIR") {
            Some(d) => PathBuf::from(d)
                .parent()
                .map(|p| p.join("bbs-database"))
                .unwrap_or_default(),
            None => conformance_root().join("bbs-database"),
        },
    };
    present(dir, "Diego's bbs database", "DIEGO_CONFORMANCE_DB_DIR")
}

/// The fields of `bytes`, a `message` (full name, e.g.
/// `models.DesiredLRPsResponse`) of the compiled `descriptor_set`, that
/// the schema does not know, at any depth: one line each, with where it
/// sits (`models.DesiredLRPsResponse.desired_lrps[0]: field 41 (Varint)`).
/// Empty when the schema knows every field.
pub fn unknown_fields(
    descriptor_set: &[u8],
    message: &str,
    bytes: &[u8],
) -> Result<Vec<String>, String> {
    let pool = DescriptorPool::decode(descriptor_set).map_err(|e| e.to_string())?;
    let desc = pool
        .get_message_by_name(message)
        .ok_or_else(|| format!("no message {message} in the descriptor set"))?;
    let msg = DynamicMessage::decode(desc, bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    walk(&msg, message, &mut out);
    Ok(out)
}

fn walk(msg: &DynamicMessage, path: &str, out: &mut Vec<String>) {
    for f in msg.unknown_fields() {
        out.push(format!(
            "{path}: field {} ({:?})",
            f.number(),
            f.wire_type()
        ));
    }
    for (field, value) in msg.fields() {
        let here = format!("{path}.{}", field.name());
        match value {
            Value::Message(m) => walk(m, &here, out),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Message(m) = item {
                        walk(m, &format!("{here}[{i}]"), out);
                    }
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    if let Value::Message(m) = v {
                        walk(m, &format!("{here}[{k:?}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-message descriptor set: `t.M { string a = 1; M child = 2; }`.
    fn descriptor_set() -> Vec<u8> {
        use prost_reflect::prost::Message;
        use prost_reflect::prost_types::{
            field_descriptor_proto::{Label, Type},
            DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        };
        let field =
            |name: &str, number: i32, ty: Type, type_name: Option<&str>| FieldDescriptorProto {
                name: Some(name.into()),
                number: Some(number),
                label: Some(Label::Optional as i32),
                r#type: Some(ty as i32),
                type_name: type_name.map(str::to_string),
                ..Default::default()
            };
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("t.proto".into()),
                package: Some("t".into()),
                syntax: Some("proto3".into()),
                message_type: vec![DescriptorProto {
                    name: Some("M".into()),
                    field: vec![
                        field("a", 1, Type::String, None),
                        field("child", 2, Type::Message, Some(".t.M")),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn finds_fields_the_schema_lacks_at_any_depth() {
        let set = descriptor_set();
        // a = "x"; child = { a = "y", field 9 = varint 5 }; field 7 = "z"
        let child = [0x0a, 0x01, b'y', 0x48, 0x05];
        let mut bytes = vec![0x0a, 0x01, b'x', 0x12, child.len() as u8];
        bytes.extend_from_slice(&child);
        bytes.extend_from_slice(&[0x3a, 0x01, b'z']);
        let unknown = unknown_fields(&set, "t.M", &bytes).unwrap();
        assert_eq!(
            unknown,
            vec![
                "t.M: field 7 (LengthDelimited)".to_string(),
                "t.M.child: field 9 (Varint)".to_string()
            ]
        );
        assert!(unknown_fields(&set, "t.M", &bytes[..3]).unwrap().is_empty());
        assert!(unknown_fields(&set, "t.Nope", &bytes).is_err());
    }
}
