//! The rep's `CellState` as Diego's cfdot prints it: the rep's `/state`
//! answer decoded the way Go's `json.Unmarshal` fills `rep.CellState`, then
//! written back as `json.Encoder.Encode` writes that struct.
//!
//! Going through Go's struct (rather than echoing the rep's bytes) matters
//! because the struct decides the output: members in the struct's field
//! order (embedded structs promoted), unknown members dropped, missing ones
//! written as zero values, absent or `null` slices as `null` but empty ones
//! as `[]`, HTML characters escaped. The few custom (un)marshalers of the
//! rep package (`RootFSProviders`, the task state's name) are followed too.

use std::collections::BTreeMap;

use models::json::escape::write_go_string;
use serde_json::Value;

/// How one Go field is decoded and written.
enum Kind {
    Str,
    /// A Go integer of this many bits (`int` is 64).
    Int(u32),
    Bool,
    /// `[]string`.
    Strings,
    /// `[]T` of a struct.
    Structs(&'static str, &'static [Field]),
    Struct(&'static str, &'static [Field]),
    /// `rep.RootFSProviders` (custom unmarshaler).
    RootFsProviders,
    /// `models.Task_State`, written as its name.
    TaskState,
}

struct Field {
    name: &'static str,
    kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const RESOURCES: &[Field] = &[
    f("MemoryMB", Kind::Int(32)),
    f("DiskMB", Kind::Int(32)),
    f("Containers", Kind::Int(64)),
];

/// `rep.LRP`: instance guid, then the embedded `ActualLRPKey`,
/// `PlacementConstraint` and `Resource`, then the state.
const LRP: &[Field] = &[
    f("instance_guid", Kind::Str),
    f("process_guid", Kind::Str),
    f("index", Kind::Int(32)),
    f("domain", Kind::Str),
    f("PlacementTags", Kind::Strings),
    f("VolumeDrivers", Kind::Strings),
    f("RootFs", Kind::Str),
    f("MemoryMB", Kind::Int(32)),
    f("DiskMB", Kind::Int(32)),
    f("MaxPids", Kind::Int(32)),
    f("state", Kind::Str),
];

/// `rep.Task`.
const TASK: &[Field] = &[
    f("TaskGuid", Kind::Str),
    f("Domain", Kind::Str),
    f("PlacementTags", Kind::Strings),
    f("VolumeDrivers", Kind::Strings),
    f("RootFs", Kind::Str),
    f("MemoryMB", Kind::Int(32)),
    f("DiskMB", Kind::Int(32)),
    f("MaxPids", Kind::Int(32)),
    f("state", Kind::TaskState),
    f("failed", Kind::Bool),
];

/// `rep.CellState`.
const CELL_STATE: &[Field] = &[
    f("rep_url", Kind::Str),
    f("cell_id", Kind::Str),
    f("cell_index", Kind::Int(64)),
    f("RootFSProviders", Kind::RootFsProviders),
    f("AvailableResources", Kind::Struct("Resources", RESOURCES)),
    f("TotalResources", Kind::Struct("Resources", RESOURCES)),
    f("LRPs", Kind::Structs("LRP", LRP)),
    f("Tasks", Kind::Structs("Task", TASK)),
    f("StartingContainerCount", Kind::Int(64)),
    f("Zone", Kind::Str),
    f("Evacuating", Kind::Bool),
    f("VolumeDrivers", Kind::Strings),
    f("PlacementTags", Kind::Strings),
    f("OptionalPlacementTags", Kind::Strings),
    f("ProxyMemoryAllocationMB", Kind::Int(64)),
];

/// The task states' names (`models.Task_State_value`).
const TASK_STATES: &[&str] = &["Invalid", "Pending", "Running", "Completed", "Resolving"];

/// Decodes a `/state` body as the rep client does and returns the line
/// cfdot prints (with its newline). `Err` carries Go's error text.
pub fn cell_state_line(body: &[u8]) -> Result<String, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("unexpected end of JSON input".into());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut w = Writer::default();
    match &v {
        Value::Object(_) | Value::Null => w.strukt("CellState", CELL_STATE, &v, "CellState"),
        other => w.fail(other, "", "rep.CellState"),
    }
    match w.err {
        Some(e) => Err(e),
        None => {
            w.out.push('\n');
            Ok(w.out)
        }
    }
}

#[derive(Default)]
struct Writer {
    out: String,
    /// The first type error (Go keeps decoding and reports the first).
    err: Option<String>,
}

