//! The environment the lifecycle binaries compute for the app (Diego's
//! `env.CalcEnv`, `databaseuri` and `platformoptions`): HOME, TMPDIR and
//! DEPS_DIR around the app directory, VCAP_APPLICATION patched with the
//! instance's facts, DATABASE_URL from a bound database service, and
//! VCAP_PLATFORM_OPTIONS read then removed.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// A process environment: name to value, in name order.
pub type Env = BTreeMap<String, String>;

/// The current process's environment (names and values that are not UTF-8
/// are skipped, as no variable we read or write is).
pub fn current() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// VCAP_APPLICATION with `host`, `instance_id` (INSTANCE_GUID), `port`
/// (PORT, when a number) and `instance_index` (INSTANCE_INDEX, when a
/// number) set; None when VCAP_APPLICATION is not a JSON object (Diego then
/// leaves it as it is).
pub fn patched_vcap_application(env: &Env) -> Option<String> {
    let raw = env.get("VCAP_APPLICATION")?;
    let serde_json::Value::Object(mut app) = serde_json::from_str(raw).ok()? else {
        return None;
    };
    app.insert("host".into(), "0.0.0.0".into());
    app.insert(
        "instance_id".into(),
        env.get("INSTANCE_GUID").cloned().unwrap_or_default().into(),
    );
    if let Some(port) = env.get("PORT").and_then(|p| p.parse::<i64>().ok()) {
        app.insert("port".into(), port.into());
    }
    if let Some(index) = env
        .get("INSTANCE_INDEX")
        .and_then(|p| p.parse::<i64>().ok())
    {
        app.insert("instance_index".into(), index.into());
    }
    Some(crate::gojson::to_string(&app))
}

/// The first bound service credential `uri` whose scheme is a database
/// Diego knows, with mysql → mysql2 and postgresql → postgres, as Diego's
/// `databaseuri` gives DATABASE_URL.
pub fn database_url(vcap_services: &str) -> Option<String> {
    let services: BTreeMap<String, Vec<serde_json::Value>> =
        serde_json::from_str(vcap_services).ok()?;
    let uris = services
        .values()
        .flatten()
        .filter_map(|s| s.get("credentials")?.get("uri")?.as_str())
        .filter(|u| !u.is_empty());
    for uri in uris {
        let Some((scheme, rest)) = uri.split_once(':') else {
            continue;
        };
        let renamed = match scheme {
            "mysql" => "mysql2",
            "mysql2" | "postgres" => scheme,
            "postgresql" => "postgres",
            _ => continue,
        };
        return Some(format!("{renamed}:{rest}"));
    }
    None
}

/// VCAP_PLATFORM_OPTIONS: `{"credhub-uri": ...}`. Err with the JSON error
/// when it is set but not that object.
pub fn credhub_uri(env: &Env) -> Result<Option<String>, String> {
    let Some(raw) = env.get("VCAP_PLATFORM_OPTIONS").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    #[derive(serde::Deserialize)]
    struct Options {
        #[serde(rename = "credhub-uri", default)]
        credhub_uri: String,
    }
    let opts: Options = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    Ok(Some(opts.credhub_uri).filter(|u| !u.is_empty()))
}

/// Whether VCAP_SERVICES holds CredHub references. We have no CredHub to
/// resolve them with, so a platform that sends them gets a clear failure
/// instead of an app started with unresolved credentials.
pub fn has_credhub_refs(env: &Env) -> bool {
    env.get("VCAP_SERVICES")
        .is_some_and(|s| s.contains("\"credhub-ref\""))
}

/// The buildpack launcher's environment for an app in `app_dir` (Diego's
/// `CalcEnv`). Err is the message the launcher prints (exit status 3).
pub fn calc_env(mut env: Env, app_dir: &Path) -> Result<Env, String> {
    env.insert("HOME".into(), app_dir.display().to_string());
    env.insert(
        "TMPDIR".into(),
        clean(&app_dir.join("..").join("tmp")).display().to_string(),
    );
    env.insert(
        "DEPS_DIR".into(),
        clean(&app_dir.join("..").join("deps"))
            .display()
            .to_string(),
    );
    if let Some(app) = patched_vcap_application(&env) {
        env.insert("VCAP_APPLICATION".into(), app);
    }
    match credhub_uri(&env) {
        Err(e) => return Err(format!("Invalid platform options: {e}")),
        Ok(Some(_)) if has_credhub_refs(&env) => {
            return Err(
                "Unable to interpolate credhub refs: CredHub is not supported by this lifecycle"
                    .into(),
            )
        }
        Ok(_) => {}
    }
    env.remove("VCAP_PLATFORM_OPTIONS");
    if let Some(url) = env
        .get("VCAP_SERVICES")
        .filter(|s| !s.is_empty())
        .and_then(|s| database_url(s))
    {
        env.insert("DATABASE_URL".into(), url);
    }
    Ok(env)
}

