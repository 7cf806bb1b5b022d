//! Diego's JSON forms of the models, byte for byte as Go's `encoding/json`
//! produces them for Diego's gogo-generated structs, and Go-compatible
//! decoding of them.
//!
//! Encoding follows the Go struct definitions: members in Go field order
//! (protobuf declaration order, not field numbers), the `json:"..."` names,
//! `omitempty`, embedded (gogoproto.embed) messages promoted into the parent,
//! non-nullable messages written as values, nullable ones as `null`, empty
//! repeated/map fields as `null` (gogo decodes them to nil), oneofs left to
//! `encoding/json` under their Go field name (`"OptionalRoutable"`), and
//! Diego's custom marshalers (enum names, `ResourceLimits`, routes as raw
//! JSON, `DesiredLRPUpdate`, `ActualLRPsRequest`). Strings are escaped as
//! Go does with HTML escaping on (`<` → `\u003c`, ...).
//!
//! Decoding follows `json.Unmarshal`: unknown members are ignored, names
//! match exactly or else case-insensitively (Go's folding), `null` leaves
//! scalars alone and clears pointers/slices/maps, integers must be integral
//! and in range, route values are kept as the exact input text.
//!
//! # Reference vintage (`compat`)
//! Our ground truth is the output of the reference cfdot, built against a
//! Diego that predates `volume_mounted_files`, `update_strategy`,
//! `VolumeMount.dedicated` and `CellPresence.annotations`. Those members are
//! therefore written only when non-empty (newer Diego writes them always,
//! e.g. `"volume_mounted_files":null`), so unset they match the reference
//! byte for byte and set they are not lost.

#[macro_use]
mod macros;

pub mod codec;
pub mod error;
pub mod escape;
pub mod parse;

mod actions;
mod actual_lrp;
mod cells;
mod common;
mod desired_lrp;
pub mod enums;
pub mod events;
mod messages;
pub mod oneof;
pub mod routes;
mod task;

pub use codec::GoCodec;
pub use error::JsonError;
pub use escape::go_quote;
pub use events::DiegoEvent;

/// Go's `json.Marshal` form of a value.
pub trait GoJson {
    /// Compact JSON as `json.Marshal` writes it (no trailing newline).
    fn to_go_json(&self) -> String;

    /// One line as Go's `json.Encoder.Encode` writes it (what cfdot prints):
    /// the compact JSON followed by `\n`.
    fn to_go_json_line(&self) -> String {
        let mut s = self.to_go_json();
        s.push('\n');
        s
    }
}

impl<T: GoCodec + ?Sized> GoJson for T {
    fn to_go_json(&self) -> String {
        let mut out = String::new();
        self.encode_go(&mut out);
        out
    }
}

/// Decodes `s` as Go's `json.Unmarshal` would into a fresh `T`.
pub fn from_go_json<T: GoCodec + Default>(s: &str) -> Result<T, JsonError> {
    let mut t = T::default();
    decode_go_json_into(s, &mut t)?;
    Ok(t)
}

/// Decodes `s` into an existing value (Go's `json.Unmarshal(data, &v)` on
/// a non-zero `v`: members not in `s` are kept).
pub fn decode_go_json_into<T: GoCodec>(s: &str, t: &mut T) -> Result<(), JsonError> {
    let node = parse::parse(s)?;
    t.decode_go(&node, &mut codec::Cx::default())
}
