//! Desired LRP reads and lifecycle routes.

use super::{proto, trace_id, App};
use crate::db::DesiredLrpFilter;
use crate::versioning::{desired_lrp_version_down_to, populate_metrics_guid, Version};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use models::*;
use std::sync::Arc;

fn filter(req: &DesiredLrPsRequest) -> DesiredLrpFilter {
    if !req.app_guids.is_empty() {
        tracing::debug!("app_guids filter is not supported; ignoring it");
    }
    DesiredLrpFilter {
        domain: req.domain.clone(),
        process_guids: req.process_guids.clone(),
    }
}

async fn list_common(app: &App, body: Body, version: Version) -> Response {
    let mut resp = DesiredLrPsResponse::default();
    let r = async {
        let req: DesiredLrPsRequest = app.parse(body).await?;
        let lrps = app.store.desired_lrps(&filter(&req)).await?;
        resp.desired_lrps = lrps
            .iter()
            .map(|d| populate_metrics_guid(desired_lrp_version_down_to(d, version)))
            .collect();
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn desired_lrps(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V3).await
}

pub async fn desired_lrps_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V2).await
}

async fn get_common(app: &App, body: Body, version: Version) -> Response {
    let mut resp = DesiredLrpResponse::default();
    let r = async {
        let req: DesiredLrpByProcessGuidRequest = app.parse(body).await?;
        let d = app
            .store
            .desired_lrp_by_process_guid(&req.process_guid)
            .await?;
        resp.desired_lrp = Some(populate_metrics_guid(desired_lrp_version_down_to(
            &d, version,
        )));
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn desired_lrp_by_process_guid(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V3).await
}

pub async fn desired_lrp_by_process_guid_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V2).await
}

pub async fn scheduling_infos(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = DesiredLrpSchedulingInfosResponse::default();
    let r = async {
        let req: DesiredLrPsRequest = app.parse(body).await?;
        resp.desired_lrp_scheduling_infos = app
            .store
            .desired_lrp_scheduling_infos(&filter(&req))
            .await?;
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn scheduling_info_by_process_guid(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = DesiredLrpSchedulingInfoByProcessGuidResponse::default();
    let r = async {
        let req: DesiredLrpByProcessGuidRequest = app.parse(body).await?;
        resp.desired_lrp_scheduling_info = Some(
            app.store
                .desired_lrp_scheduling_info_by_process_guid(&req.process_guid)
                .await?,
        );
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn routing_infos(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = DesiredLrPsResponse::default();
    let r = async {
        let req: DesiredLrPsRequest = app.parse(body).await?;
        resp.desired_lrps = app
            .store
            .desired_lrp_routing_infos(&DesiredLrpFilter {
                domain: req.domain,
                process_guids: req.process_guids,
            })
            .await?;
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn desire(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: DesireLrpRequest = app.parse(body).await?;
        let lrp = req.desired_lrp.unwrap_or_default();
        app.controllers
            .desired_lrp
            .desire(&trace_id(&headers), &lrp)
            .await
    }
    .await;
    proto(&DesiredLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn update(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: UpdateDesiredLrpRequest = app.parse(body).await?;
        let update = req.update.unwrap_or_default();
        app.controllers
            .desired_lrp
            .update(&trace_id(&headers), &req.process_guid, &update)
            .await
    }
    .await;
    proto(&DesiredLrpLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn remove(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: RemoveDesiredLrpRequest = app.parse(body).await?;
        app.controllers
            .desired_lrp
            .remove(&trace_id(&headers), &req.process_guid)
            .await
    }
    .await;
    proto(&DesiredLrpLifecycleResponse {
        error: app.error_field(r),
    })
}
