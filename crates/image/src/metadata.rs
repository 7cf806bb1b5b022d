//! dockerapplifecycle's view of an image: the builder's execution
//! metadata (`{"cmd","entrypoint","workdir","ports":[{"Port","Protocol"}],
//! "user"}`, ports sorted by number, tcp first), and how Cloud Controller
//! and the launcher turn it into the app's process: the exposed TCP ports
//! (8080 when none), `PORT` the first, the user (root when none), and the
//! command (a start command given by the user wins and runs under
//! `/bin/sh -c`; otherwise Entrypoint followed by Cmd).

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use crate::error::ImageError;

/// The port an app gets when its image exposes none.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionMetadata {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workdir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    #[serde(rename = "Port")]
    pub port: u16,
    #[serde(rename = "Protocol")]
    pub protocol: String,
}

/// The builder's result file (`result.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerImageMetadata {
    pub execution_metadata: ExecutionMetadata,
    pub docker_image: String,
}

/// What an app made from an image runs with: the builder's metadata and
/// the image's environment (`KEY=VALUE`, which Garden gives the container).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageProcess {
    pub execution_metadata: ExecutionMetadata,
    pub env: Vec<String>,
}

/// The builder's step: image config to execution metadata and env.
pub fn image_process(config: &ImageConfiguration) -> Result<ImageProcess, ImageError> {
    let Some(c) = config.config() else {
        return Ok(ImageProcess::default());
    };
    let mut ports = Vec::new();
    for spec in c.exposed_ports().iter().flatten() {
        let (port, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
        let port: u16 = port.parse().map_err(|_| {
            ImageError::InvalidConfig(format!("exposed port {spec:?} is not a port number"))
        })?;
        ports.push(Port {
            port,
            protocol: protocol.to_ascii_lowercase(),
        });
    }
    ports.sort_by_key(|p| (p.port, p.protocol != "tcp", p.protocol.clone()));
    ports.dedup();
    Ok(ImageProcess {
        execution_metadata: ExecutionMetadata {
            cmd: c.cmd().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            workdir: c.working_dir().clone().unwrap_or_default(),
            ports,
            user: c.user().clone().unwrap_or_default(),
        },
        env: c.env().clone().unwrap_or_default(),
    })
}

impl ExecutionMetadata {
    /// The app's ports: the exposed TCP ones, or 8080.
    pub fn tcp_ports(&self) -> Vec<u16> {
        let ports: Vec<u16> = self
            .ports
            .iter()
            .filter(|p| p.protocol == "tcp")
            .map(|p| p.port)
            .collect();
        if ports.is_empty() {
            vec![DEFAULT_PORT]
        } else {
            ports
        }
    }

    /// The user the process runs as: the image's, or root.
    pub fn user_or_root(&self) -> &str {
        if self.user.is_empty() {
            "root"
        } else {
            &self.user
        }
    }

    /// The process's argv: `/bin/sh -c START_COMMAND` when one is given,
    /// else Entrypoint followed by Cmd; an error when there is neither
    /// (the launcher would exit 1).
    pub fn command(&self, start_command: Option<&str>) -> Result<Vec<String>, String> {
        if let Some(cmd) = start_command.filter(|c| !c.trim().is_empty()) {
            return Ok(vec!["/bin/sh".into(), "-c".into(), cmd.into()]);
        }
        let argv: Vec<String> = self.entrypoint.iter().chain(&self.cmd).cloned().collect();
        if argv.is_empty() {
            return Err("the image has no Entrypoint or Cmd: give a start command".into());
        }
        Ok(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> ImageConfiguration {
        let mut full = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}
        });
        full["config"] = json;
        serde_json::from_value(full).unwrap()
    }

    #[test]
    fn the_builders_metadata_from_a_config() {
        let c = config(serde_json::json!({
            "Entrypoint": ["/app/server"],
            "Cmd": ["--verbose"],
            "WorkingDir": "/app",
            "User": "app:app",
            "Env": ["PATH=/usr/bin:/bin", "MODE=prod"],
            "ExposedPorts": {"9090/tcp": {}, "53/udp": {}, "8080/tcp": {}, "53/tcp": {}, "7000": {}}
        }));
        let p = image_process(&c).unwrap();
        let md = &p.execution_metadata;
        assert_eq!(md.entrypoint, vec!["/app/server"]);
        assert_eq!(md.cmd, vec!["--verbose"]);
        assert_eq!(md.workdir, "/app");
        assert_eq!(md.user, "app:app");
        assert_eq!(p.env, vec!["PATH=/usr/bin:/bin", "MODE=prod"]);
        // Sorted by number, tcp first; a bare number is tcp.
        let ports: Vec<(u16, &str)> = md
            .ports
            .iter()
            .map(|p| (p.port, p.protocol.as_str()))
            .collect();
        assert_eq!(
            ports,
            vec![
                (53, "tcp"),
                (53, "udp"),
                (7000, "tcp"),
                (8080, "tcp"),
                (9090, "tcp")
            ]
        );
        assert_eq!(md.tcp_ports(), vec![53, 7000, 8080, 9090]);
        // Diego's JSON.
        assert_eq!(
            serde_json::to_value(md).unwrap(),
            serde_json::json!({
                "cmd": ["--verbose"], "entrypoint": ["/app/server"], "workdir": "/app",
                "ports": [{"Port": 53, "Protocol": "tcp"}, {"Port": 53, "Protocol": "udp"},
                          {"Port": 7000, "Protocol": "tcp"}, {"Port": 8080, "Protocol": "tcp"},
                          {"Port": 9090, "Protocol": "tcp"}],
                "user": "app:app"
            })
        );
        assert_eq!(md.command(None).unwrap(), vec!["/app/server", "--verbose"]);
        assert_eq!(
            md.command(Some("./run --fast")).unwrap(),
            vec!["/bin/sh", "-c", "./run --fast"]
        );
    }

    #[test]
    fn defaults_when_the_image_says_nothing() {
        let p = image_process(&config(serde_json::json!({}))).unwrap();
        let md = &p.execution_metadata;
        assert_eq!(md.tcp_ports(), vec![8080]);
        assert_eq!(md.user_or_root(), "root");
        assert!(md
            .command(None)
            .unwrap_err()
            .contains("no Entrypoint or Cmd"));
        assert_eq!(md.command(Some("echo hi")).unwrap()[2], "echo hi");
        assert_eq!(serde_json::to_string(md).unwrap(), "{}");
        // Only udp exposed: still 8080 for the app.
        let udp =
            image_process(&config(serde_json::json!({"ExposedPorts": {"53/udp": {}}}))).unwrap();
        assert_eq!(udp.execution_metadata.tcp_ports(), vec![8080]);
        assert!(image_process(&config(
            serde_json::json!({"ExposedPorts": {"http/tcp": {}}})
        ))
        .is_err());
    }

    #[test]
    fn cmd_alone_runs() {
        let p = image_process(&config(serde_json::json!({"Cmd": ["httpd", "-f"]}))).unwrap();
        assert_eq!(
            p.execution_metadata.command(None).unwrap(),
            vec!["httpd", "-f"]
        );
    }
}
