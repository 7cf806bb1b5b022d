//! `diego apps`: the dev apps, their instances running/desired, URLs, and
//! why instances are not running (placement errors, crash reasons).

use super::bbs::Bbs;
use super::{app_url, progress, DOMAIN};

pub async fn apps(bbs_url: &str) -> anyhow::Result<()> {
    let bbs = Bbs::new(bbs_url)?;
    let mut lrps = bbs.desired_lrps(DOMAIN).await?;
    if lrps.is_empty() {
        println!("No apps (push one with `diego push DIR --name APP`).");
        return Ok(());
    }
    lrps.sort_by(|a, b| a.process_guid.cmp(&b.process_guid));
    println!("{:<24} {:>9}  URL", "NAME", "INSTANCES");
    for lrp in lrps {
        let actual = bbs.actual_lrps(&lrp.process_guid).await?;
        let running = progress::running(&actual, lrp.instances);
        println!(
            "{:<24} {:>9}  {}",
            lrp.process_guid,
            format!("{running}/{}", lrp.instances),
            app_url(&lrp.process_guid)
        );
        // Why instances are not running (crash reasons, placement errors).
        for p in progress::problems(&actual) {
            println!("  {p}");
        }
    }
    Ok(())
}
