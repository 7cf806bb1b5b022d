//! The environment Cloud Controller gives staging and app processes
//! (cloud_controller_ng's `VarsBuilder`, `StagingEnvironmentBuilder`,
//! `Diego::Environment` and the buildpack `port_environment_variables`).

use models::EnvironmentVariable;
use serde_json::{json, Value};

pub type EnvVar = EnvironmentVariable;

/// What VCAP_APPLICATION says about an app (and, for a running process,
/// which process).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFacts {
    pub app_guid: String,
    pub app_name: String,
    pub space_guid: String,
    pub space_name: String,
    pub organization_guid: String,
    pub organization_name: String,
    /// The app's routes, e.g. `myapp.localhost`.
    pub uris: Vec<String>,
    /// The API's external URL.
    pub cf_api: String,
    pub memory_mb: i32,
    pub disk_mb: i32,
    /// 0: not given (staging).
    pub file_descriptors: u64,
    /// A running process's guid and type; empty while staging.
    pub process_guid: String,
    pub process_type: String,
    /// The app's version (a guid that changes with each new droplet or
    /// environment); empty: none.
    pub version: String,
}

pub fn var(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: value.into(),
    }
}

/// VCAP_APPLICATION's JSON, as Cloud Controller's `VarsBuilder` builds it
/// (the launcher adds host, port, instance_id and instance_index).
pub fn vcap_application(app: &AppFacts) -> Value {
    let mut limits = serde_json::Map::new();
    if app.file_descriptors > 0 {
        limits.insert("fds".into(), app.file_descriptors.into());
    }
    limits.insert("mem".into(), app.memory_mb.into());
    limits.insert("disk".into(), app.disk_mb.into());
    let mut v = json!({
        "cf_api": app.cf_api,
        "limits": limits,
        "application_name": app.app_name,
        "application_uris": app.uris,
        "name": app.app_name,
        "space_name": app.space_name,
        "space_id": app.space_guid,
        "organization_id": app.organization_guid,
        "organization_name": app.organization_name,
        "uris": app.uris,
        "users": null,
        "application_id": app.app_guid,
    });
    if !app.process_guid.is_empty() {
        v["process_id"] = app.process_guid.clone().into();
        v["process_type"] = app.process_type.clone().into();
    }
    if !app.version.is_empty() {
        v["version"] = app.version.clone().into();
        v["application_version"] = app.version.clone().into();
    }
    v
}

/// `user` then `ours`, where a name in `ours` replaces the same name in
/// `user` (Cloud Controller merges hashes; Diego would pass both).
fn merged(user: &[(String, String)], ours: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = user
        .iter()
        .filter(|(k, _)| !ours.iter().any(|o| &o.name == k))
        .map(|(k, v)| var(k, v.clone()))
        .collect();
    out.extend(ours);
    out
}

/// The staging run's environment: the app's own variables, then
/// VCAP_APPLICATION, CF_STACK, MEMORY_LIMIT and VCAP_SERVICES (Cloud
/// Controller's `StagingEnvironmentBuilder`). `vcap_services` is JSON
/// (empty: `{}`).
pub fn staging_environment(
    app: &AppFacts,
    stack: &str,
    vcap_services: &str,
    user_env: &[(String, String)],
) -> Vec<EnvVar> {
    merged(
        user_env,
        vec![
            var("VCAP_APPLICATION", vcap_application(app).to_string()),
            var("CF_STACK", stack),
            var("MEMORY_LIMIT", format!("{}m", app.memory_mb)),
            var("VCAP_SERVICES", services(vcap_services)),
        ],
    )
}