/// `path` made absolute and lexically cleaned (Go's `filepath.Abs`).
pub fn clean(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn vcap_application_gets_the_instance_facts() {
        let e = env(&[
            (
                "VCAP_APPLICATION",
                r#"{"application_name":"dora","limits":{"mem":256},"host":"x"}"#,
            ),
            ("INSTANCE_GUID", "ig-1"),
            ("INSTANCE_INDEX", "2"),
            ("PORT", "8080"),
        ]);
        let v: serde_json::Value =
            serde_json::from_str(&patched_vcap_application(&e).unwrap()).unwrap();
        assert_eq!(v["host"], "0.0.0.0");
        assert_eq!(v["instance_id"], "ig-1");
        assert_eq!(v["instance_index"], 2);
        assert_eq!(v["port"], 8080);
        assert_eq!(v["application_name"], "dora");
        assert_eq!(v["limits"]["mem"], 256);

        // Not a number: left out, as Diego does.
        let e = env(&[("VCAP_APPLICATION", "{}"), ("PORT", "x")]);
        let v: serde_json::Value =
            serde_json::from_str(&patched_vcap_application(&e).unwrap()).unwrap();
        assert!(v.get("port").is_none());
        assert_eq!(v["instance_id"], "");
        assert!(patched_vcap_application(&env(&[("VCAP_APPLICATION", "[1]")])).is_none());
        assert!(patched_vcap_application(&env(&[])).is_none());
    }

    #[test]
    fn database_url_from_bound_services() {
        let s = r#"{"elephantsql":[{"credentials":{"uri":"postgresql://u:p@db:5432/x"}}]}"#;
        assert_eq!(database_url(s).unwrap(), "postgres://u:p@db:5432/x");
        let s = r#"{"p-mysql":[{"credentials":{"uri":"mysql://u:p@db/x?reconnect=true"}}]}"#;
        assert_eq!(database_url(s).unwrap(), "mysql2://u:p@db/x?reconnect=true");
        let s = r#"{"redis":[{"credentials":{"uri":"redis://r:6379"}}]}"#;
        assert!(database_url(s).is_none());
        assert!(database_url("not json").is_none());
    }

    #[test]
    fn calc_env_sets_dirs_and_drops_platform_options() {
        let e = env(&[
            ("VCAP_PLATFORM_OPTIONS", r#"{"credhub-uri":""}"#),
            (
                "VCAP_SERVICES",
                r#"{"pg":[{"credentials":{"uri":"postgres://db/x"}}]}"#,
            ),
        ]);
        let out = calc_env(e, Path::new("/home/vcap/app")).unwrap();
        assert_eq!(out["HOME"], "/home/vcap/app");
        assert_eq!(out["TMPDIR"], "/home/vcap/tmp");
        assert_eq!(out["DEPS_DIR"], "/home/vcap/deps");
        assert_eq!(out["DATABASE_URL"], "postgres://db/x");
        assert!(!out.contains_key("VCAP_PLATFORM_OPTIONS"));

        let bad = env(&[("VCAP_PLATFORM_OPTIONS", "{")]);
        let err = calc_env(bad, Path::new("/a")).unwrap_err();
        assert!(err.starts_with("Invalid platform options: "), "{err}");

        let refs = env(&[
            (
                "VCAP_PLATFORM_OPTIONS",
                r#"{"credhub-uri":"https://credhub"}"#,
            ),
            (
                "VCAP_SERVICES",
                r#"{"s":[{"credentials":{"credhub-ref":"/c"}}]}"#,
            ),
        ]);
        assert!(calc_env(refs, Path::new("/a"))
            .unwrap_err()
            .starts_with("Unable to interpolate credhub refs"));
    }

    #[test]
    fn clean_resolves_dot_dot() {
        assert_eq!(
            clean(Path::new("/home/vcap/app/../tmp")),
            PathBuf::from("/home/vcap/tmp")
        );
        assert_eq!(clean(Path::new("/../x")), PathBuf::from("/x"));
    }
}
