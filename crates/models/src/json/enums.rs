//! The enums Diego marshals by name, and the one it marshals as a number.

use super::codec::{enum_name_arg, Cx, FieldCodec, GoEnum};
use super::error::JsonError;
use super::escape::write_go_string;
use super::parse::Node;
use crate::pb::{actual_lrp, actual_lrp_net_info, error, image_layer, metric_tag_value, task};

macro_rules! named_enum {
    ($marker:ident, $prost:ty, $invalid:literal) => {
        #[doc = concat!("Marshals `", stringify!($prost), "` by its Go name.")]
        pub struct $marker;
        impl GoEnum for $marker {
            fn name(v: i32) -> Option<&'static str> {
                <$prost>::try_from(v).ok().map(|e| e.as_str_name())
            }
            fn value(name: &str) -> Option<i32> {
                <$prost>::from_str_name(name).map(|e| e as i32)
            }
            const INVALID: &'static str = $invalid;
        }
    };
}

named_enum!(PresenceName, actual_lrp::Presence, "invalid presence");
named_enum!(
    PreferredAddressName,
    actual_lrp_net_info::PreferredAddress,
    "invalid preferred address"
);
named_enum!(TaskStateName, task::State, "invalid state");
// Diego's Error_Type.UnmarshalJSON really says "presence".
named_enum!(ErrorTypeName, error::Type, "invalid presence");
named_enum!(
    DigestAlgorithmName,
    image_layer::DigestAlgorithm,
    "invalid digest_algorithm"
);
named_enum!(MediaTypeName, image_layer::MediaType, "invalid media_type");
named_enum!(LayerTypeName, image_layer::Type, "invalid type");

/// `MetricTagValue.dynamic`: written by name, but an unknown value is
/// written as `""` and an unknown name reads as 0 (no error), as Diego does.
pub struct DynamicValueName;

impl FieldCodec<i32> for DynamicValueName {
    fn encode(f: &i32, out: &mut String) {
        let name = metric_tag_value::DynamicValue::try_from(*f)
            .map(|e| e.as_str_name())
            .unwrap_or("");
        write_go_string(out, name);
    }
    fn is_empty(f: &i32) -> bool {
        *f == 0
    }
    fn decode(f: &mut i32, v: &Node<'_>, _cx: &mut Cx) -> Result<(), JsonError> {
        let name = enum_name_arg(v)?;
        *f = metric_tag_value::DynamicValue::from_str_name(&name)
            .map(|e| e as i32)
            .unwrap_or(0);
        Ok(())
    }
}
