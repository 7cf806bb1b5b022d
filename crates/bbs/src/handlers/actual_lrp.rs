//! Actual LRP reads, lifecycle and evacuation routes.

use super::{proto, trace_id, App};
use crate::db::{ActualLrpFilter, RunningInfo};
use crate::events::calculator::resolve_group;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use models::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn key(k: &Option<ActualLrpKey>) -> ActualLrpKey {
    k.clone().unwrap_or_default()
}

fn ikey(k: &Option<ActualLrpInstanceKey>) -> ActualLrpInstanceKey {
    k.clone().unwrap_or_default()
}

/// What a start or evacuate_running request says about the running
/// instance. The deprecated (r0) routes pass no routes and tags: they
/// ignore them. An unset `routable` means routable.
fn running_info(
    net_info: Option<ActualLrpNetInfo>,
    routes_and_tags: Option<(Vec<ActualLrpInternalRoute>, BTreeMap<String, String>)>,
    routable: Option<bool>,
    availability_zone: String,
) -> RunningInfo {
    let (internal_routes, metric_tags) = routes_and_tags.unwrap_or_default();
    RunningInfo {
        net_info: net_info.unwrap_or_default(),
        internal_routes,
        metric_tags,
        routable: Some(routable.unwrap_or(true)),
        availability_zone,
    }
}

pub async fn actual_lrps(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer_list::<_, ActualLrPsResponse, ActualLrp, _, _, _>(
        body,
        |app, req: ActualLrPsRequest| async move {
            let index = req
                .optional_index
                .map(|actual_lr_ps_request::OptionalIndex::Index(i)| i);
            let filter = ActualLrpFilter {
                domain: req.domain,
                cell_id: req.cell_id,
                process_guid: req.process_guid,
                index,
            };
            app.store.actual_lrps_shared(&filter).await
        },
    )
    .await
}

pub async fn actual_lrps_by_process_guids(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer_list::<_, ActualLrPsByProcessGuidsResponse, ActualLrp, _, _, _>(
        body,
        |app, req: ActualLrPsByProcessGuidsRequest| async move {
            app.store
                .actual_lrps_by_process_guids(&req.process_guids)
                .await
        },
    )
    .await
}

/// The instances matching `filter`, as ActualLRPGroups.
async fn groups(app: &App, filter: ActualLrpFilter) -> Result<Vec<ActualLrpGroup>, BbsError> {
    let lrps = app.store.actual_lrps(&filter).await?;
    Ok(resolve_actual_lrp_groups(&lrps))
}

pub async fn actual_lrp_groups(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer_list::<_, ActualLrpGroupsResponse, ActualLrpGroup, _, _, _>(
        body,
        |app, req: ActualLrpGroupsRequest| async move {
            let filter = ActualLrpFilter {
                domain: req.domain,
                cell_id: req.cell_id,
                ..Default::default()
            };
            groups(&app, filter).await
        },
    )
    .await
}

pub async fn actual_lrp_groups_by_process_guid(
    State(app): State<Arc<App>>,
    body: Body,
) -> Response {
    app.answer_list::<_, ActualLrpGroupsResponse, ActualLrpGroup, _, _, _>(
        body,
        |app, req: ActualLrpGroupsByProcessGuidRequest| async move {
            let filter = ActualLrpFilter {
                process_guid: req.process_guid,
                ..Default::default()
            };
            groups(&app, filter).await
        },
    )
    .await
}

pub async fn actual_lrp_group_by_process_guid_and_index(
    State(app): State<Arc<App>>,
    body: Body,
) -> Response {
    app.answer(
        body,
        |app, req: ActualLrpGroupByProcessGuidAndIndexRequest| async move {
            let filter = ActualLrpFilter {
                process_guid: req.process_guid,
                index: Some(req.index),
                ..Default::default()
            };
            let lrps = app.store.actual_lrps(&filter).await?;
            if lrps.is_empty() {
                return Err(BbsError::resource_not_found());
            }
            Ok(ActualLrpGroupResponse {
                actual_lrp_group: Some(resolve_group(&lrps)),
                ..Default::default()
            })
        },
    )
    .await
}

pub async fn claim(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: ClaimActualLrpRequest| async move {
        app.controllers
            .actual_lrp
            .claim(
                &trace_id(&headers),
                &req.process_guid,
                req.index,
                &ikey(&req.actual_lrp_instance_key),
            )
            .await?;
        Ok(ActualLrpLifecycleResponse::default())
    })
    .await
}

async fn start_common(
    app: &Arc<App>,
    headers: HeaderMap,
    body: Body,
    with_routes_and_tags: bool,
) -> Response {
    app.answer(body, |app, req: StartActualLrpRequest| async move {
        let running = running_info(
            req.actual_lrp_net_info,
            with_routes_and_tags.then_some((req.actual_lrp_internal_routes, req.metric_tags)),
            req.optional_routable
                .map(|start_actual_lrp_request::OptionalRoutable::Routable(r)| r),
            req.availability_zone,
        );
        app.controllers
            .actual_lrp
            .start(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
                &running,
            )
            .await?;
        Ok(ActualLrpLifecycleResponse::default())
    })
    .await
}

