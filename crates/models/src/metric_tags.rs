//! Metric tags as an instance reports them.

use crate::metric_tag_value::DynamicValue;
use crate::MetricTagValue;
use std::collections::BTreeMap;

/// Diego's ConvertMetricTags: a desired LRP's metric tags with the dynamic
/// values (index, instance guid) resolved for one instance.
pub fn convert_metric_tags(
    tags: &BTreeMap<String, MetricTagValue>,
    index: i32,
    instance_guid: &str,
) -> BTreeMap<String, String> {
    tags.iter()
        .map(|(k, v)| {
            let value = match v.dynamic() {
                DynamicValue::Index => index.to_string(),
                DynamicValue::InstanceGuid => instance_guid.to_string(),
                _ => v.r#static.clone(),
            };
            (k.clone(), value)
        })
        .collect()
}
