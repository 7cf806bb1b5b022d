//! `diego push DIR --name APP`: package the directory, desire (or update)
//! the app's LRP, show its instances starting, print its URL.
//! `diego push APP --docker-image REF`: the same from an image (its config
//! fetched from the registry; the cells pull its layers).

use super::bbs::Bbs;
use super::desired_lrp::{desired_lrp, validate_name, AppSpec, DEFAULT_START_COMMAND};
use super::docker_lrp::{docker_desired_lrp, DockerAppSpec};
use super::{app_url, package, progress, DOMAIN, FILE_SERVER_STATIC_URL};
use anyhow::Context;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the app is made from.
#[derive(Debug, Clone)]
pub enum PushSource {
    /// A directory of files, run on the busybox stack.
    Dir(PathBuf),
    /// An image (`[REGISTRY/]REPO[:TAG|@DIGEST]`) and its registry's
    /// credentials (both empty: anonymous).
    Image {
        reference: String,
        username: String,
        password: String,
    },
}

#[derive(Debug, Clone)]
pub struct PushArgs {
    pub source: PushSource,
    pub name: String,
    pub instances: i32,
    /// None: the default for a directory, the image's own for an image.
    pub start_command: Option<String>,
    pub memory_mb: i32,
    pub data_dir: PathBuf,
    pub bbs_url: String,
    pub timeout: Duration,
}

/// Whether the parts `diego push` sets and an update cannot change are
/// the same (compared field by field: the BBS may fill in others).
fn same_definition(a: &models::DesiredLrp, b: &models::DesiredLrp) -> bool {
    a.root_fs == b.root_fs
        && a.image_username == b.image_username
        && a.image_password == b.image_password
        && a.environment_variables == b.environment_variables
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
    let (lrp, keep_package) = match &args.source {
        PushSource::Dir(dir) => {
            let (lrp, rel) = package_dir(&args, dir, &static_dir)?;
            (lrp, Some(rel))
        }
        PushSource::Image {
            reference,
            username,
            password,
        } => (image_lrp(&args, reference, username, password).await?, None),
    };

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
    if static_dir.is_dir() {
        package::remove_others(&static_dir, &args.name, keep_package.as_deref());
    }

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

fn package_dir(
    args: &PushArgs,
    dir: &std::path::Path,
    static_dir: &std::path::Path,
) -> anyhow::Result<(models::DesiredLrp, String)> {
    anyhow::ensure!(
        static_dir.is_dir(),
        "no {} (start `diego dev` first, or pass its --data-dir)",
        static_dir.display()
    );
    let bytes = package::tgz(dir)?;
    let rel = package::store(static_dir, &args.name, &bytes)?;
    println!(
        "Packaged {} ({} bytes) as {rel}",
        dir.display(),
        bytes.len()
    );
    let spec = AppSpec {
        name: args.name.clone(),
        instances: args.instances,
        start_command: args
            .start_command
            .clone()
            .unwrap_or_else(|| DEFAULT_START_COMMAND.to_string()),
        memory_mb: args.memory_mb,
        package_url: format!("{FILE_SERVER_STATIC_URL}{rel}"),
        package_cache_key: rel
            .trim_start_matches("apps/")
            .trim_end_matches(".tgz")
            .to_string(),
    };
    Ok((desired_lrp(&spec), rel))
}

/// Cloud Foundry's docker staging: the image's config only (no layers),
/// read as dockerapplifecycle's builder does. Registries on loopback are
/// spoken to over plain HTTP (as `diego dev`'s cell does).
async fn image_lrp(
    args: &PushArgs,
    reference: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<models::DesiredLrp> {
    let image = image::ImageRef::parse(reference)?;
    let registry = image::RegistryClient::new(image::InsecureRegistries::loopback());
    let creds = image::Credentials::new(username, password);
    let resolved = registry.resolve(&image, &creds).await?;
    let process = image::metadata::image_process(&resolved.config)?;
    let md = &process.execution_metadata;
    println!(
        "Image {image} ({}): {} layers, user {}, ports {:?}",
        resolved.manifest_digest,
        resolved.layers.len(),
        md.user_or_root(),
        md.tcp_ports()
    );
    docker_desired_lrp(&DockerAppSpec {
        name: args.name.clone(),
        instances: args.instances,
        memory_mb: args.memory_mb,
        rootfs: image.to_rootfs_url(),
        image_username: username.to_string(),
        image_password: password.to_string(),
        process,
        start_command: args.start_command.clone(),
    })
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
