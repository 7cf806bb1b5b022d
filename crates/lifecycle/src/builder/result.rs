//! What staging produces besides the droplet: `result.json` (Cloud
//! Controller reads it as the task's result: process types, the detected
//! buildpack) and `staging_info.yml` in the droplet (the launcher's default
//! start command). Field names and shapes are Diego's `StagingResult` and
//! `DeaStagingInfo`.

use super::launch::{Process, Sidecar};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildpackConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entrypoint_prefix: String,
}

/// A buildpack of the result: its key, and what its `config.yml` (in its
/// deps directory) says of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackMetadata {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BuildpackConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_metadata: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleMetadata {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub buildpack_key: String,
    pub detected_buildpack: String,
    pub buildpacks: Vec<BuildpackMetadata>,
}

/// result.json. `process_types` is null when staging failed before the
/// process types were known (as Diego writes it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StagingResult {
    pub lifecycle_metadata: LifecycleMetadata,
    pub process_types: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    pub execution_metadata: String,
    pub lifecycle_type: String,
}

impl StagingResult {
    /// The result for these buildpacks: the last one is the detected one.
    pub fn new(
        process_types: Option<BTreeMap<String, String>>,
        buildpacks: Vec<BuildpackMetadata>,
    ) -> Self {
        let last = buildpacks.last().cloned().unwrap_or_default();
        Self {
            lifecycle_metadata: LifecycleMetadata {
                buildpack_key: last.key,
                detected_buildpack: last.name,
                buildpacks,
            },
            process_types,
            processes: Vec::new(),
            sidecars: Vec::new(),
            execution_metadata: String::new(),
            lifecycle_type: "buildpack".into(),
        }
    }

    pub fn to_json(&self) -> String {
        crate::gojson::to_line(self)
    }
}

/// `staging_info.yml`: JSON (valid YAML), as Diego writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingInfo {
    #[serde(default)]
    pub detected_buildpack: String,
    #[serde(default)]
    pub start_command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BuildpackConfig>,
}

impl StagingInfo {
    pub fn to_json(&self) -> String {
        crate::gojson::to_line(self)
    }

    /// What replaces `bash -c` before the start command, if the buildpack
    /// asked for something else.
    pub fn entrypoint_prefix(&self) -> &str {
        self.config
            .as_ref()
            .map(|c| c.entrypoint_prefix.as_str())
            .unwrap_or("")
    }
}

/// The file name in the droplet's root.
pub const STAGING_INFO_FILE: &str = "staging_info.yml";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_json_has_diegos_shape() {
        let mut r = StagingResult::new(
            Some([("web".to_string(), "python app.py".to_string())].into()),
            vec![BuildpackMetadata {
                key: "python_buildpack".into(),
                name: "python".into(),
                version: "1.0.0".into(),
                ..Default::default()
            }],
        );
        r.processes = vec![Process {
            kind: "web".into(),
            command: "python app.py".into(),
        }];
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "lifecycle_metadata": {
                    "buildpack_key": "python_buildpack",
                    "detected_buildpack": "python",
                    "buildpacks": [{"key": "python_buildpack", "name": "python", "version": "1.0.0"}]
                },
                "process_types": {"web": "python app.py"},
                "processes": [{"type": "web", "command": "python app.py"}],
                "execution_metadata": "",
                "lifecycle_type": "buildpack"
            })
        );
        assert!(r.to_json().ends_with("}\n"));
    }

    #[test]
    fn a_failed_result_has_null_process_types() {
        let r = StagingResult::new(None, vec![]);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert!(v["process_types"].is_null());
        assert_eq!(v["lifecycle_metadata"]["buildpacks"], serde_json::json!([]));
        assert!(v["lifecycle_metadata"].get("buildpack_key").is_none());
    }

    #[test]
    fn staging_info_round_trips_through_yaml() {
        let info = StagingInfo {
            detected_buildpack: "binary".into(),
            start_command: "./serve > log & wait".into(),
            config: Some(BuildpackConfig {
                entrypoint_prefix: "tini --".into(),
            }),
        };
        let text = info.to_json();
        assert!(text.contains("\\u003e log \\u0026 wait"), "{text}");
        let back: StagingInfo = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.entrypoint_prefix(), "tini --");
    }
}
