//! `diego push APP`: cf's push through the API. The app (made with its
//! settings in one request if new), a package of the directory's files
//! (or a docker image), a build into a droplet, then a start (a restart
//! of an existing app) or, with `--strategy rolling|canary`, a
//! deployment that replaces the instances without downtime.

use super::{manifest, package, progress, units};
use anyhow::Context as _;
use api_client::ApiClient;
use models::capi::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What the flags say (unset: the manifest's, else the defaults).
#[derive(Debug, Clone, Default)]
pub struct PushFlags {
    pub name: Option<String>,
    pub path: Option<PathBuf>,
    pub command: Option<String>,
    pub instances: Option<i32>,
    pub memory: Option<String>,
    pub disk: Option<String>,
    pub buildpacks: Vec<String>,
    pub stack: Option<String>,
    pub docker_image: Option<String>,
    pub docker_username: Option<String>,
    pub health_check_timeout: Option<u32>,
    pub health_check_type: Option<String>,
    pub endpoint: Option<String>,
    pub strategy: Option<String>,
    pub max_in_flight: Option<i32>,
    pub no_start: bool,
    pub manifest: Option<PathBuf>,
    pub wait: Duration,
}

/// One app to push: manifest entry with the flags on top.
#[derive(Debug, Clone, Default)]
struct Spec {
    name: String,
    path: PathBuf,
    settings: ProcessSettings,
    docker: Option<(String, Option<String>)>,
    buildpacks: Vec<String>,
    stack: Option<String>,
    env: BTreeMap<String, String>,
    routes: Option<Vec<String>>,
}

fn health_check(
    kind: Option<String>,
    endpoint: Option<String>,
    timeout: Option<u32>,
) -> Option<HealthCheck> {
    if kind.is_none() && endpoint.is_none() && timeout.is_none() {
        return None;
    }
    let kind = kind.unwrap_or_else(|| {
        if endpoint.is_some() {
            health_check_type::HTTP.into()
        } else {
            health_check_type::PORT.into()
        }
    });
    // cf's `none` is `process`.
    let kind = if kind == "none" {
        health_check_type::PROCESS.into()
    } else {
        kind
    };
    Some(HealthCheck {
        kind,
        data: HealthCheckData {
            endpoint,
            timeout,
            invocation_timeout: None,
        },
    })
}

fn specs(flags: &PushFlags) -> anyhow::Result<Vec<Spec>> {
    let manifest_path = flags.manifest.clone().or_else(|| {
        let p = PathBuf::from("manifest.yml");
        (flags.name.is_none() && p.is_file()).then_some(p)
    });
    let mut apps = match &manifest_path {
        Some(p) => manifest::read(p)?,
        None => vec![],
    };
    if let Some(name) = &flags.name {
        if apps.is_empty() {
            apps.push(manifest::AppManifest {
                name: name.clone(),
                ..Default::default()
            });
        } else {
            apps.retain(|a| &a.name == name);
            anyhow::ensure!(
                !apps.is_empty(),
                "the manifest has no application named {name}"
            );
        }
    }
    anyhow::ensure!(
        !apps.is_empty(),
        "name the app: `diego push APP` (or give a manifest with -f)"
    );
    let flagged = flags.command.is_some()
        || flags.instances.is_some()
        || flags.memory.is_some()
        || flags.disk.is_some()
        || flags.docker_image.is_some()
        || flags.path.is_some();
    anyhow::ensure!(
        apps.len() == 1 || !flagged,
        "the manifest lists {} apps: flags like -i, -m, -c, -p apply to one (name it: `diego \
         push APP -f MANIFEST ...`)",
        apps.len()
    );
    apps.into_iter()
        .map(|a| {
            let memory = flags.memory.clone().or(a.memory.map(|s| s.0));
            let disk = flags.disk.clone().or(a.disk_quota.map(|s| s.0));
            let settings = ProcessSettings {
                instances: flags.instances.or(a.instances),
                memory_in_mb: memory.map(|m| units::megabytes("memory", &m)).transpose()?,
                disk_in_mb: disk.map(|d| units::megabytes("disk", &d)).transpose()?,
                command: flags.command.clone().or(a.command).map(Some),
                health_check: health_check(
                    flags.health_check_type.clone().or(a.health_check_type),
                    flags.endpoint.clone().or(a.health_check_http_endpoint),
                    flags.health_check_timeout.or(a.timeout),
                ),
            };
            if let Some(n) = settings.instances {
                anyhow::ensure!(n >= 0, "invalid instances {n}: 0 or more");
            }
            let docker = flags
                .docker_image
                .clone()
                .map(|i| (i, flags.docker_username.clone()))
                .or(a.docker.map(|d| (d.image, d.username)));
            let mut buildpacks = flags.buildpacks.clone();
            if buildpacks.is_empty() {
                buildpacks = a.buildpacks;
            }
            Ok(Spec {
                path: flags
                    .path
                    .clone()
                    .or(a.path)
                    .unwrap_or_else(|| PathBuf::from(".")),
                name: a.name,
                settings,
                docker,
                buildpacks,
                stack: flags.stack.clone().or(a.stack),
                env: a.env.into_iter().map(|(k, v)| (k, v.0)).collect(),
                routes: a.routes.map(|r| r.into_iter().map(|r| r.route).collect()),
            })
        })
        .collect()
}

pub async fn push(flags: PushFlags) -> anyhow::Result<()> {
    if let Some(s) = &flags.strategy {
        anyhow::ensure!(
            s == ROLLING || s == CANARY,
            "invalid --strategy {s:?}: rolling or canary"
        );
    }
    let specs = specs(&flags)?;
    for spec in &specs {
        if let Some((_, Some(_))) = &spec.docker {
            anyhow::ensure!(
                std::env::var_os("CF_DOCKER_PASSWORD").is_some(),
                "Environment variable CF_DOCKER_PASSWORD not set (the password for \
                 --docker-username)"
            );
        }
    }
    let client = super::target::client()?;
    for spec in specs {
        push_one(&client, &spec, &flags).await?;
    }
    Ok(())
}

async fn push_one(c: &ApiClient, spec: &Spec, flags: &PushFlags) -> anyhow::Result<()> {
    // Everything that can be checked here is, before the API sees anything.
    let bits = match &spec.docker {
        Some(_) => None,
        None => Some(package::tgz(&spec.path)?),
    };
    let existing = c.app_by_name(&spec.name).await?;
    let created = existing.is_none();
    let app = match existing {
        Some(app) => {
            if !spec.env.is_empty() {
                let vars = EnvVars {
                    var: spec
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), Some(v.clone())))
                        .collect(),
                };
                c.patch_env(&app.guid, &vars).await?;
            }
            // What is not given stays as it is.
            let lifecycle = (spec.docker.is_none()
                && (spec.stack.is_some() || !spec.buildpacks.is_empty()))
            .then(|| {
                let mut l = buildpack_lifecycle(spec);
                if spec.stack.is_none() {
                    l.data.stack = app.lifecycle.data.stack.clone();
                }
                if spec.buildpacks.is_empty() {
                    l.data.buildpacks = app.lifecycle.data.buildpacks.clone();
                }
                l
            });
            if spec.routes.is_some() || lifecycle.is_some() {
                let req = UpdateApp {
                    routes: spec.routes.clone(),
                    lifecycle,
                    ..Default::default()
                };
                c.update_app(&app.guid, &req).await?;
            }
            println!("Pushing {} (existing app)", spec.name);
            app
        }
        None => {
            let lifecycle = match &spec.docker {
                Some(_) => Lifecycle {
                    kind: DOCKER.into(),
                    data: Default::default(),
                },
                None => buildpack_lifecycle(spec),
            };
            let req = CreateApp {
                name: spec.name.clone(),
                lifecycle: Some(lifecycle),
                environment_variables: spec.env.clone(),
                routes: spec.routes.clone(),
                process: Some(spec.settings.clone()),
            };
            let app = c.create_app(&req).await?;
            println!("Creating app {}", spec.name);
            app
        }
    };
    let mut started = false;
    let result = stage_and_run(c, &app, spec, flags, bits, created, &mut started).await;
    if result.is_err() && created && !started {
        // No half-made app: a first push that fails to stage leaves
        // nothing behind (one that started stays, crashing instances and
        // all, as cf leaves it, so `diego apps` says why).
        let _ = c.delete_app(&app.guid).await;
    }
    result
}

