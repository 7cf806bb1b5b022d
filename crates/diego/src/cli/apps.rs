//! `diego apps` and `diego app APP`: what runs, instance by instance.

use super::progress;
use super::push::urls;
use api_client::ApiClient;
use models::capi::*;

pub async fn find(c: &ApiClient, name: &str) -> anyhow::Result<App> {
    c.app_by_name(name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no app named {name} (see `diego apps`)"))
}

pub async fn apps() -> anyhow::Result<()> {
    let c = super::target::client()?;
    let apps = c.apps().await?;
    if apps.is_empty() {
        println!("No apps (push one with `diego push APP -p DIR`).");
        return Ok(());
    }
    println!("{:<24} {:<8} {:>9}  URLS", "NAME", "STATE", "INSTANCES");
    for app in apps {
        let p = progress::web(&c, &app.guid).await?;
        let stats = c.stats(&p.guid).await?;
        let (running, problems) = progress::summarize(&stats, p.instances);
        println!(
            "{:<24} {:<8} {:>9}  {}",
            app.name,
            app.state.to_lowercase(),
            format!("{running}/{}", p.instances),
            urls(&app)
        );
        if running < p.instances as usize && app.state == STARTED {
            if let Some(why) = problems.first() {
                println!("{:<24} {why}", "");
            }
        }
    }
    Ok(())
}

fn mb(bytes: u64) -> String {
    format!("{:.1}M", bytes as f64 / (1024.0 * 1024.0))
}

pub async fn app(name: &str) -> anyhow::Result<()> {
    let c = super::target::client()?;
    let app = find(&c, name).await?;
    println!("name:      {}", app.name);
    println!("state:     {}", app.state.to_lowercase());
    println!("routes:    {}", app.routes.join(", "));
    println!("lifecycle: {}", app.lifecycle.kind);
    if let Some(r) = app.revision {
        println!("revision:  {r}");
    }
    for d in c.deployments(&app.guid).await? {
        if d.state == ACTIVE {
            println!(
                "deployment: {} {} {} (revision {}, {}/{} new instances routable){}",
                d.strategy,
                d.status.value,
                d.status.reason,
                d.revision_version,
                d.new_instances_routable,
                d.instances_wanted,
                if d.status.details.is_empty() {
                    String::new()
                } else {
                    format!(": {}", d.status.details)
                }
            );
        }
    }
    for p in c.processes(&app.guid).await? {
        println!();
        println!(
            "type: {}  instances: {}  memory: {}M  disk: {}M  health check: {}{}  command: {}",
            p.kind,
            p.instances,
            p.memory_in_mb,
            p.disk_in_mb,
            p.health_check.kind,
            p.health_check
                .data
                .endpoint
                .as_ref()
                .map(|e| format!(" {e}"))
                .unwrap_or_default(),
            p.command.as_deref().unwrap_or("(the droplet's)")
        );
        let stats = c.stats(&p.guid).await?;
        println!(
            "     {:<9} {:<21} {:>6} {:>17} {:>17} {:>7}  LAST CRASH",
            "STATE", "SINCE", "CPU", "MEMORY", "DISK", "CRASHES"
        );
        for s in stats {
            println!(
                "#{:<3} {:<9} {:<21} {:>5.1}% {:>17} {:>17} {:>7}  {}",
                s.index,
                s.state.to_lowercase(),
                s.since,
                s.usage.cpu * 100.0,
                format!("{} of {}", mb(s.usage.mem), mb(s.mem_quota)),
                format!("{} of {}", mb(s.usage.disk), mb(s.disk_quota)),
                s.crash_count,
                if s.placement_error.is_empty() {
                    s.crash_reason.clone()
                } else {
                    format!("not placed: {}", s.placement_error)
                }
            );
        }
    }
    Ok(())
}
