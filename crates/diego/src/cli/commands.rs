//! The other app commands: start, stop, restart, restage, scale, delete,
//! env, set-env, unset-env, events, run-task, tasks, rollback,
//! continue-deployment, cancel-deployment, buildpacks, stacks.

use super::apps::find;
use super::{progress, target, units};
use models::capi::*;
use std::time::Duration;

pub async fn start(name: &str, wait: Duration) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    c.app_action(&app.guid, "start").await?;
    println!("Starting {name}");
    progress::wait_running(&c, &app.guid, wait).await
}

pub async fn stop(name: &str) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    c.app_action(&app.guid, "stop").await?;
    println!("Stopped {name}");
    Ok(())
}

fn deployment(app: &App, strategy: &str, max_in_flight: Option<i32>) -> CreateDeployment {
    CreateDeployment {
        relationships: DeploymentRelationships {
            app: ToOne::to(&app.guid),
        },
        droplet: None,
        revision: None,
        strategy: Some(strategy.into()),
        options: max_in_flight.map(|m| DeploymentOptions { max_in_flight: m }),
    }
}

/// Every instance replaced: at once, or through a deployment.
pub async fn restart(name: &str, strategy: Option<String>, wait: Duration) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    match strategy {
        Some(s) => {
            let d = c
                .create_deployment(&deployment(&app, &s, None), None)
                .await?;
            println!("Restarting {name} ({s})");
            progress::wait_deployment(&c, &d.guid, wait).await?;
        }
        None => {
            c.app_action(&app.guid, "restart").await?;
            println!("Restarting {name}");
        }
    }
    progress::wait_running(&c, &app.guid, wait).await
}

/// A new droplet from the app's latest package, then a restart.
pub async fn restage(name: &str, strategy: Option<String>, wait: Duration) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    let droplet = app
        .current_droplet_guid
        .clone()
        .ok_or_else(|| anyhow::anyhow!("{name} has never been staged: push it"))?;
    let package = c.droplet(&droplet).await?.package_guid;
    println!("Restaging {name}");
    let build = c.create_build(&package).await?;
    let new = progress::staged(&c, build, name).await?;
    match strategy {
        Some(s) => {
            let mut req = deployment(&app, &s, None);
            req.droplet = Some(GuidRef { guid: new });
            let d = c.create_deployment(&req, None).await?;
            progress::wait_deployment(&c, &d.guid, wait).await?;
        }
        None => {
            c.set_current_droplet(&app.guid, &new).await?;
            c.app_action(&app.guid, "restart").await?;
        }
    }
    progress::wait_running(&c, &app.guid, wait).await
}

pub async fn scale(
    name: &str,
    instances: Option<i32>,
    memory: Option<String>,
    disk: Option<String>,
    wait: Duration,
) -> anyhow::Result<()> {
    let req = Scale {
        instances,
        memory_in_mb: memory.map(|m| units::megabytes("memory", &m)).transpose()?,
        disk_in_mb: disk.map(|d| units::megabytes("disk", &d)).transpose()?,
    };
    if let Some(n) = instances {
        anyhow::ensure!(n >= 0, "instances must be 0 or more");
    }
    let c = target::client()?;
    let app = find(&c, name).await?;
    let web = progress::web(&c, &app.guid).await?;
    if req == Scale::default() {
        println!(
            "{name}: {} instances, {}M memory, {}M disk",
            web.instances, web.memory_in_mb, web.disk_in_mb
        );
        return Ok(());
    }
    c.scale(&web.guid, &req).await?;
    println!("Scaling {name}");
    if app.state == STARTED {
        progress::wait_running(&c, &app.guid, wait).await?;
    }
    Ok(())
}

pub async fn delete(name: &str) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    c.delete_app(&app.guid).await?;
    println!("Deleted {name}");
    Ok(())
}

pub async fn env(name: &str) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    let vars = c.env(&app.guid).await?;
    if vars.var.is_empty() {
        println!("No user-provided environment variables.");
    }
    for (k, v) in vars.var {
        println!("{k}: {}", v.unwrap_or_default());
    }
    Ok(())
}

