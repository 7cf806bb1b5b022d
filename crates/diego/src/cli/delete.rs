//! `diego delete APP`: stop wanting the app and remove its packages.

use super::bbs::Bbs;
use super::package;
use std::path::Path;

pub async fn delete(bbs_url: &str, data_dir: &Path, app: &str) -> anyhow::Result<()> {
    let bbs = Bbs::new(bbs_url)?;
    let existed = bbs.remove(app).await?;
    let removed = package::remove_others(&data_dir.join("static"), app, None);
    anyhow::ensure!(existed || !removed.is_empty(), "no app {app}");
    println!("Deleted {app}");
    Ok(())
}