/// A running process's environment: PORT, VCAP_APP_PORT and VCAP_APP_HOST
/// first (buildpack apps), then the app's variables, VCAP_APPLICATION,
/// MEMORY_LIMIT, VCAP_SERVICES and DATABASE_URL when a bound service has a
/// database URI (Cloud Controller's `Diego::Environment`).
pub fn running_environment(
    app: &AppFacts,
    port: u32,
    vcap_services: &str,
    user_env: &[(String, String)],
) -> Vec<EnvVar> {
    let mut env = vec![
        var("PORT", port.to_string()),
        var("VCAP_APP_PORT", port.to_string()),
        var("VCAP_APP_HOST", "0.0.0.0"),
    ];
    let mut ours = vec![
        var("VCAP_APPLICATION", vcap_application(app).to_string()),
        var("MEMORY_LIMIT", format!("{}m", app.memory_mb)),
        var("VCAP_SERVICES", services(vcap_services)),
    ];
    if let Some(url) = lifecycle::env::database_url(&services(vcap_services)) {
        ours.push(var("DATABASE_URL", url));
    }
    env.extend(merged(user_env, ours));
    env
}

fn services(vcap_services: &str) -> String {
    if vcap_services.trim().is_empty() {
        "{}".into()
    } else {
        vcap_services.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppFacts {
        AppFacts {
            app_guid: "app-guid".into(),
            app_name: "dora".into(),
            space_guid: "space-guid".into(),
            space_name: "dev".into(),
            organization_guid: "org-guid".into(),
            organization_name: "acme".into(),
            uris: vec!["dora.localhost".into()],
            cf_api: "http://api.localhost".into(),
            memory_mb: 256,
            disk_mb: 1024,
            ..Default::default()
        }
    }

    fn get<'a>(env: &'a [EnvVar], name: &str) -> &'a str {
        &env.iter().find(|e| e.name == name).unwrap().value
    }

    #[test]
    fn vcap_application_has_cloud_controllers_fields() {
        let mut a = app();
        a.process_guid = "pg".into();
        a.process_type = "web".into();
        a.file_descriptors = 16384;
        let v = vcap_application(&a);
        assert_eq!(v["application_id"], "app-guid");
        assert_eq!(v["application_name"], "dora");
        assert_eq!(v["name"], "dora");
        assert_eq!(v["application_uris"], json!(["dora.localhost"]));
        assert_eq!(v["space_id"], "space-guid");
        assert_eq!(v["organization_name"], "acme");
        assert_eq!(v["limits"], json!({"fds": 16384, "mem": 256, "disk": 1024}));
        assert_eq!(v["process_id"], "pg");
        assert_eq!(v["process_type"], "web");
        assert!(v["users"].is_null());
        assert!(v.get("version").is_none());
    }

    #[test]
    fn staging_env_has_stack_memory_and_services() {
        let env = staging_environment(
            &app(),
            "cflinuxfs4",
            "",
            &[
                ("MEMORY_LIMIT".into(), "1m".into()),
                ("MY".into(), "v".into()),
            ],
        );
        assert_eq!(get(&env, "CF_STACK"), "cflinuxfs4");
        assert_eq!(get(&env, "MEMORY_LIMIT"), "256m");
        assert_eq!(get(&env, "VCAP_SERVICES"), "{}");
        assert_eq!(get(&env, "MY"), "v");
        assert_eq!(env.iter().filter(|e| e.name == "MEMORY_LIMIT").count(), 1);
    }

    #[test]
    fn running_env_has_port_first_and_database_url() {
        let services = r#"{"pg":[{"credentials":{"uri":"postgresql://u@db/x"}}]}"#;
        let env = running_environment(&app(), 8080, services, &[("A".into(), "b".into())]);
        assert_eq!(env[0], var("PORT", "8080"));
        assert_eq!(get(&env, "VCAP_APP_PORT"), "8080");
        assert_eq!(get(&env, "VCAP_APP_HOST"), "0.0.0.0");
        assert_eq!(get(&env, "DATABASE_URL"), "postgres://u@db/x");
        assert_eq!(get(&env, "VCAP_SERVICES"), services);
        assert_eq!(get(&env, "A"), "b");
        let vcap: Value = serde_json::from_str(get(&env, "VCAP_APPLICATION")).unwrap();
        assert_eq!(vcap["limits"]["mem"], 256);
    }
}
