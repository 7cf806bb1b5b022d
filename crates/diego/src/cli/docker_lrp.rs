//! The DesiredLRP `diego push APP --docker-image REF` desires: what Cloud
//! Controller asks of Diego for a docker app, from the image's config as
//! dockerapplifecycle's builder reads it: `root_fs docker://...` with the
//! image credentials, no download, the process from Entrypoint/Cmd (a
//! start command wins, under `sh -c`) in WorkingDir as the image's user
//! (root when none), the image's env plus `PORT`, its exposed TCP ports
//! (8080 when none), a TCP check and the route on the first.

use image::metadata::ImageProcess;
use models::{Action, DesiredLrp, EnvironmentVariable, RunAction};

use super::desired_lrp::{metric_tags, routes, tcp_check, DISK_MB, LOG_SOURCE, START_TIMEOUT_MS};

#[derive(Debug, Clone)]
pub struct DockerAppSpec {
    pub name: String,
    pub instances: i32,
    pub memory_mb: i32,
    /// Diego's rootfs URL of the image (`docker://HOST/REPO#TAG`).
    pub rootfs: String,
    pub image_username: String,
    pub image_password: String,
    /// The image's execution metadata and env.
    pub process: ImageProcess,
    /// The user's start command, if any.
    pub start_command: Option<String>,
}

pub fn docker_desired_lrp(spec: &DockerAppSpec) -> anyhow::Result<DesiredLrp> {
    let md = &spec.process.execution_metadata;
    let argv = md
        .command(spec.start_command.as_deref())
        .map_err(|e| anyhow::anyhow!("{e} (--start-command)"))?;
    let ports: Vec<u32> = md.tcp_ports().into_iter().map(u32::from).collect();
    let port = ports[0];
    let user = md.user_or_root().to_string();
    let mut env: Vec<EnvironmentVariable> = spec
        .process
        .env
        .iter()
        .filter_map(|e| e.split_once('='))
        .filter(|(k, _)| *k != "PORT")
        .map(|(k, v)| EnvironmentVariable {
            name: k.to_string(),
            value: v.to_string(),
        })
        .collect();
    env.push(EnvironmentVariable {
        name: "PORT".to_string(),
        value: port.to_string(),
    });
    Ok(DesiredLrp {
        process_guid: spec.name.clone(),
        domain: super::DOMAIN.to_string(),
        root_fs: spec.rootfs.clone(),
        image_username: spec.image_username.clone(),
        image_password: spec.image_password.clone(),
        instances: spec.instances,
        action: Some(Action {
            run_action: Some(RunAction {
                path: argv[0].clone(),
                args: argv[1..].to_vec(),
                // The launcher's default: the image's WorkingDir, else /.
                dir: if md.workdir.is_empty() {
                    "/".to_string()
                } else {
                    md.workdir.clone()
                },
                user: user.clone(),
                log_source: LOG_SOURCE.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        check_definition: Some(tcp_check(port)),
        start_timeout_ms: START_TIMEOUT_MS,
        memory_mb: spec.memory_mb,
        disk_mb: DISK_MB,
        ports,
        routes: Some(routes(&spec.name, port)),
        log_guid: spec.name.clone(),
        log_source: LOG_SOURCE.to_string(),
        metrics_guid: spec.name.clone(),
        legacy_download_user: user,
        metric_tags: metric_tags(&spec.name),
        environment_variables: env,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::metadata::{ExecutionMetadata, Port};
    use models::validation::Validate;

    fn spec(md: ExecutionMetadata, start_command: Option<&str>) -> DockerAppSpec {
        DockerAppSpec {
            name: "web".into(),
            instances: 2,
            memory_mb: 64,
            rootfs: "docker://127.0.0.1:5000/apps/web#v1".into(),
            image_username: "diego".into(),
            image_password: "pw".into(),
            process: ImageProcess {
                execution_metadata: md,
                env: vec!["PATH=/usr/bin:/bin".into(), "PORT=1".into(), "A=b=c".into()],
            },
            start_command: start_command.map(str::to_string),
        }
    }

    fn server() -> ExecutionMetadata {
        ExecutionMetadata {
            entrypoint: vec!["/bin/httpd".into()],
            cmd: vec!["-f".into(), "-p".into(), "9000".into()],
            workdir: "/srv".into(),
            ports: vec![
                Port {
                    port: 53,
                    protocol: "udp".into(),
                },
                Port {
                    port: 9000,
                    protocol: "tcp".into(),
                },
                Port {
                    port: 9443,
                    protocol: "tcp".into(),
                },
            ],
            user: "app".into(),
        }
    }

    #[test]
    fn the_image_config_makes_the_process() {
        let lrp = docker_desired_lrp(&spec(server(), None)).unwrap();
        assert_eq!(lrp.validate(), Ok(()));
        assert_eq!(lrp.root_fs, "docker://127.0.0.1:5000/apps/web#v1");
        assert_eq!(
            (lrp.image_username.as_str(), lrp.image_password.as_str()),
            ("diego", "pw")
        );
        assert!(lrp.setup.is_none(), "nothing to download");
        let run = lrp.action.unwrap().run_action.unwrap();
        assert_eq!(run.path, "/bin/httpd");
        assert_eq!(run.args, vec!["-f", "-p", "9000"]);
        assert_eq!((run.dir.as_str(), run.user.as_str()), ("/srv", "app"));
        assert_eq!(lrp.ports, vec![9000, 9443]);
        let check = &lrp.check_definition.unwrap().checks[0];
        assert_eq!(check.tcp_check.as_ref().unwrap().port, 9000);
        let env: Vec<(String, String)> = lrp
            .environment_variables
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        assert_eq!(
            env,
            vec![
                ("PATH".to_string(), "/usr/bin:/bin".to_string()),
                ("A".into(), "b=c".into()),
                ("PORT".into(), "9000".into())
            ]
        );
        let routes: serde_json::Value =
            serde_json::from_slice(&lrp.routes.unwrap().routes["cf-router"]).unwrap();
        assert_eq!(
            routes,
            serde_json::json!([{"hostnames": ["web.localhost"], "port": 9000}])
        );
    }

    #[test]
    fn a_start_command_wins_and_defaults_fill_the_rest() {
        let lrp = docker_desired_lrp(&spec(
            ExecutionMetadata {
                cmd: vec!["ignored".into()],
                ..Default::default()
            },
            Some("httpd -f -p $PORT"),
        ))
        .unwrap();
        let run = lrp.action.as_ref().unwrap().run_action.as_ref().unwrap();
        assert_eq!(run.path, "/bin/sh");
        assert_eq!(run.args, vec!["-c", "httpd -f -p $PORT"]);
        assert_eq!((run.dir.as_str(), run.user.as_str()), ("/", "root"));
        assert_eq!(lrp.ports, vec![8080]);
        assert_eq!(lrp.validate(), Ok(()));
        let e = docker_desired_lrp(&spec(ExecutionMetadata::default(), None)).unwrap_err();
        assert!(e.to_string().contains("no Entrypoint or Cmd"), "{e}");
    }
}
