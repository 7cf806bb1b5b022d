//! Cloud Foundry's app manifest (`manifest.yml`): `applications:` with
//! name, path, instances, memory, disk_quota, command, buildpacks, stack,
//! docker, env, health-check-type, health-check-http-endpoint, routes,
//! timeout.

use anyhow::Context as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub applications: Vec<AppManifest>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Docker {
    pub image: String,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Route {
    pub route: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AppManifest {
    pub name: String,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub instances: Option<i32>,
    #[serde(default)]
    pub memory: Option<Scalar>,
    #[serde(default, rename = "disk_quota", alias = "disk-quota")]
    pub disk_quota: Option<Scalar>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub buildpacks: Vec<String>,
    #[serde(default)]
    pub buildpack: Option<String>,
    #[serde(default)]
    pub stack: Option<String>,
    #[serde(default)]
    pub docker: Option<Docker>,
    #[serde(default)]
    pub env: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub health_check_type: Option<String>,
    #[serde(default)]
    pub health_check_http_endpoint: Option<String>,
    #[serde(default)]
    pub routes: Option<Vec<Route>>,
    #[serde(default)]
    pub timeout: Option<u32>,
}

/// A YAML scalar read as text (`memory: 256M`, `PORTS: 8080`, `X: true`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_norway::Value::deserialize(d)?;
        match v {
            serde_norway::Value::String(s) => Ok(Scalar(s)),
            serde_norway::Value::Number(n) => Ok(Scalar(n.to_string())),
            serde_norway::Value::Bool(b) => Ok(Scalar(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, number or boolean, found {other:?}"
            ))),
        }
    }
}

/// Reads and checks a manifest; app paths are made relative to its
/// directory.
pub fn read(path: &Path) -> anyhow::Result<Vec<AppManifest>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the manifest {}", path.display()))?;
    let m: Manifest = serde_norway::from_str(&text)
        .with_context(|| format!("the manifest {} is not valid", path.display()))?;
    anyhow::ensure!(
        !m.applications.is_empty(),
        "the manifest {} lists no applications",
        path.display()
    );
    let base = path.parent().unwrap_or(Path::new("."));
    let mut apps = m.applications;
    for (i, a) in apps.iter_mut().enumerate() {
        anyhow::ensure!(
            !a.name.trim().is_empty(),
            "the manifest {}: application {} has no name",
            path.display(),
            i + 1
        );
        if let Some(p) = &a.path {
            a.path = Some(base.join(p));
        }
        if let Some(b) = a.buildpack.take() {
            a.buildpacks.push(b);
        }
    }
    Ok(apps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cloud_foundrys_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.yml");
        std::fs::write(
            &path,
            "---\napplications:\n- name: web\n  path: site\n  instances: 2\n  memory: 128M\n  \
             disk_quota: 1G\n  command: ./run\n  env:\n    GREETING: hi\n    COUNT: 3\n  \
             health-check-type: http\n  health-check-http-endpoint: /health\n  routes:\n  - \
             route: web.example.com\n  timeout: 90\n- name: worker\n  docker:\n    image: \
             busybox:latest\n",
        )
        .unwrap();
        let apps = read(&path).unwrap();
        assert_eq!(apps.len(), 2);
        let web = &apps[0];
        assert_eq!(web.path.as_deref(), Some(dir.path().join("site").as_path()));
        assert_eq!(web.instances, Some(2));
        assert_eq!(web.memory, Some(Scalar("128M".into())));
        assert_eq!(web.disk_quota, Some(Scalar("1G".into())));
        assert_eq!(web.env["COUNT"], Scalar("3".into()));
        assert_eq!(web.health_check_type.as_deref(), Some("http"));
        assert_eq!(web.health_check_http_endpoint.as_deref(), Some("/health"));
        assert_eq!(web.routes.as_ref().unwrap()[0].route, "web.example.com");
        assert_eq!(web.timeout, Some(90));
        assert_eq!(apps[1].docker.as_ref().unwrap().image, "busybox:latest");
    }

    #[test]
    fn bad_manifests_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.yml");
        for (text, want) in [
            ("applications: []\n", "no applications"),
            ("applications:\n- instances: 2\n", "missing field `name`"),
            ("applications:\n- name: a\n  instances: many\n", "instances"),
            ("applications: [\n", "not valid"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", read(&path).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert!(read(&dir.path().join("missing.yml")).is_err());
    }
}
