//! The environment Diego gives an instance's processes.
//!
//! Three parts, from three places in Diego: the networking variables the
//! executor's run step adds to every process (`CF_INSTANCE_IP`, `..._PORT`,
//! `..._ADDR`, `..._PORTS`), the identity variables the rep adds to an
//! LRP's run request (`INSTANCE_GUID`, `INSTANCE_INDEX` and their `CF_`
//! twins), and what Cloud Controller normally puts in the desired LRP
//! (`PORT`, `VCAP_APPLICATION`), for running without a Cloud Controller.

use crate::container::PortMapping;
use serde_json::json;

/// What the run step adds for a container with these addresses and ports.
pub fn networking_env(
    external_ip: &str,
    internal_ip: &str,
    ports: &[PortMapping],
) -> Vec<(String, String)> {
    let mut env = vec![
        ("CF_INSTANCE_IP".to_string(), external_ip.to_string()),
        (
            "CF_INSTANCE_INTERNAL_IP".to_string(),
            internal_ip.to_string(),
        ),
    ];
    match ports.first() {
        Some(first) => {
            if first.host_port > 0 {
                env.push(("CF_INSTANCE_PORT".into(), first.host_port.to_string()));
                env.push((
                    "CF_INSTANCE_ADDR".into(),
                    format!("{external_ip}:{}", first.host_port),
                ));
            }
            let mappings: Vec<_> = ports
                .iter()
                .map(|p| {
                    // Diego omits an unmapped external port.
                    if p.host_port > 0 {
                        json!({"external": p.host_port, "internal": p.container_port})
                    } else {
                        json!({"internal": p.container_port})
                    }
                })
                .collect();
            env.push((
                "CF_INSTANCE_PORTS".into(),
                serde_json::Value::Array(mappings).to_string(),
            ));
        }
        None => {
            env.push(("CF_INSTANCE_PORT".into(), String::new()));
            env.push(("CF_INSTANCE_ADDR".into(), String::new()));
            env.push(("CF_INSTANCE_PORTS".into(), "[]".into()));
        }
    }
    env
}

/// Who an LRP instance is.
#[derive(Debug, Clone, Default)]
pub struct InstanceIdentity {
    pub process_guid: String,
    pub instance_guid: String,
    pub index: i32,
    /// The app's name for `VCAP_APPLICATION` (the process guid if empty).
    pub app_name: String,
    pub memory_mb: i32,
    pub disk_mb: i32,
}

/// What the rep adds to an LRP's run request.
pub fn identity_env(id: &InstanceIdentity) -> Vec<(String, String)> {
    let index = id.index.to_string();
    vec![
        ("INSTANCE_GUID".into(), id.instance_guid.clone()),
        ("INSTANCE_INDEX".into(), index.clone()),
        ("CF_INSTANCE_GUID".into(), id.instance_guid.clone()),
        ("CF_INSTANCE_INDEX".into(), index),
    ]
}

/// Identity, `PORT` (the first container port), a `VCAP_APPLICATION` of
/// Cloud Controller's shape, and the networking variables: the whole
/// environment of an instance started without a Cloud Controller.
pub fn instance_env(
    id: &InstanceIdentity,
    external_ip: &str,
    internal_ip: &str,
    ports: &[PortMapping],
) -> Vec<(String, String)> {
    let mut env = identity_env(id);
    let name = if id.app_name.is_empty() {
        &id.process_guid
    } else {
        &id.app_name
    };
    if let Some(first) = ports.first() {
        env.push(("PORT".into(), first.container_port.to_string()));
    }
    let vcap = json!({
        "application_id": id.process_guid,
        "application_name": name,
        "name": name,
        "process_id": id.process_guid,
        "instance_id": id.instance_guid,
        "instance_index": id.index,
        "host": "0.0.0.0",
        "port": ports.first().map(|p| p.container_port),
        "limits": {"mem": id.memory_mb, "disk": id.disk_mb, "fds": 16384},
        "application_uris": [],
        "uris": [],
    });
    env.push(("VCAP_APPLICATION".into(), vcap.to_string()));
    env.extend(networking_env(external_ip, internal_ip, ports));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(env: &'a [(String, String)], k: &str) -> &'a str {
        &env.iter().find(|(n, _)| n == k).unwrap().1
    }

    #[test]
    fn networking_as_the_run_step_gives_it() {
        let ports = [
            PortMapping {
                container_port: 8080,
                host_port: 61001,
            },
            PortMapping {
                container_port: 2222,
                host_port: 0,
            },
        ];
        let env = networking_env("10.0.0.5", "10.255.0.2", &ports);
        assert_eq!(get(&env, "CF_INSTANCE_IP"), "10.0.0.5");
        assert_eq!(get(&env, "CF_INSTANCE_INTERNAL_IP"), "10.255.0.2");
        assert_eq!(get(&env, "CF_INSTANCE_PORT"), "61001");
        assert_eq!(get(&env, "CF_INSTANCE_ADDR"), "10.0.0.5:61001");
        assert_eq!(
            get(&env, "CF_INSTANCE_PORTS"),
            r#"[{"external":61001,"internal":8080},{"internal":2222}]"#
        );
        let none = networking_env("10.0.0.5", "10.255.0.2", &[]);
        assert_eq!(get(&none, "CF_INSTANCE_PORTS"), "[]");
        assert_eq!(get(&none, "CF_INSTANCE_ADDR"), "");
    }

    #[test]
    fn instance_env_has_identity_port_and_vcap_application() {
        let id = InstanceIdentity {
            process_guid: "pg".into(),
            instance_guid: "ig".into(),
            index: 2,
            app_name: "dora".into(),
            memory_mb: 256,
            disk_mb: 1024,
        };
        let ports = [PortMapping {
            container_port: 8080,
            host_port: 8080,
        }];
        let env = instance_env(&id, "127.0.0.1", "127.0.0.1", &ports);
        assert_eq!(get(&env, "INSTANCE_INDEX"), "2");
        assert_eq!(get(&env, "CF_INSTANCE_GUID"), "ig");
        assert_eq!(get(&env, "PORT"), "8080");
        let vcap: serde_json::Value = serde_json::from_str(get(&env, "VCAP_APPLICATION")).unwrap();
        assert_eq!(vcap["application_name"], "dora");
        assert_eq!(vcap["instance_index"], 2);
        assert_eq!(vcap["limits"]["mem"], 256);
    }
}
