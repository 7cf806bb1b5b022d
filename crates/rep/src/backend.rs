//! The executor a rep runs in-process: a container store over the
//! configured garden backend (runc, or houdini without isolation).

use crate::config::{Capacity, RepConfig};
use crate::executor_store::StoreClient;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

pub async fn executor_from_config(cfg: &RepConfig) -> anyhow::Result<StoreClient> {
    let depot = PathBuf::from(&cfg.depot_dir);
    let backend: Arc<dyn garden::Backend> = match cfg.container_backend.as_str() {
        "houdini" => {
            let capacity =
                garden::houdini::HoudiniBackend::host_capacity(&depot, cfg.max_containers as u64);
            Arc::new(garden::houdini::HoudiniBackend::new(
                depot.join("houdini"),
                capacity,
            )?)
        }
        _ => {
            let mut rc = garden::RuncConfig::new(depot.join("runc"));
            rc.rootfs = cfg
                .preloaded_root_fs
                .iter()
                .map(|r| (r.name.clone(), PathBuf::from(&r.path)))
                .collect();
            rc.external_ip = cfg
                .external_ip
                .parse()
                .with_context(|| format!("external_ip {:?}", cfg.external_ip))?;
            rc.max_containers = cfg.max_containers as u64;
            rc.tag = cfg.container_tag.clone();
            rc.insecure_registries = cfg.insecure_docker_registry_list.clone();
            rc.image_store_cap_bytes = cfg.image_store_cap_bytes();
            rc.default_limits.max_pids = cfg.default_max_pids;
            rc.allow_privileged = cfg.allow_privileged_containers;
            rc.enforce_disk_limits = cfg.enforce_disk_limits;
            let (subnet, prefix) = cfg
                .container_network
                .split_once('/')
                .and_then(|(a, p)| Some((a.parse().ok()?, p.parse::<u8>().ok()?)))
                .filter(|(_, p)| (8..=30).contains(p))
                .with_context(|| format!("container_network {:?}", cfg.container_network))?;
            rc.subnet = subnet;
            rc.subnet_prefix = prefix;
            if !cfg.cni_config_path.is_empty() {
                rc.cni_config = Some(PathBuf::from(&cfg.cni_config_path));
            }
            rc.cni_plugin_dirs = vec![PathBuf::from(&cfg.cni_plugin_dir)];
            Arc::new(garden::RuncBackend::new(rc).await?)
        }
    };
    let mut ec = executor::ExecutorConfig {
        cell_id: cfg.cell_id.clone(),
        max_containers: cfg.max_containers as u64,
        temp_dir: depot.join("tmp"),
        log_sender: cfg
            .loggregator
            .ingress(&cfg.cell_id)
            .map(logs_client::Sender::start),
        max_log_lines_per_second: cfg.max_log_lines_per_second,
        container_metrics_report_interval: cfg.container_metrics_report_interval.0,
        ..Default::default()
    };
    if let (Capacity::Mb(m), Capacity::Mb(d)) = (cfg.memory_mb, cfg.disk_mb) {
        ec.capacity = Some(executor::ExecutorResources::new(m, d, cfg.max_containers));
    } else if cfg.memory_mb != Capacity::Auto || cfg.disk_mb != Capacity::Auto {
        // One given, one auto: fill the auto one from the backend.
        let c = executor::ExecutorResources::from_capacity(
            backend.capacity().await?,
            cfg.max_containers as u64,
        );
        let pick = |v: Capacity, auto: i32| match v {
            Capacity::Mb(n) => n,
            Capacity::Auto => auto,
        };
        ec.capacity = Some(executor::ExecutorResources::new(
            pick(cfg.memory_mb, c.memory_mb),
            pick(cfg.disk_mb, c.disk_mb),
            c.containers,
        ));
    }
    let store = executor::ContainerStore::new(backend, ec).await?;
    Ok(StoreClient::new(store))
}
