//! `diego push DIR --name APP`: package the directory, desire (or update)
//! the app's LRP, show its instances starting, print its URL.

use super::bbs::Bbs;
use super::desired_lrp::{desired_lrp, validate_name, AppSpec};
use super::{app_url, package, progress, DOMAIN, FILE_SERVER_STATIC_URL};
use anyhow::Context;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct PushArgs {
    pub dir: PathBuf,
    pub name: String,
    pub instances: i32,
    pub start_command: String,
    pub memory_mb: i32,
    pub data_dir: PathBuf,
    pub bbs_url: String,
    pub timeout: Duration,
}

/// Whether the parts `diego push` sets and an update cannot change are
/// the same (compared field by field: the BBS may fill in others).
fn same_definition(a: &models::DesiredLrp, b: &models::DesiredLrp) -> bool {
    a.root_fs == b.root_fs
        && a.setup == b.setup
        && a.action == b.action
        && a.check_definition == b.check_definition
        && a.memory_mb == b.memory_mb
        && a.disk_mb == b.disk_mb
        && a.ports == b.ports
        && a.start_timeout_ms == b.start_timeout_ms
        && a.domain == b.domain
}

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    validate_name(&args.name)?;
    anyhow::ensure!(args.instances >= 0, "--instances must be 0 or more");
    let static_dir = args.data_dir.join("static");
    anyhow::ensure!(
        static_dir.is_dir(),
        "no {} (start `diego dev` first, or pass its --data-dir)",
        static_dir.display()
    );
    let bytes = package::tgz(&args.dir)?;
    let rel = package::store(&static_dir, &args.name, &bytes)?;
    println!(
        "Packaged {} ({} bytes) as {rel}",
        args.dir.display(),
        bytes.len()
    );
    let spec = AppSpec {
        name: args.name.clone(),
        instances: args.instances,
        start_command: args.start_command.clone(),
        memory_mb: args.memory_mb,
        package_url: format!("{FILE_SERVER_STATIC_URL}{rel}"),
        package_cache_key: rel
            .trim_start_matches("apps/")
            .trim_end_matches(".tgz")
            .to_string(),
    };
    let lrp = desired_lrp(&spec);

    let bbs = Bbs::new(&args.bbs_url)?;
    bbs.upsert_domain(DOMAIN)
        .await
        .with_context(|| format!("reaching the BBS at {}", args.bbs_url))?;
    match bbs.desired_lrp(&args.name).await? {
        None => {
            bbs.desire(lrp.clone()).await?;
            println!("Desired {} ({} instances)", args.name, args.instances);
        }
        Some(existing) if same_definition(&existing, &lrp) => {
            let update = models::DesiredLrpUpdate {
                optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
                    args.instances,
                )),
                routes: lrp.routes.clone(),
                ..Default::default()
            };
            bbs.update(&args.name, update).await?;
            println!("Updated {} ({} instances)", args.name, args.instances);
        }
        Some(_) => {
            println!("Replacing {} (new package or settings)", args.name);
            bbs.remove(&args.name).await?;
            wait_gone(&bbs, &args.name, Duration::from_secs(30)).await?;
            bbs.desire(lrp.clone()).await?;
        }
    }
    package::remove_others(&static_dir, &args.name, Some(&rel));

    if progress::wait_running(&bbs, &args.name, args.instances, args.timeout).await? {
        println!("{} is running at {}", args.name, app_url(&args.name));
        Ok(())
    } else {
        anyhow::bail!(
            "{} did not get all {} instances running within {:?} (it stays desired; see `diego logs {}`)",
            args.name,
            args.instances,
            args.timeout,
            args.name
        )
    }
}

/// The old instances stop before the replacement is desired, so its
/// instances are not mistaken for theirs.
async fn wait_gone(bbs: &Bbs, guid: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !bbs.actual_lrps(guid).await?.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the old instances of {guid} did not stop within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::desired_lrp::DEFAULT_START_COMMAND;

    fn spec(instances: i32, url: &str) -> AppSpec {
        AppSpec {
            name: "hello".into(),
            instances,
            start_command: DEFAULT_START_COMMAND.into(),
            memory_mb: 64,
            package_url: url.into(),
            package_cache_key: "k".into(),
        }
    }

    #[test]
    fn only_instance_and_route_changes_are_updates() {
        let a = desired_lrp(&spec(1, "http://x/a.tgz"));
        let mut stored = desired_lrp(&spec(3, "http://x/a.tgz"));
        stored.modification_tag = Some(models::ModificationTag {
            epoch: "e".into(),
            index: 4,
        });
        assert!(same_definition(&a, &stored));
        let b = desired_lrp(&spec(1, "http://x/b.tgz"));
        assert!(!same_definition(&a, &b));
    }
}
