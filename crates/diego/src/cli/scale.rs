//! `diego scale APP N`: change the app's instance count and show the
//! instances converge.

use super::bbs::Bbs;
use super::progress;
use std::time::Duration;

pub async fn scale(
    bbs_url: &str,
    app: &str,
    instances: i32,
    timeout: Duration,
) -> anyhow::Result<()> {
    anyhow::ensure!(instances >= 0, "instances must be 0 or more");
    let bbs = Bbs::new(bbs_url)?;
    anyhow::ensure!(
        bbs.desired_lrp(app).await?.is_some(),
        "no app {app} (see `diego apps`)"
    );
    let update = models::DesiredLrpUpdate {
        optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
            instances,
        )),
        ..Default::default()
    };
    bbs.update(app, update).await?;
    println!("Scaling {app} to {instances}");
    anyhow::ensure!(
        progress::wait_running(&bbs, app, instances, timeout).await?,
        "{app} did not get {instances} instances running within {timeout:?}"
    );
    Ok(())
}
