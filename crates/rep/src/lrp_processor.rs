//! What the rep does with an LRP container in each state (Diego's
//! ordinary LRP processor), and while evacuating (the evacuation LRP
//! processor).

use crate::delegate::Context;
use crate::run_request::{self, INTERNAL_ROUTES_TAG, METRIC_TAGS_TAG};
use crate::tags;
use bbs_client::RunningInfo;
use executor::{Container, State};
use models::{ActualLrpInstanceKey, ActualLrpKey, ErrorType};

/// Diego's `ActualLRPNetInfoFromContainer`: the cell's address and the
/// container's mapped ports, the container's own address, host preferred.
pub fn net_info(c: &Container) -> models::ActualLrpNetInfo {
    models::ActualLrpNetInfo {
        address: c.external_ip.clone(),
        ports: c
            .run_info
            .ports
            .iter()
            .map(|p| models::PortMapping {
                container_port: u32::from(p.container_port),
                host_port: u32::from(p.host_port),
                ..Default::default()
            })
            .collect(),
        instance_address: c.internal_ip.clone(),
        preferred_address: models::actual_lrp_net_info::PreferredAddress::Host as i32,
        ..Default::default()
    }
}

fn running_info(ctx: &Context, c: &Container) -> RunningInfo {
    let metric_tags = c
        .tags
        .get(METRIC_TAGS_TAG)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let internal_routes = c
        .tags
        .get(INTERNAL_ROUTES_TAG)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|hostname| models::ActualLrpInternalRoute { hostname })
        .collect();
    RunningInfo {
        net_info: net_info(c),
        internal_routes,
        metric_tags,
        routable: c.routable,
        availability_zone: ctx.zone.clone(),
    }
}

/// Processes one LRP container (ordinary or evacuating, by the cell's state).
pub async fn process(ctx: &Context, c: Container) {
    let Some(key) = tags::actual_lrp_key(&c.tags) else {
        tracing::error!(guid = %c.guid, "failed-to-generate-lrp-key");
        return;
    };
    let Some(ik) = tags::actual_lrp_instance_key(&c.tags, &ctx.cell_id) else {
        tracing::error!(guid = %c.guid, "failed-to-generate-instance-key");
        return;
    };
    if ctx.evacuation.evacuating() {
        evacuating(ctx, c, key, ik).await
    } else {
        ordinary(ctx, c, key, ik).await
    }
}

async fn ordinary(ctx: &Context, c: Container, key: ActualLrpKey, ik: ActualLrpInstanceKey) {
    match c.state {
        State::Reserved => {
            if !claim(ctx, &c, &key, &ik).await {
                return;
            }
            let desired = match ctx.bbs.desired_lrp_by_process_guid(&key.process_guid).await {
                Ok(Some(d)) => d,
                Ok(None) => {
                    tracing::error!(guid = %c.guid, "failed-to-fetch-desired: bbs answered no desired lrp");
                    return;
                }
                Err(e) => {
                    tracing::error!(guid = %c.guid, error = %e, "failed-to-fetch-desired");
                    return;
                }
            };
            let info = run_request::lrp_run_info(&desired, &key, &ik);
            let tags = run_request::lrp_run_tags(&desired, &key, &ik);
            if !ctx.run_container(&c.guid, info, tags).await {
                let _ = ctx.bbs.remove_actual_lrp(&key, &ik).await;
            }
        }
        State::Initializing | State::Created => {
            claim(ctx, &c, &key, &ik).await;
        }
        State::Running => {
            let info = running_info(ctx, &c);
            tracing::info!(guid = %c.guid, address = %info.net_info.address, "bbs-start-actual-lrp");
            if let Err(e) = ctx.bbs.start_actual_lrp(&key, &ik, &info).await {
                tracing::info!(guid = %c.guid, error = %e, "failed-to-start-actual-lrp");
                if e.is(ErrorType::ActualLrpCannotBeStarted) {
                    ctx.stop_container(&c.guid).await;
                }
            }
        }
        State::Completed => {
            let r = if c.run_result.stopped {
                ctx.bbs.remove_actual_lrp(&key, &ik).await
            } else {
                ctx.bbs
                    .crash_actual_lrp(&key, &ik, &c.run_result.failure_reason)
                    .await
            };
            if let Err(e) = r {
                tracing::info!(guid = %c.guid, error = %e, "failed-to-remove-or-crash-actual-lrp");
            }
            ctx.delete_container(&c.guid).await;
        }
    }
}

/// ClaimActualLRP; a container whose instance cannot be claimed is deleted.
async fn claim(
    ctx: &Context,
    c: &Container,
    key: &ActualLrpKey,
    ik: &ActualLrpInstanceKey,
) -> bool {
    match ctx.bbs.claim_actual_lrp(key, ik).await {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(guid = %c.guid, error = %e, "failed-to-claim-actual-lrp");
            if e.is(ErrorType::ActualLrpCannotBeClaimed) {
                ctx.delete_container(&c.guid).await;
            }
            false
        }
    }
}

async fn evacuating(ctx: &Context, c: Container, key: ActualLrpKey, ik: ActualLrpInstanceKey) {
    match c.state {
        State::Reserved | State::Initializing | State::Created => {
            let (_, r) = ctx.bbs.evacuate_claimed_actual_lrp(&key, &ik).await;
            if let Err(e) = r {
                tracing::error!(guid = %c.guid, error = %e, "failed-to-unclaim-actual-lrp");
            }
            ctx.delete_container(&c.guid).await;
        }
        State::Running => {
            let info = running_info(ctx, &c);
            tracing::info!(guid = %c.guid, "bbs-evacuate-running-actual-lrp");
            let (keep, r) = ctx.bbs.evacuate_running_actual_lrp(&key, &ik, &info).await;
            if !keep {
                ctx.delete_container(&c.guid).await;
            } else if let Err(e) = r {
                tracing::error!(guid = %c.guid, error = %e, "failed-to-evacuate-running-actual-lrp");
            }
        }
        State::Completed => {
            let (_, r) = if c.run_result.stopped {
                ctx.bbs.evacuate_stopped_actual_lrp(&key, &ik).await
            } else {
                ctx.bbs
                    .evacuate_crashed_actual_lrp(&key, &ik, &c.run_result.failure_reason)
                    .await
            };
            if let Err(e) = r {
                tracing::error!(guid = %c.guid, error = %e, "failed-to-evacuate-completed-actual-lrp");
            }
            ctx.delete_container(&c.guid).await;
        }
    }
}
