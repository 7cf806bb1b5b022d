//! Downgrades for deprecated routes and streams (Diego's format versions:
//! V3 current, V2 without image layers, V0 with deprecated timeouts and
//! cached dependencies turned into setup downloads).

use models::{
    Action, CachedDependency, DesiredLrp, DownloadAction, ImageLayer, ParallelAction, SerialAction,
    Task, TaskDefinition,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V0 = 0,
    V1 = 1,
    V2 = 2,
    V3 = 3,
}

fn wrap_parallel(actions: Vec<Action>) -> Action {
    Action {
        parallel_action: Some(ParallelAction {
            actions,
            log_source: String::new(),
        }),
        ..Default::default()
    }
}

fn wrap_serial(actions: Vec<Action>) -> Action {
    Action {
        serial_action: Some(SerialAction {
            actions,
            log_source: String::new(),
        }),
        ..Default::default()
    }
}

fn download(d: DownloadAction) -> Action {
    Action {
        download_action: Some(d),
        ..Default::default()
    }
}

fn digest_name(layer: &ImageLayer) -> String {
    match layer.digest_algorithm() {
        models::image_layer::DigestAlgorithm::Sha256 => "sha256".into(),
        models::image_layer::DigestAlgorithm::Sha512 => "sha512".into(),
        models::image_layer::DigestAlgorithm::Invalid => "digestalgorithminvalid".into(),
    }
}

/// Exclusive layers become parallel downloads run before `existing`.
fn layers_to_download_actions(
    layers: &[ImageLayer],
    legacy_download_user: &str,
    existing: Option<Action>,
) -> Option<Action> {
    let downloads: Vec<Action> = layers
        .iter()
        .filter(|l| l.layer_type() == models::image_layer::Type::Exclusive)
        .map(|l| {
            let alg = digest_name(l);
            download(DownloadAction {
                artifact: l.name.clone(),
                from: l.url.clone(),
                to: l.destination_path.clone(),
                cache_key: format!("{alg}:{}", l.digest_value),
                user: legacy_download_user.to_string(),
                checksum_algorithm: alg,
                checksum_value: l.digest_value.clone(),
                ..Default::default()
            })
        })
        .collect();
    if downloads.is_empty() {
        return existing;
    }
    let parallel = wrap_parallel(downloads);
    Some(match existing {
        Some(a) => wrap_serial(vec![parallel, a]),
        None => parallel,
    })
}

/// Shared layers become cached dependencies.
fn layers_to_cached_dependencies(layers: &[ImageLayer]) -> Vec<CachedDependency> {
    layers
        .iter()
        .filter(|l| l.layer_type() == models::image_layer::Type::Shared)
        .map(|l| {
            let alg = if l.digest_algorithm() == models::image_layer::DigestAlgorithm::Invalid {
                String::new()
            } else {
                digest_name(l)
            };
            let cache_key = if l.digest_value.is_empty() {
                l.url.clone()
            } else {
                format!("{alg}:{}", l.digest_value)
            };
            CachedDependency {
                name: l.name.clone(),
                from: l.url.clone(),
                to: l.destination_path.clone(),
                cache_key,
                checksum_algorithm: alg,
                checksum_value: l.digest_value.clone(),
                ..Default::default()
            }
        })
        .collect()
}

/// Sets deprecated_timeout_ns on timeout actions, as Diego's V0 downgrade
/// does (including its habit of unwrapping try and emit-progress actions).
pub fn set_deprecated_timeout_ns(a: &Action) -> Action {
    if let Some(t) = &a.timeout_action {
        let mut t = (**t).clone();
        t.deprecated_timeout_ns = t.timeout_ms.saturating_mul(1_000_000);
        return Action {
            timeout_action: Some(Box::new(t)),
            ..Default::default()
        };
    }
    if let Some(e) = &a.emit_progress_action {
        return e
            .action
            .as_deref()
            .map(set_deprecated_timeout_ns)
            .unwrap_or_default();
    }
    if let Some(t) = &a.try_action {
        return t
            .action
            .as_deref()
            .map(set_deprecated_timeout_ns)
            .unwrap_or_default();
    }
    let mut out = a.clone();
    if let Some(p) = &mut out.parallel_action {
        p.actions = p.actions.iter().map(set_deprecated_timeout_ns).collect();
    }
    if let Some(s) = &mut out.serial_action {
        s.actions = s.actions.iter().map(set_deprecated_timeout_ns).collect();
    }
    if let Some(c) = &mut out.codependent_action {
        c.actions = c.actions.iter().map(set_deprecated_timeout_ns).collect();
    }
    out
}

fn desired_v3_to_v2(mut d: DesiredLrp) -> DesiredLrp {
    let mut deps = layers_to_cached_dependencies(&d.image_layers);
    deps.append(&mut d.cached_dependencies);
    d.cached_dependencies = deps;
    d.setup = layers_to_download_actions(&d.image_layers, &d.legacy_download_user, d.setup.take());
    d.image_layers.clear();
    d
}

