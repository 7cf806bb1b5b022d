//! Decoding errors, worded like Go's `encoding/json` errors.

use std::fmt;

/// Why a JSON document could not be decoded into a Diego model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// The input is not valid JSON (Go's `*json.SyntaxError`).
    Syntax { msg: String, offset: usize },
    /// A JSON value does not fit the Go field (Go's `*json.UnmarshalTypeError`).
    Type {
        /// What was found: "string", "number", "number 1.5", "object", ...
        value: String,
        /// The Go struct holding the field ("DesiredLRP"); empty at top level.
        struct_name: String,
        /// Dotted path of JSON field names from the document root.
        field: String,
        /// The Go type of the destination ("int32", "models.Action", ...).
        go_type: String,
    },
    /// An error returned by one of Diego's custom `UnmarshalJSON` methods
    /// (e.g. "invalid presence: FOO").
    Custom(String),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax { msg, .. } => f.write_str(msg),
            JsonError::Type {
                value,
                struct_name,
                field,
                go_type,
            } => {
                if struct_name.is_empty() && field.is_empty() {
                    write!(
                        f,
                        "json: cannot unmarshal {value} into Go value of type {go_type}"
                    )
                } else {
                    write!(
                        f,
                        "json: cannot unmarshal {value} into Go struct field {struct_name}.{field} of type {go_type}"
                    )
                }
            }
            JsonError::Custom(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for JsonError {}
