//! The networking variables the executor's run step adds to every process
//! of a container (`CF_INSTANCE_IP`, `..._PORT`, `..._ADDR`, `..._PORTS`).
//! (The identity variables are the rep's, in its run request; `PORT` and
//! `VCAP_APPLICATION` come with the desired LRP.)

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
}
