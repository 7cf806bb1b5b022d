//! Metric tags and their agreement with `metrics_guid`.

use std::collections::BTreeMap;

use super::{Validate, ValidationError};
use crate::metric_tag_value::DynamicValue;
use crate::MetricTagValue;

fn dynamic_known(v: i32) -> bool {
    v == DynamicValue::Index as i32 || v == DynamicValue::InstanceGuid as i32
}

impl Validate for MetricTagValue {
    /// Exactly one of a static value or a known dynamic value.
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        let has_static = !self.r#static.is_empty();
        let has_dynamic = dynamic_known(self.dynamic);
        if has_static == has_dynamic {
            errs.invalid_field("static");
            errs.invalid_field("dynamic");
        }
        errs.into_result()
    }
}

/// Problems of each tag (in key order), then, when there are tags and a
/// metrics guid, "Invalid field: source_id should match metrics_guid"
/// unless the `source_id` tag's static value equals the metrics guid.
pub fn metric_tags_problems(
    tags: &BTreeMap<String, MetricTagValue>,
    metrics_guid: &str,
) -> ValidationError {
    let mut errs = ValidationError::default();
    for value in tags.values() {
        errs.absorb(value.validate());
    }
    if !tags.is_empty() && !metrics_guid.is_empty() {
        let matches = tags
            .get("source_id")
            .is_some_and(|v| v.r#static == metrics_guid);
        if !matches {
            errs.invalid_field("source_id should match metrics_guid");
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(v: &str) -> MetricTagValue {
        MetricTagValue {
            r#static: v.into(),
            dynamic: 0,
        }
    }

    fn dy(v: DynamicValue) -> MetricTagValue {
        MetricTagValue {
            r#static: String::new(),
            dynamic: v as i32,
        }
    }

    #[test]
    fn value_rules() {
        assert!(st("x").validate().is_ok());
        assert!(dy(DynamicValue::Index).validate().is_ok());
        assert!(dy(DynamicValue::InstanceGuid).validate().is_ok());
        let both = MetricTagValue {
            r#static: "x".into(),
            dynamic: DynamicValue::Index as i32,
        };
        assert_eq!(
            both.validate().unwrap_err().to_string(),
            "Invalid field: static, Invalid field: dynamic"
        );
        assert_eq!(
            MetricTagValue::default()
                .validate()
                .unwrap_err()
                .to_string(),
            "Invalid field: static, Invalid field: dynamic"
        );
        // A static value with an unknown dynamic number is accepted.
        let odd = MetricTagValue {
            r#static: "x".into(),
            dynamic: 7,
        };
        assert!(odd.validate().is_ok());
    }

    #[test]
    fn source_id_must_match_metrics_guid() {
        let mut tags = BTreeMap::new();
        tags.insert("source_id".to_string(), st("guid"));
        assert!(metric_tags_problems(&tags, "guid").is_empty());
        assert!(metric_tags_problems(&tags, "").is_empty());
        assert_eq!(
            metric_tags_problems(&tags, "other").to_string(),
            "Invalid field: source_id should match metrics_guid"
        );
        let mut tags = BTreeMap::new();
        tags.insert("foo".to_string(), st("bar"));
        assert_eq!(
            metric_tags_problems(&tags, "guid").to_string(),
            "Invalid field: source_id should match metrics_guid"
        );
        assert!(metric_tags_problems(&BTreeMap::new(), "guid").is_empty());
    }
}
