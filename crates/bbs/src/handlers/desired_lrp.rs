//! Desired LRP reads and lifecycle routes.

use super::stream::{encode_item, paged, DESIRED_LRPS_PAGE};
use super::{check_definition, trace_id, App};
use crate::db::DesiredLrpFilter;
use crate::versioning::{
    desired_lrp_into_version, desired_lrp_version_down_to, populate_metrics_guid, Version,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use models::*;
use prost::Message;
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

async fn list_common(app: &Arc<App>, body: Body, version: Version) -> Response {
    let req: DesiredLrPsRequest = match app.parse(body).await {
        Ok(r) => r,
        Err(e) => return app.reply::<DesiredLrPsResponse>(Err(e)),
    };
    let filter = Arc::new(filter(&req));
    let store = app.store.clone();
    paged::<DesiredLrPsResponse, _, _>(app, move |after| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let page = store
                .desired_lrps_page(&filter, after.as_deref(), DESIRED_LRPS_PAGE)
                .await?;
            let mut buf = Vec::new();
            for d in page.items {
                encode_item(
                    &populate_metrics_guid(desired_lrp_into_version(d, version)),
                    &mut buf,
                );
            }
            Ok((buf, page.next))
        }
    })
    .await
}

pub async fn desired_lrps(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V3).await
}

pub async fn desired_lrps_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V2).await
}

async fn get_common(app: &Arc<App>, body: Body, version: Version) -> Response {
    app.answer(
        body,
        |app, req: DesiredLrpByProcessGuidRequest| async move {
            let d = app
                .store
                .desired_lrp_by_process_guid(&req.process_guid)
                .await?;
            Ok(DesiredLrpResponse {
                desired_lrp: Some(populate_metrics_guid(desired_lrp_version_down_to(
                    &d, version,
                ))),
                ..Default::default()
            })
        },
    )
    .await
}

pub async fn desired_lrp_by_process_guid(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V3).await
}

pub async fn desired_lrp_by_process_guid_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V2).await
}

pub async fn scheduling_infos(State(app): State<Arc<App>>, body: Body) -> Response {
    // nsync's bulk read: from the LRP cache's encoded records when there is one.
    let req: DesiredLrPsRequest = match app.parse(body).await {
        Ok(r) => r,
        Err(e) => return app.reply::<DesiredLrpSchedulingInfosResponse>(Err(e)),
    };
    match app.store.encoded_scheduling_infos(&filter(&req)).await {
        Ok(Some(answer)) => return super::proto_chunks(answer),
        Ok(None) => {}
        Err(e) => return app.reply::<DesiredLrpSchedulingInfosResponse>(Err(e)),
    }
    match app.store.desired_lrp_scheduling_infos(&filter(&req)).await {
        Ok(infos) => super::stream::list::<DesiredLrpSchedulingInfo, _>(infos),
        Err(e) => app.reply::<DesiredLrpSchedulingInfosResponse>(Err(e)),
    }
}

pub async fn scheduling_info_by_process_guid(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(
        body,
        |app, req: DesiredLrpByProcessGuidRequest| async move {
            Ok(DesiredLrpSchedulingInfoByProcessGuidResponse {
                desired_lrp_scheduling_info: Some(
                    app.store
                        .desired_lrp_scheduling_info_by_process_guid(&req.process_guid)
                        .await?,
                ),
                ..Default::default()
            })
        },
    )
    .await
}

pub async fn routing_infos(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer_list::<_, DesiredLrPsResponse, DesiredLrp, _, _, _>(
        body,
        |app, req: DesiredLrPsRequest| async move {
            let filter = DesiredLrpFilter {
                domain: req.domain,
                process_guids: req.process_guids,
            };
            app.store.desired_lrp_routing_infos(&filter).await
        },
    )
    .await
}

pub async fn desire(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: DesireLrpRequest| async move {
        let lrp = req.desired_lrp.unwrap_or_default();
        check_definition("desired LRP", lrp.encoded_len(), app.max_definition_bytes)?;
        app.controllers
            .desired_lrp
            .desire(&trace_id(&headers), &lrp)
            .await?;
        Ok(DesiredLrpLifecycleResponse::default())
    })
    .await
}

pub async fn update(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: UpdateDesiredLrpRequest| async move {
        let update = req.update.unwrap_or_default();
        check_definition(
            "desired LRP update",
            update.encoded_len(),
            app.max_definition_bytes,
        )?;
        app.controllers
            .desired_lrp
            .update(&trace_id(&headers), &req.process_guid, &update)
            .await?;
        Ok(DesiredLrpLifecycleResponse::default())
    })
    .await
}

pub async fn remove(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: RemoveDesiredLrpRequest| async move {
        app.controllers
            .desired_lrp
            .remove(&trace_id(&headers), &req.process_guid)
            .await?;
        Ok(DesiredLrpLifecycleResponse::default())
    })
    .await
}
