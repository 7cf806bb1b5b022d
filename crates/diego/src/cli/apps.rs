//! `diego apps` and `diego app APP`: what runs, instance by instance.

use super::progress;
use super::push::urls;
use super::units::byte_size;
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

/// `cf app`'s instance table: header, then one row per instance with its
/// latest usage (cpu %, memory and disk of their quotas).
pub fn instance_table(stats: &[InstanceStats]) -> Vec<String> {
    let mut rows = vec![format!(
        "     {:<9} {:<21} {:>6} {:>15} {:>15} {:>7}  DETAILS",
        "STATE", "SINCE", "CPU", "MEMORY", "DISK", "CRASHES"
    )];
    for s in stats {
        rows.push(format!(
            "#{:<3} {:<9} {:<21} {:>5.1}% {:>15} {:>15} {:>7}  {}",
            s.index,
            s.state.to_lowercase(),
            s.since,
            s.usage.cpu * 100.0,
            format!("{} of {}", byte_size(s.usage.mem), byte_size(s.mem_quota)),
            format!("{} of {}", byte_size(s.usage.disk), byte_size(s.disk_quota)),
            s.crash_count,
            if s.placement_error.is_empty() {
                s.crash_reason.clone()
            } else {
                format!("not placed: {}", s.placement_error)
            }
        ));
    }
    rows
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
        for row in instance_table(&c.stats(&p.guid).await?) {
            println!("{row}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_show_their_usage_of_their_quotas() {
        let s = InstanceStats {
            index: 0,
            state: "RUNNING".into(),
            since: "2024-05-01T10:00:00Z".into(),
            usage: Usage {
                cpu: 0.125,
                mem: (245 << 20) / 10,
                disk: 112 << 20,
            },
            mem_quota: 64 << 20,
            disk_quota: 1 << 30,
            ..Default::default()
        };
        let t = instance_table(&[s]);
        assert!(t[0].contains("CPU") && t[0].contains("MEMORY"), "{t:?}");
        assert_eq!(
            t[1],
            "#0   running   2024-05-01T10:00:00Z   12.5%    24.5M of 64M      112M of 1G       0  "
        );
    }
}