fn desired_v1_to_v0(mut d: DesiredLrp) -> DesiredLrp {
    d.action = d.action.as_ref().map(set_deprecated_timeout_ns);
    d.setup = d.setup.as_ref().map(set_deprecated_timeout_ns);
    d.monitor = d.monitor.as_ref().map(set_deprecated_timeout_ns);
    d.deprecated_start_timeout_s = (d.start_timeout_ms as u32) / 1000;
    if !d.cached_dependencies.is_empty() {
        let downloads: Vec<Action> = d
            .cached_dependencies
            .iter()
            .map(|c| {
                download(DownloadAction {
                    artifact: c.name.clone(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                    cache_key: c.cache_key.clone(),
                    log_source: c.log_source.clone(),
                    user: d.legacy_download_user.clone(),
                    ..Default::default()
                })
            })
            .collect();
        let parallel = wrap_parallel(downloads);
        d.setup = Some(match d.setup.take() {
            Some(s) => wrap_serial(vec![parallel, s]),
            None => wrap_serial(vec![parallel]),
        });
        d.cached_dependencies.clear();
    }
    d
}

/// Diego's DesiredLRP.VersionDownTo.
pub fn desired_lrp_version_down_to(d: &DesiredLrp, v: Version) -> DesiredLrp {
    desired_lrp_into_version(d.clone(), v)
}

/// As `desired_lrp_version_down_to`, on a record the caller gives up (a
/// list's rows: no copy of each).
pub fn desired_lrp_into_version(mut d: DesiredLrp, v: Version) -> DesiredLrp {
    if v < Version::V3 {
        d = desired_v3_to_v2(d);
    }
    // V2 -> V1 changes nothing.
    if v < Version::V1 {
        d = desired_v1_to_v0(d);
    }
    d
}

/// Diego's PopulateMetricsGuid: keeps metrics_guid and metric_tags["source_id"] in step.
pub fn populate_metrics_guid(mut d: DesiredLrp) -> DesiredLrp {
    match d.metric_tags.get("source_id") {
        Some(tag) if d.metrics_guid.is_empty() => d.metrics_guid = tag.r#static.clone(),
        None if !d.metrics_guid.is_empty() => {
            d.metric_tags.insert(
                "source_id".into(),
                models::MetricTagValue {
                    r#static: d.metrics_guid.clone(),
                    ..Default::default()
                },
            );
        }
        _ => {}
    }
    d
}

fn task_definition_v3_to_v2(mut t: TaskDefinition) -> TaskDefinition {
    let mut deps = layers_to_cached_dependencies(&t.image_layers);
    deps.append(&mut t.cached_dependencies);
    t.cached_dependencies = deps;
    t.action =
        layers_to_download_actions(&t.image_layers, &t.legacy_download_user, t.action.take());
    t.image_layers.clear();
    t
}

/// Diego's Task.VersionDownTo.
pub fn task_version_down_to(t: &Task, v: Version) -> Task {
    let mut t = t.clone();
    if v < Version::V3 {
        t.task_definition = t.task_definition.take().map(task_definition_v3_to_v2);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::image_layer::{DigestAlgorithm, MediaType, Type};

    #[test]
    fn image_layers_become_downloads_and_cached_dependencies() {
        let d = DesiredLrp {
            legacy_download_user: "vcap".into(),
            setup: Some(Action {
                run_action: Some(models::RunAction {
                    path: "ls".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            image_layers: vec![
                ImageLayer {
                    name: "x".into(),
                    url: "http://x".into(),
                    destination_path: "/x".into(),
                    layer_type: Type::Exclusive as i32,
                    media_type: MediaType::Tgz as i32,
                    digest_algorithm: DigestAlgorithm::Sha256 as i32,
                    digest_value: "abc".into(),
                },
                ImageLayer {
                    name: "s".into(),
                    url: "http://s".into(),
                    destination_path: "/s".into(),
                    layer_type: Type::Shared as i32,
                    media_type: MediaType::Tgz as i32,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let v2 = desired_lrp_version_down_to(&d, Version::V2);
        assert!(v2.image_layers.is_empty());
        assert_eq!(v2.cached_dependencies.len(), 1);
        assert_eq!(v2.cached_dependencies[0].cache_key, "http://s");
        let serial = v2.setup.unwrap().serial_action.unwrap();
        let dl = &serial.actions[0].parallel_action.as_ref().unwrap().actions[0];
        let dl = dl.download_action.as_ref().unwrap();
        assert_eq!(dl.cache_key, "sha256:abc");
        assert_eq!(dl.user, "vcap");
        assert!(serial.actions[1].run_action.is_some());
    }
}
