//! Garden's ContainerSpec into our backend's.

use crate::error::WireError;
use crate::wire;
use garden::{GardenError, IcmpControl, IpRange, PortRange, Protocol};
use std::sync::atomic::{AtomicU64, Ordering};

/// Garden names a container without a handle itself; ours: time and a
/// counter, unique within the server's life and across restarts.
fn fresh_handle() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn invalid(msg: String) -> WireError {
    GardenError::InvalidSpec(msg).into()
}

fn bind_mounts(mounts: Vec<wire::BindMount>) -> Result<Vec<garden::BindMount>, WireError> {
    let mut bind_mounts = Vec::new();
    for m in mounts {
        if m.origin != 0 {
            return Err(invalid(format!(
                "bind mount {}: only host-origin bind mounts are supported",
                m.dst_path
            )));
        }
        bind_mounts.push(garden::BindMount {
            src_path: m.src_path,
            dst_path: m.dst_path,
            read_only: m.mode == 0,
        });
    }
    Ok(bind_mounts)
}

/// Garden's CPU weight/shares (1024 = one full share) to our 1..=100
/// weight; 0 keeps the default.
fn cpu_weight(c: &wire::CpuLimits) -> u32 {
    let shares = c.weight.max(c.limit_in_shares);
    if shares == 0 {
        0
    } else {
        (shares * 100 / 1024).clamp(1, 100) as u32
    }
}

/// Garden's ProcessSpec into our backend's: with an image or bind mounts
/// of its own, a pea (Diego's sidecars: health checks, Envoy).
pub fn to_backend_process(s: wire::ProcessSpec) -> Result<garden::ProcessSpec, WireError> {
    if !s.bind_mounts.is_empty() && s.image.uri.is_empty() {
        // Garden's rule (container.go): bind mounts need an image.
        return Err(invalid(
            "process bind mounts require a process image".into(),
        ));
    }
    Ok(garden::ProcessSpec {
        path: s.path,
        args: s.args,
        env: s.env,
        dir: s.dir,
        user: s.user,
        nofile: s.rlimits.nofile,
        image: s.image.uri,
        image_username: s.image.username,
        image_password: s.image.password,
        bind_mounts: bind_mounts(s.bind_mounts)?,
        override_limits: s.limits.map(|l| garden::Limits {
            memory_bytes: l.memory_limits.limit_in_bytes,
            cpu_weight: cpu_weight(&l.cpu_limits),
            ..Default::default()
        }),
    })
}

pub fn to_backend_spec(s: wire::ContainerSpec) -> Result<garden::ContainerSpec, WireError> {
    let bind_mounts = bind_mounts(s.bind_mounts)?;
    let mut net_in = Vec::new();
    for p in s.netin {
        let port = |n: u32| u16::try_from(n).map_err(|_| invalid(format!("netin port {n}")));
        net_in.push(garden::PortMapping {
            host_port: port(p.host_port)?,
            container_port: port(p.container_port)?,
        });
    }
    let net_out = s
        .netout_rules
        .into_iter()
        .map(net_out_rule)
        .collect::<Result<_, _>>()?;
    let l = &s.limits;
    let cpu_weight = cpu_weight(&l.cpu_limits);
    let limits = garden::Limits {
        memory_bytes: l.memory_limits.limit_in_bytes,
        disk_bytes: if l.disk_limits.byte_hard > 0 {
            l.disk_limits.byte_hard
        } else {
            l.disk_limits.byte_soft
        },
        max_pids: l.pid_limits.max,
        cpu_weight,
    };
    Ok(garden::ContainerSpec {
        handle: if s.handle.is_empty() {
            fresh_handle()
        } else {
            s.handle
        },
        image: if s.image.uri.is_empty() {
            s.rootfs
        } else {
            s.image.uri
        },
        image_username: s.image.username,
        image_password: s.image.password,
        env: s.env,
        bind_mounts,
        limits,
        net_in,
        properties: s.properties,
        privileged: s.privileged,
        net_out,
    })
}

fn net_out_rule(r: wire::NetOutRule) -> Result<garden::NetOutRule, WireError> {
    let protocol = match r.protocol {
        0 => Protocol::All,
        1 => Protocol::Tcp,
        2 => Protocol::Udp,
        3 => Protocol::Icmp,
        4 => Protocol::IcmpV6,
        n => return Err(invalid(format!("netout protocol {n}"))),
    };
    let mut networks = Vec::new();
    for n in r.networks {
        let (start, end) = match (n.start, n.end) {
            (Some(s), Some(e)) => (s, e),
            (Some(a), None) | (None, Some(a)) => (a, a),
            (None, None) => continue,
        };
        networks.push(IpRange { start, end });
    }
    let ports = r
        .ports
        .into_iter()
        .map(|p| PortRange {
            start: p.start,
            end: if p.end == 0 { p.start } else { p.end },
        })
        .collect();
    Ok(garden::NetOutRule {
        protocol,
        networks,
        ports,
        icmps: r.icmps.map(|i| IcmpControl {
            r#type: i.kind,
            code: i.code,
        }),
        log: r.log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Diego's executor sends for a health check sidecar (Go's JSON
    /// of `garden.ProcessSpec` with `OverrideContainerLimits:
    /// &garden.ProcessLimits{}`).
    #[test]
    fn a_sidecar_process_is_a_pea_with_limits_of_its_own() {
        let body = r#"{"id":"g-1-healthcheck-0","path":"/etc/cf-assets/healthcheck/healthcheck",
            "args":["-port=8080"],"user":"vcap","rlimits":{},
            "limits":{"cpu_limits":{},"memory_limits":{}},
            "image":{"uri":"preloaded:cflinuxfs4"},
            "bind_mounts":[{"src_path":"/var/vcap/packages/healthcheck","dst_path":"/etc/cf-assets/healthcheck"}]}"#;
        let spec: wire::ProcessSpec = serde_json::from_str(body).unwrap();
        let p = to_backend_process(spec).unwrap();
        assert!(p.is_pea());
        assert_eq!(p.image, "preloaded:cflinuxfs4");
        assert_eq!(
            p.bind_mounts,
            vec![garden::BindMount {
                src_path: "/var/vcap/packages/healthcheck".into(),
                dst_path: "/etc/cf-assets/healthcheck".into(),
                read_only: true,
            }]
        );
        assert_eq!(p.override_limits, Some(garden::Limits::default()));
    }

    #[test]
    fn a_plain_process_is_not_a_pea_and_bind_mounts_need_an_image() {
        let spec: wire::ProcessSpec =
            serde_json::from_str(r#"{"path":"sh","image":{},"limits":null}"#).unwrap();
        let p = to_backend_process(spec).unwrap();
        assert!(!p.is_pea());
        assert_eq!(p.override_limits, None);
        let spec: wire::ProcessSpec = serde_json::from_str(
            r#"{"path":"sh","bind_mounts":[{"src_path":"/a","dst_path":"/b","mode":1}]}"#,
        )
        .unwrap();
        assert!(to_backend_process(spec).is_err());
    }
}
