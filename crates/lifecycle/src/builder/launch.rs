//! What the droplet runs: processes from supply buildpacks' `launch.yml`,
//! the final buildpack's `bin/release` (`default_process_types`) and the
//! app's `Procfile`, merged in that order (later ones replace earlier ones
//! of the same type), then split into process types and sidecars.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A process of `launch.yml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LaunchProcess {
    #[serde(rename = "type")]
    pub kind: String,
    pub command: String,
    pub platforms: Platforms,
    pub limits: ProcessLimits,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Platforms {
    pub cloudfoundry: CloudFoundry,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CloudFoundry {
    pub sidecar_for: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ProcessLimits {
    pub memory: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LaunchData {
    pub processes: Vec<LaunchProcess>,
}

/// `bin/release` output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Release {
    pub default_process_types: BTreeMap<String, String>,
}

/// Replaces processes of `a` by those of `b` with the same type and adds
/// the others.
pub fn merge(mut a: Vec<LaunchProcess>, b: Vec<LaunchProcess>) -> Vec<LaunchProcess> {
    for p in b {
        match a.iter_mut().find(|q| q.kind == p.kind) {
            Some(q) => *q = p,
            None => a.push(p),
        }
    }
    a
}

/// Process types and commands as launch processes (type order).
pub fn from_types(types: BTreeMap<String, String>) -> Vec<LaunchProcess> {
    types
        .into_iter()
        .map(|(kind, command)| LaunchProcess {
            kind,
            command,
            ..Default::default()
        })
        .collect()
}

pub fn parse_launch_yml(text: &str) -> Result<LaunchData, String> {
    // An empty document is no processes.
    if text.trim().is_empty() {
        return Ok(LaunchData::default());
    }
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

pub fn parse_release(text: &str) -> Result<Release, String> {
    if text.trim().is_empty() {
        return Ok(Release::default());
    }
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

/// A Procfile: `type: command` lines (YAML). Diego replaces the parser's
/// message with "invalid YAML".
pub fn parse_procfile(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: serde_norway::Value =
        serde_norway::from_str(text).map_err(|_| "invalid YAML".to_string())?;
    let serde_norway::Value::Mapping(map) = value else {
        return Err("invalid YAML".into());
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let (Some(k), Some(v)) = (scalar(&k), scalar(&v)) else {
            return Err("invalid YAML".into());
        };
        out.insert(k, v);
    }
    Ok(out)
}

/// A YAML scalar as the text Go's yaml.v2 would decode into a string.
fn scalar(v: &serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        serde_norway::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A process of result.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    #[serde(rename = "type")]
    pub kind: String,
    pub command: String,
}

/// A sidecar of result.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    pub name: String,
    pub process_types: Vec<String>,
    pub command: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub memory: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Processes without `sidecar_for` become process types; the others,
/// sidecars of the types they name.
pub fn split(
    processes: Vec<LaunchProcess>,
) -> (BTreeMap<String, String>, Vec<Process>, Vec<Sidecar>) {
    let mut types = BTreeMap::new();
    let mut list = Vec::new();
    let mut sidecars = Vec::new();
    for p in processes {
        if p.platforms.cloudfoundry.sidecar_for.is_empty() {
            types.insert(p.kind.clone(), p.command.clone());
            list.push(Process {
                kind: p.kind,
                command: p.command,
            });
        } else {
            sidecars.push(Sidecar {
                name: p.kind,
                process_types: p.platforms.cloudfoundry.sidecar_for,
                command: p.command,
                memory: p.limits.memory,
            });
        }
    }
    (types, list, sidecars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfile_overrides_release_and_launch_yml() {
        let launch = parse_launch_yml(
            "processes:\n- type: web\n  command: from-launch\n- type: worker\n  command: w\n- type: envoy\n  command: e\n  platforms:\n    cloudfoundry:\n      sidecar_for: [web]\n  limits:\n    memory: 64\n",
        )
        .unwrap();
        let release =
            parse_release("---\ndefault_process_types:\n  web: from-release\n  task: t\n").unwrap();
        let procfile = parse_procfile("web: python app.py --port $PORT\n").unwrap();
        let merged = merge(
            merge(launch.processes, from_types(release.default_process_types)),
            from_types(procfile),
        );
        let (types, list, sidecars) = split(merged);
        assert_eq!(types["web"], "python app.py --port $PORT");
        assert_eq!(types["worker"], "w");
        assert_eq!(types["task"], "t");
        assert_eq!(list.len(), 3);
        assert_eq!(
            sidecars,
            [Sidecar {
                name: "envoy".into(),
                process_types: vec!["web".into()],
                command: "e".into(),
                memory: 64
            }]
        );
    }

    #[test]
    fn bad_yaml_is_reported() {
        assert_eq!(
            parse_procfile("web: [unclosed\n").unwrap_err(),
            "invalid YAML"
        );
        assert_eq!(parse_procfile("- a\n- b\n").unwrap_err(), "invalid YAML");
        assert!(parse_procfile("").unwrap().is_empty());
        assert!(parse_release("default_process_types: [a").is_err());
        assert!(parse_release("").unwrap().default_process_types.is_empty());
        assert_eq!(
            parse_procfile("web: 8080\n").unwrap()["web"],
            "8080",
            "numbers are commands too"
        );
    }
}