pub async fn start(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    start_common(&app, headers, body, true).await
}

/// Deprecated start: internal routes and metric tags are ignored.
pub async fn start_r0(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    start_common(&app, headers, body, false).await
}

pub async fn crash(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: CrashActualLrpRequest| async move {
        app.controllers
            .actual_lrp
            .crash(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
                &req.error_message,
            )
            .await?;
        Ok(ActualLrpLifecycleResponse::default())
    })
    .await
}

pub async fn fail(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: FailActualLrpRequest| async move {
        app.controllers
            .actual_lrp
            .fail(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &req.error_message,
            )
            .await?;
        Ok(ActualLrpLifecycleResponse::default())
    })
    .await
}

pub async fn remove(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: RemoveActualLrpRequest| async move {
        app.controllers
            .actual_lrp
            .remove(
                &trace_id(&headers),
                &req.process_guid,
                req.index,
                req.actual_lrp_instance_key.as_ref(),
            )
            .await?;
        Ok(ActualLrpLifecycleResponse::default())
    })
    .await
}

pub async fn retire(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: RetireActualLrpRequest| async move {
        app.controllers
            .actual_lrp
            .retire(&trace_id(&headers), &key(&req.actual_lrp_key))
            .await?;
        Ok(ActualLrpLifecycleResponse::default())
    })
    .await
}

pub async fn remove_evacuating(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    app.answer(
        body,
        |app, req: RemoveEvacuatingActualLrpRequest| async move {
            app.controllers
                .evacuation
                .remove_evacuating(
                    &trace_id(&headers),
                    &key(&req.actual_lrp_key),
                    &ikey(&req.actual_lrp_instance_key),
                )
                .await?;
            Ok(RemoveEvacuatingActualLrpResponse::default())
        },
    )
    .await
}

/// The answer of evacuate_claimed and evacuate_running, whose controllers
/// say whether the rep keeps its container even when they fail; a request
/// that does not parse keeps it.
fn keep_container_response(app: &App, (keep, r): (bool, Result<(), BbsError>)) -> Response {
    proto(&EvacuationResponse {
        error: r.err().map(|e| app.report(e)),
        keep_container: keep,
    })
}

pub async fn evacuate_claimed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let out = match app.parse::<EvacuateClaimedActualLrpRequest>(body).await {
        Err(e) => (true, Err(e)),
        Ok(req) => {
            app.controllers
                .evacuation
                .evacuate_claimed(
                    &trace_id(&headers),
                    &key(&req.actual_lrp_key),
                    &ikey(&req.actual_lrp_instance_key),
                )
                .await
        }
    };
    keep_container_response(&app, out)
}

pub async fn evacuate_crashed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    app.answer(
        body,
        |app, req: EvacuateCrashedActualLrpRequest| async move {
            app.controllers
                .evacuation
                .evacuate_crashed(
                    &trace_id(&headers),
                    &key(&req.actual_lrp_key),
                    &ikey(&req.actual_lrp_instance_key),
                    &req.error_message,
                )
                .await?;
            Ok(EvacuationResponse::default())
        },
    )
    .await
}

pub async fn evacuate_stopped(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    app.answer(
        body,
        |app, req: EvacuateStoppedActualLrpRequest| async move {
            app.controllers
                .evacuation
                .evacuate_stopped(
                    &trace_id(&headers),
                    &key(&req.actual_lrp_key),
                    &ikey(&req.actual_lrp_instance_key),
                )
                .await?;
            Ok(EvacuationResponse::default())
        },
    )
    .await
}

async fn evacuate_running_common(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    with_routes_and_tags: bool,
) -> Response {
    let out = match app.parse::<EvacuateRunningActualLrpRequest>(body).await {
        Err(e) => (true, Err(e)),
        Ok(req) => {
            let running = running_info(
                req.actual_lrp_net_info,
                with_routes_and_tags.then_some((req.actual_lrp_internal_routes, req.metric_tags)),
                req.optional_routable
                    .map(|evacuate_running_actual_lrp_request::OptionalRoutable::Routable(r)| r),
                req.availability_zone,
            );
            app.controllers
                .evacuation
                .evacuate_running(
                    &trace_id(headers),
                    &key(&req.actual_lrp_key),
                    &ikey(&req.actual_lrp_instance_key),
                    &running,
                )
                .await
        }
    };
    keep_container_response(app, out)
}

pub async fn evacuate_running(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    evacuate_running_common(&app, &headers, body, true).await
}

pub async fn evacuate_running_r0(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    evacuate_running_common(&app, &headers, body, false).await
}
