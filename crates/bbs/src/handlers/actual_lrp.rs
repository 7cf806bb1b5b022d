//! Actual LRP reads, lifecycle and evacuation routes.

use super::{proto, trace_id, App};
use crate::db::{ActualLrpFilter, RunningInfo};
use crate::events::calculator::resolve_group;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use models::*;
use std::sync::Arc;

fn key(k: &Option<ActualLrpKey>) -> ActualLrpKey {
    k.clone().unwrap_or_default()
}

fn ikey(k: &Option<ActualLrpInstanceKey>) -> ActualLrpInstanceKey {
    k.clone().unwrap_or_default()
}

pub async fn actual_lrps(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = ActualLrPsResponse::default();
    let r = async {
        let req: ActualLrPsRequest = app.parse(body).await?;
        let index = req
            .optional_index
            .map(|actual_lr_ps_request::OptionalIndex::Index(i)| i);
        resp.actual_lrps = app
            .store
            .actual_lrps(&ActualLrpFilter {
                domain: req.domain,
                cell_id: req.cell_id,
                process_guid: req.process_guid,
                index,
            })
            .await?;
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn actual_lrps_by_process_guids(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = ActualLrPsByProcessGuidsResponse::default();
    let r = async {
        let req: ActualLrPsByProcessGuidsRequest = app.parse(body).await?;
        resp.actual_lrps = app
            .store
            .actual_lrps_by_process_guids(&req.process_guids)
            .await?;
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn actual_lrp_groups(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = ActualLrpGroupsResponse::default();
    let r = async {
        let req: ActualLrpGroupsRequest = app.parse(body).await?;
        let lrps = app
            .store
            .actual_lrps(&ActualLrpFilter {
                domain: req.domain,
                cell_id: req.cell_id,
                ..Default::default()
            })
            .await?;
        resp.actual_lrp_groups = resolve_actual_lrp_groups(&lrps);
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn actual_lrp_groups_by_process_guid(
    State(app): State<Arc<App>>,
    body: Body,
) -> Response {
    let mut resp = ActualLrpGroupsResponse::default();
    let r = async {
        let req: ActualLrpGroupsByProcessGuidRequest = app.parse(body).await?;
        let lrps = app
            .store
            .actual_lrps(&ActualLrpFilter {
                process_guid: req.process_guid,
                ..Default::default()
            })
            .await?;
        resp.actual_lrp_groups = resolve_actual_lrp_groups(&lrps);
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn actual_lrp_group_by_process_guid_and_index(
    State(app): State<Arc<App>>,
    body: Body,
) -> Response {
    let mut resp = ActualLrpGroupResponse::default();
    let r = async {
        let req: ActualLrpGroupByProcessGuidAndIndexRequest = app.parse(body).await?;
        let lrps = app
            .store
            .actual_lrps(&ActualLrpFilter {
                process_guid: req.process_guid,
                index: Some(req.index),
                ..Default::default()
            })
            .await?;
        if lrps.is_empty() {
            return Err(BbsError::resource_not_found());
        }
        resp.actual_lrp_group = Some(resolve_group(&lrps));
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn claim(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: ClaimActualLrpRequest = app.parse(body).await?;
        app.controllers
            .actual_lrp
            .claim(
                &trace_id(&headers),
                &req.process_guid,
                req.index,
                &ikey(&req.actual_lrp_instance_key),
            )
            .await
    }
    .await;
    proto(&ActualLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

async fn start_common(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    with_routes_and_tags: bool,
) -> Response {
    let r = async {
        let req: StartActualLrpRequest = app.parse(body).await?;
        let routable = match req.optional_routable {
            Some(start_actual_lrp_request::OptionalRoutable::Routable(r)) => r,
            None => true,
        };
        let running = RunningInfo {
            net_info: req.actual_lrp_net_info.clone().unwrap_or_default(),
            internal_routes: if with_routes_and_tags {
                req.actual_lrp_internal_routes.clone()
            } else {
                vec![]
            },
            metric_tags: if with_routes_and_tags {
                req.metric_tags.clone()
            } else {
                Default::default()
            },
            routable: Some(routable),
            availability_zone: req.availability_zone.clone(),
        };
        app.controllers
            .actual_lrp
            .start(
                &trace_id(headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
                &running,
            )
            .await
    }
    .await;
    proto(&ActualLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn start(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    start_common(&app, &headers, body, true).await
}

/// Deprecated start: internal routes and metric tags are ignored.
pub async fn start_r0(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    start_common(&app, &headers, body, false).await
}

pub async fn crash(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: CrashActualLrpRequest = app.parse(body).await?;
        app.controllers
            .actual_lrp
            .crash(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
                &req.error_message,
            )
            .await
    }
    .await;
    proto(&ActualLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn fail(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: FailActualLrpRequest = app.parse(body).await?;
        app.controllers
            .actual_lrp
            .fail(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &req.error_message,
            )
            .await
    }
    .await;
    proto(&ActualLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn remove(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: RemoveActualLrpRequest = app.parse(body).await?;
        app.controllers
            .actual_lrp
            .remove(
                &trace_id(&headers),
                &req.process_guid,
                req.index,
                req.actual_lrp_instance_key.as_ref(),
            )
            .await
    }
    .await;
    proto(&ActualLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn retire(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: RetireActualLrpRequest = app.parse(body).await?;
        app.controllers
            .actual_lrp
            .retire(&trace_id(&headers), &key(&req.actual_lrp_key))
            .await
    }
    .await;
    proto(&ActualLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn remove_evacuating(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let r = async {
        let req: RemoveEvacuatingActualLrpRequest = app.parse(body).await?;
        app.controllers
            .evacuation
            .remove_evacuating(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
            )
            .await
    }
    .await;
    proto(&RemoveEvacuatingActualLrpResponse {
        error: app.error_field(r),
    })
}

pub async fn evacuate_claimed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (keep, r) = match app.parse::<EvacuateClaimedActualLrpRequest>(body).await {
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
    proto(&EvacuationResponse {
        error: app.error_field(r),
        keep_container: keep,
    })
}

pub async fn evacuate_crashed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let r = async {
        let req: EvacuateCrashedActualLrpRequest = app.parse(body).await?;
        app.controllers
            .evacuation
            .evacuate_crashed(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
                &req.error_message,
            )
            .await
    }
    .await;
    proto(&EvacuationResponse {
        error: app.error_field(r),
        keep_container: false,
    })
}

pub async fn evacuate_stopped(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let r = async {
        let req: EvacuateStoppedActualLrpRequest = app.parse(body).await?;
        app.controllers
            .evacuation
            .evacuate_stopped(
                &trace_id(&headers),
                &key(&req.actual_lrp_key),
                &ikey(&req.actual_lrp_instance_key),
            )
            .await
    }
    .await;
    proto(&EvacuationResponse {
        error: app.error_field(r),
        keep_container: false,
    })
}

async fn evacuate_running_common(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    with_routes_and_tags: bool,
) -> Response {
    let (keep, r) = match app.parse::<EvacuateRunningActualLrpRequest>(body).await {
        Err(e) => (true, Err(e)),
        Ok(req) => {
            let routable = match req.optional_routable {
                Some(evacuate_running_actual_lrp_request::OptionalRoutable::Routable(r)) => r,
                None => true,
            };
            let running = RunningInfo {
                net_info: req.actual_lrp_net_info.clone().unwrap_or_default(),
                internal_routes: if with_routes_and_tags {
                    req.actual_lrp_internal_routes.clone()
                } else {
                    vec![]
                },
                metric_tags: if with_routes_and_tags {
                    req.metric_tags.clone()
                } else {
                    Default::default()
                },
                routable: Some(routable),
                availability_zone: req.availability_zone.clone(),
            };
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
    proto(&EvacuationResponse {
        error: app.error_field(r),
        keep_container: keep,
    })
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