async fn stage_and_run(
    c: &ApiClient,
    app: &App,
    spec: &Spec,
    flags: &PushFlags,
    bits: Option<Vec<u8>>,
    created: bool,
    started: &mut bool,
) -> anyhow::Result<()> {
    let rel = PackageRelationships {
        app: ToOne::to(&app.guid),
    };
    let pkg = match (&spec.docker, bits) {
        (Some((image, username)), _) => {
            let data = PackageData {
                image: Some(image.clone()),
                username: username.clone(),
                password: std::env::var("CF_DOCKER_PASSWORD").ok(),
            };
            c.create_package(&CreatePackage {
                kind: DOCKER.into(),
                relationships: rel,
                data: Some(data),
            })
            .await?
        }
        (None, Some(bits)) => {
            let pkg = c
                .create_package(&CreatePackage {
                    kind: BITS.into(),
                    relationships: rel,
                    data: None,
                })
                .await?;
            println!("Uploading {} ({} bytes)", spec.path.display(), bits.len());
            c.upload(&pkg.guid, bits).await?
        }
        (None, None) => unreachable!("bits are packaged when there is no image"),
    };
    let build = c.create_build(&pkg.guid).await?;
    let droplet = progress::staged(c, build, &spec.name).await?;
    if let Some((image, _)) = &spec.docker {
        let d = c.droplet(&droplet).await?;
        let md: image::metadata::ExecutionMetadata =
            serde_json::from_str(&d.execution_metadata).unwrap_or_default();
        println!(
            "Image {image}: user {}, ports {:?}",
            md.user_or_root(),
            md.tcp_ports()
        );
    }
    let web = progress::web(c, &app.guid).await?;
    if flags.no_start {
        c.set_current_droplet(&app.guid, &droplet).await?;
        if !created {
            c.update_process(&web.guid, &spec.settings).await?;
        }
        println!("{} staged; not started (--no-start)", spec.name);
        return Ok(());
    }
    match &flags.strategy {
        Some(strategy) if !created && app.state == STARTED => {
            let req = CreateDeployment {
                relationships: DeploymentRelationships {
                    app: ToOne::to(&app.guid),
                },
                droplet: Some(GuidRef { guid: droplet }),
                revision: None,
                strategy: Some(strategy.clone()),
                options: flags
                    .max_in_flight
                    .map(|m| DeploymentOptions { max_in_flight: m }),
            };
            let d = c.create_deployment(&req, Some(&spec.settings)).await?;
            println!(
                "Deploying {} ({strategy}, revision {})",
                spec.name, d.revision_version
            );
            progress::wait_deployment(c, &d.guid, flags.wait).await?;
        }
        _ => {
            c.set_current_droplet(&app.guid, &droplet).await?;
            if !created {
                c.update_process(&web.guid, &spec.settings).await?;
                c.app_action(&app.guid, "restart").await?;
            } else {
                c.app_action(&app.guid, "start").await?;
            }
            println!("Starting {}", spec.name);
        }
    }
    *started = true;
    let app = c.app(&app.guid).await?;
    progress::wait_running(c, &app.guid, flags.wait)
        .await
        .with_context(|| {
            format!(
                "`diego app {}` and `diego logs {}` say more",
                spec.name, spec.name
            )
        })?;
    println!("{} is running at {}", spec.name, urls(&app));
    Ok(())
}

fn buildpack_lifecycle(spec: &Spec) -> Lifecycle {
    Lifecycle {
        kind: BUILDPACK.into(),
        data: LifecycleData {
            buildpacks: spec.buildpacks.clone(),
            stack: spec.stack.clone().unwrap_or_default(),
        },
    }
}

pub fn urls(app: &App) -> String {
    app.routes
        .iter()
        .map(|r| format!("http://{r}:8080"))
        .collect::<Vec<_>>()
        .join(", ")
}
