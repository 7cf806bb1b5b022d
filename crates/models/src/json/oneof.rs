//! Protobuf oneofs of a single scalar, in the two shapes Diego's JSON has:
//! - behind a custom MarshalJSON (`DesiredLRPUpdate`, `ActualLRPsRequest`):
//!   a plain pointer-like member, written when set;
//! - left to `encoding/json` (`ActualLRP.OptionalRoutable`): the Go
//!   interface field named after the oneof, holding a one-member struct.

use super::codec::{Cx, FieldCodec, GoCodec, ObjWriter};
use super::error::JsonError;
use super::parse::{Kind, Node};
use crate::pb::{
    actual_lr_ps_request, actual_lrp, actual_lrp_info, desired_lrp_update,
    evacuate_running_actual_lrp_request, start_actual_lrp_request,
};

/// A oneof written as a pointer member (`*int32`, `*string`).
macro_rules! pointer_oneof {
    ($codec:ident, $oneof:ty, $variant:path, $inner:ty) => {
        pub struct $codec;
        impl FieldCodec<Option<$oneof>> for $codec {
            fn encode(f: &Option<$oneof>, out: &mut String) {
                match f {
                    Some($variant(x)) => x.encode_go(out),
                    None => out.push_str("null"),
                }
            }
            fn is_empty(f: &Option<$oneof>) -> bool {
                f.is_none()
            }
            fn decode(f: &mut Option<$oneof>, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
                // A null pointer leaves the oneof as it was.
                if v.kind == Kind::Null {
                    return Ok(());
                }
                let mut x = <$inner>::default();
                x.decode_go(v, cx)?;
                *f = Some($variant(x));
                Ok(())
            }
        }
    };
}

pointer_oneof!(
    UpdateInstances,
    desired_lrp_update::OptionalInstances,
    desired_lrp_update::OptionalInstances::Instances,
    i32
);
pointer_oneof!(
    UpdateAnnotation,
    desired_lrp_update::OptionalAnnotation,
    desired_lrp_update::OptionalAnnotation::Annotation,
    String
);
pointer_oneof!(
    UpdateImageUsername,
    desired_lrp_update::OptionalImageUsername,
    desired_lrp_update::OptionalImageUsername::ImageUsername,
    String
);
pointer_oneof!(
    UpdateImagePassword,
    desired_lrp_update::OptionalImagePassword,
    desired_lrp_update::OptionalImagePassword::ImagePassword,
    String
);
pointer_oneof!(
    RequestIndex,
    actual_lr_ps_request::OptionalIndex,
    actual_lr_ps_request::OptionalIndex::Index,
    i32
);

/// A oneof left to `encoding/json`: `null` when unset, otherwise
/// `{"<member>":value}` (the member omitted when `omitempty` and false).
///
/// Go itself cannot decode such a member back (it is an interface); we
/// accept the form we write, so our JSON round-trips.
macro_rules! interface_oneof {
    ($codec:ident, $oneof:ty, $variant:path, $member:literal, $omitempty:literal) => {
        pub struct $codec;
        impl FieldCodec<Option<$oneof>> for $codec {
            fn encode(f: &Option<$oneof>, out: &mut String) {
                match f {
                    Some($variant(b)) => {
                        let mut w = ObjWriter::new(out);
                        if !($omitempty && !*b) {
                            w.value($member, b);
                        }
                        w.finish();
                    }
                    None => out.push_str("null"),
                }
            }
            fn is_empty(f: &Option<$oneof>) -> bool {
                f.is_none()
            }
            fn decode(f: &mut Option<$oneof>, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
                let members = match &v.kind {
                    Kind::Null => {
                        *f = None;
                        return Ok(());
                    }
                    Kind::Object(m) => m,
                    _ => return Err(cx.mismatch(v, "interface")),
                };
                let mut b = false;
                for (key, val) in members {
                    if super::codec::match_field(&[$member], key).is_some() {
                        b.decode_go(val, cx)?;
                    }
                }
                *f = Some($variant(b));
                Ok(())
            }
        }
    };
}

interface_oneof!(
    LrpRoutable,
    actual_lrp::OptionalRoutable,
    actual_lrp::OptionalRoutable::Routable,
    "routable",
    false
);
interface_oneof!(
    InfoRoutable,
    actual_lrp_info::OptionalRoutable,
    actual_lrp_info::OptionalRoutable::Routable,
    "Routable",
    true
);
interface_oneof!(
    StartRoutable,
    start_actual_lrp_request::OptionalRoutable,
    start_actual_lrp_request::OptionalRoutable::Routable,
    "Routable",
    true
);
interface_oneof!(
    EvacuateRoutable,
    evacuate_running_actual_lrp_request::OptionalRoutable,
    evacuate_running_actual_lrp_request::OptionalRoutable::Routable,
    "Routable",
    true
);