fn kind_name(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// A member by Go's rules: the exact name, else a case-insensitive match.
fn member<'v>(obj: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

impl Writer {
    fn fail(&mut self, v: &Value, path: &str, go_type: &str) {
        if self.err.is_none() {
            let place = if path.is_empty() {
                "Go value".to_string()
            } else {
                format!("Go struct field {path}")
            };
            self.err = Some(format!(
                "json: cannot unmarshal {} into {place} of type {go_type}",
                kind_name(v)
            ));
        }
    }

    fn strukt(&mut self, _type: &str, fields: &[Field], v: &Value, path: &str) {
        let empty = serde_json::Map::new();
        let obj = match v {
            Value::Object(o) => o,
            _ => &empty,
        };
        self.out.push('{');
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_go_string(&mut self.out, field.name);
            self.out.push(':');
            let fpath = format!("{path}.{}", field.name);
            self.value(&field.kind, member(obj, field.name), &fpath);
        }
        self.out.push('}');
    }

    fn value(&mut self, kind: &Kind, v: Option<&Value>, path: &str) {
        match kind {
            Kind::Str => match v {
                Some(Value::String(s)) => write_go_string(&mut self.out, s),
                Some(Value::Null) | None => self.out.push_str("\"\""),
                Some(other) => {
                    self.fail(other, path, "string");
                    self.out.push_str("\"\"");
                }
            },
            Kind::Int(bits) => {
                let n = match v {
                    Some(Value::Number(n)) => match n.as_i64() {
                        Some(i) if *bits == 64 || i32::try_from(i).is_ok() => i,
                        _ => {
                            let t = if *bits == 64 { "int" } else { "int32" };
                            self.fail(v.unwrap(), path, t);
                            0
                        }
                    },
                    Some(Value::Null) | None => 0,
                    Some(other) => {
                        let t = if *bits == 64 { "int" } else { "int32" };
                        self.fail(other, path, t);
                        0
                    }
                };
                self.out.push_str(&n.to_string());
            }
            Kind::Bool => match v {
                Some(Value::Bool(b)) => self.out.push_str(if *b { "true" } else { "false" }),
                Some(Value::Null) | None => self.out.push_str("false"),
                Some(other) => {
                    self.fail(other, path, "bool");
                    self.out.push_str("false");
                }
            },
            Kind::Strings => match v {
                Some(Value::Array(items)) => {
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.value(&Kind::Str, Some(item), path);
                    }
                    self.out.push(']');
                }
                Some(Value::Null) | None => self.out.push_str("null"),
                Some(other) => {
                    self.fail(other, path, "[]string");
                    self.out.push_str("null");
                }
            },
            Kind::Structs(name, fields) => match v {
                Some(Value::Array(items)) => {
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        if !matches!(item, Value::Object(_) | Value::Null) {
                            self.fail(item, path, &format!("rep.{name}"));
                        }
                        self.strukt(name, fields, item, path);
                    }
                    self.out.push(']');
                }
                Some(Value::Null) | None => self.out.push_str("null"),
                Some(other) => {
                    self.fail(other, path, &format!("[]rep.{name}"));
                    self.out.push_str("null");
                }
            },
            Kind::Struct(name, fields) => {
                let v = v.unwrap_or(&Value::Null);
                if !matches!(v, Value::Object(_) | Value::Null) {
                    self.fail(v, path, &format!("rep.{name}"));
                }
                self.strukt(name, fields, v, path);
            }
            Kind::RootFsProviders => self.root_fs_providers(v, path),
            Kind::TaskState => {
                // Task_State's UnmarshalJSON also runs for `null`, and
                // only a known name passes.
                let name = match v {
                    None => "Invalid".to_string(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) => String::new(),
                    Some(other) => {
                        self.fail(other, "", "string");
                        "Invalid".to_string()
                    }
                };
                if TASK_STATES.contains(&name.as_str()) {
                    write_go_string(&mut self.out, &name);
                } else {
                    if self.err.is_none() {
                        self.err = Some(format!("invalid state: {name}"));
                    }
                    self.out.push_str("\"Invalid\"");
                }
            }
        }
    }

    /// `RootFSProviders.UnmarshalJSON`: any present value (even `null`)
    /// yields a map; each provider is kept by its `type`, unknown types as
    /// nil. Written with sorted keys, as Go writes maps.
    fn root_fs_providers(&mut self, v: Option<&Value>, path: &str) {
        let obj = match v {
            None => {
                self.out.push_str("null");
                return;
            }
            Some(Value::Null) => {
                self.out.push_str("{}");
                return;
            }
            Some(Value::Object(o)) => o,
            Some(other) => {
                self.fail(other, "", "map[string]json.RawMessage");
                self.out.push_str("null");
                return;
            }
        };
        let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
        self.out.push('{');
        for (i, (scheme, p)) in sorted.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_go_string(&mut self.out, scheme);
            self.out.push(':');
            self.provider(p, path);
        }
        self.out.push('}');
    }

    fn provider(&mut self, p: &Value, _path: &str) {
        let Value::Object(o) = p else {
            if !p.is_null() {
                self.fail(p, "", "rep.rootFSProviderEnvelope");
            }
            self.out.push_str("null");
            return;
        };
        let ty = match member(o, "type") {
            Some(Value::String(s)) => s.as_str(),
            _ => "",
        };
        match ty {
            "arbitrary" => self.out.push_str(r#"{"type":"arbitrary"}"#),
            "fixed_set" => {
                self.out.push_str(r#"{"set":"#);
                match member(o, "set") {
                    Some(Value::Object(set)) => {
                        let names: std::collections::BTreeSet<&String> = set.keys().collect();
                        self.out.push('{');
                        for (i, n) in names.into_iter().enumerate() {
                            if i > 0 {
                                self.out.push(',');
                            }
                            write_go_string(&mut self.out, n);
                            self.out.push_str(":{}");
                        }
                        self.out.push('}');
                    }
                    _ => self.out.push_str("null"),
                }
                self.out.push_str(r#","type":"fixed_set"}"#);
            }
            _ => self.out.push_str("null"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_state_comes_out_in_go_field_order() {
        let body = br#"{"Zone":"z1","cell_id":"cell-1","rep_url":"http://r:1",
            "RootFSProviders":{"preloaded":{"type":"fixed_set","set":{"cflinuxfs4":{}}},"docker":{"type":"arbitrary"}},
            "AvailableResources":{"MemoryMB":512,"DiskMB":1024,"Containers":3},
            "LRPs":[{"process_guid":"p<1>","index":2,"domain":"d","instance_guid":"i","RootFs":"preloaded:cflinuxfs4","MemoryMB":128,"state":"RUNNING","extra":1}],
            "Tasks":[],"PlacementTags":["a"],"unknown":true}"#;
        let line = cell_state_line(body).unwrap();
        assert_eq!(
            line,
            concat!(
                r#"{"rep_url":"http://r:1","cell_id":"cell-1","cell_index":0,"#,
                r#""RootFSProviders":{"docker":{"type":"arbitrary"},"preloaded":{"set":{"cflinuxfs4":{}},"type":"fixed_set"}},"#,
                r#""AvailableResources":{"MemoryMB":512,"DiskMB":1024,"Containers":3},"#,
                r#""TotalResources":{"MemoryMB":0,"DiskMB":0,"Containers":0},"#,
                r#""LRPs":[{"instance_guid":"i","process_guid":"p\u003c1\u003e","index":2,"domain":"d","PlacementTags":null,"VolumeDrivers":null,"RootFs":"preloaded:cflinuxfs4","MemoryMB":128,"DiskMB":0,"MaxPids":0,"state":"RUNNING"}],"#,
                r#""Tasks":[],"StartingContainerCount":0,"Zone":"z1","Evacuating":false,"#,
                r#""VolumeDrivers":null,"PlacementTags":["a"],"OptionalPlacementTags":null,"ProxyMemoryAllocationMB":0}"#,
                "\n"
            )
        );
    }

    #[test]
    fn tasks_carry_their_state_name() {
        let line =
            cell_state_line(br#"{"Tasks":[{"TaskGuid":"t","state":"Running"},{}]}"#).unwrap();
        assert!(line.contains(r#""Tasks":[{"TaskGuid":"t","Domain":"","PlacementTags":null,"VolumeDrivers":null,"RootFs":"","MemoryMB":0,"DiskMB":0,"MaxPids":0,"state":"Running","failed":false},{"TaskGuid":"","Domain":"","PlacementTags":null,"VolumeDrivers":null,"RootFs":"","MemoryMB":0,"DiskMB":0,"MaxPids":0,"state":"Invalid","failed":false}]"#), "{line}");
        assert_eq!(
            cell_state_line(br#"{"Tasks":[{"state":"Bogus"}]}"#).unwrap_err(),
            "invalid state: Bogus"
        );
    }

    #[test]
    fn providers_null_and_unknown_types_follow_the_custom_unmarshaler() {
        let line = cell_state_line(br#"{"RootFSProviders":null}"#).unwrap();
        assert!(line.contains(r#""RootFSProviders":{},"#), "{line}");
        let line = cell_state_line(br#"{"RootFSProviders":{"x":{"type":"odd"}}}"#).unwrap();
        assert!(line.contains(r#""RootFSProviders":{"x":null},"#), "{line}");
        let line = cell_state_line(b"{}").unwrap();
        assert!(line.contains(r#""RootFSProviders":null,"#), "{line}");
    }

    #[test]
    fn type_errors_and_bad_json_read_as_go_reports_them() {
        assert_eq!(
            cell_state_line(br#"{"cell_index":"x"}"#).unwrap_err(),
            "json: cannot unmarshal string into Go struct field CellState.cell_index of type int"
        );
        assert_eq!(
            cell_state_line(br#"{"AvailableResources":{"MemoryMB":3000000000}}"#).unwrap_err(),
            "json: cannot unmarshal number 3000000000 into Go struct field CellState.AvailableResources.MemoryMB of type int32"
        );
        assert_eq!(
            cell_state_line(b"").unwrap_err(),
            "unexpected end of JSON input"
        );
    }
}