pub async fn set_env(name: &str, var: &str, value: Option<String>) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    let vars = EnvVars {
        var: [(var.to_string(), value.clone())].into(),
    };
    c.patch_env(&app.guid, &vars).await?;
    match value {
        Some(_) => println!("Set {var} for {name}."),
        None => println!("Removed {var} from {name}."),
    }
    println!("Restart or restage {name} for running instances to see it (`diego restart {name}`).");
    Ok(())
}

pub async fn events(name: &str) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    println!("{:<21} {:<30} {:<8} DESCRIPTION", "TIME", "EVENT", "ACTOR");
    for e in c.events(&app.guid).await? {
        let d = &e.data;
        let description = match e.kind.as_str() {
            "audit.app.process.crash" => format!(
                "index: {}, reason: CRASHED, exit_description: {}, crash_count: {}",
                d["index"],
                d["exit_description"].as_str().unwrap_or(""),
                d["crash_count"]
            ),
            _ if d.as_object().is_some_and(|o| o.is_empty()) => String::new(),
            _ => d.to_string(),
        };
        println!(
            "{:<21} {:<30} {:<8} {description}",
            e.created_at, e.kind, e.actor.name
        );
    }
    Ok(())
}

pub async fn run_task(name: &str, command: &str, task_name: Option<String>) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    let t = c
        .create_task(
            &app.guid,
            &CreateTask {
                command: command.into(),
                name: task_name,
                ..Default::default()
            },
        )
        .await?;
    println!(
        "Task {} ({}) of {name} submitted; see `diego tasks {name}`.",
        t.sequence_id, t.name
    );
    Ok(())
}

pub async fn tasks(name: &str) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    println!(
        "{:<4} {:<12} {:<10} {:<21} COMMAND",
        "ID", "NAME", "STATE", "START TIME"
    );
    for t in c.tasks(&app.guid).await? {
        println!(
            "{:<4} {:<12} {:<10} {:<21} {}{}",
            t.sequence_id,
            t.name,
            t.state,
            t.created_at,
            t.command,
            t.failure_reason
                .map(|r| format!("  ({r})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn rollback(name: &str, revision: i64, wait: Duration) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    let revs = c.revisions(&app.guid).await?;
    let rev = revs.iter().find(|r| r.version == revision).ok_or_else(|| {
        anyhow::anyhow!(
            "{name} has no revision {revision} (it has {})",
            revs.iter()
                .map(|r| r.version.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let mut req = deployment(&app, ROLLING, None);
    req.revision = Some(GuidRef {
        guid: rev.guid.clone(),
    });
    let d = c.create_deployment(&req, None).await?;
    println!(
        "Rolling {name} back to revision {revision} (as revision {})",
        d.revision_version
    );
    progress::wait_deployment(&c, &d.guid, wait).await?;
    progress::wait_running(&c, &app.guid, wait).await
}

/// continue or cancel the app's active deployment.
pub async fn deployment_action(name: &str, action: &str, wait: Duration) -> anyhow::Result<()> {
    let c = target::client()?;
    let app = find(&c, name).await?;
    let d = c
        .deployments(&app.guid)
        .await?
        .into_iter()
        .find(|d| d.state == ACTIVE)
        .ok_or_else(|| anyhow::anyhow!("{name} has no deployment in flight"))?;
    let d = c.deployment_action(&d.guid, action).await?;
    println!("{name}: deployment {} {}", d.status.value, d.status.reason);
    if action == "continue" {
        progress::wait_deployment(&c, &d.guid, wait).await?;
    }
    Ok(())
}

pub async fn buildpacks() -> anyhow::Result<()> {
    let c = target::client()?;
    println!("{:<10} {:<24} {:<16} FILENAME", "POSITION", "NAME", "STATE");
    for b in c.buildpacks().await? {
        println!(
            "{:<10} {:<24} {:<16} {}",
            b.position, b.name, b.state, b.filename
        );
    }
    Ok(())
}

pub async fn stacks() -> anyhow::Result<()> {
    let c = target::client()?;
    println!("{:<14} DESCRIPTION", "NAME");
    for s in c.stacks().await? {
        let default = if s.default { " (default)" } else { "" };
        println!("{:<14} {}{default}", s.name, s.description);
    }
    Ok(())
}
