use super::{Body, Ctx, ACTOR};
use crate::error::ApiResult;
use crate::service::instance_stats;
use crate::store::ProcessRec;
use crate::views;
use axum::extract::{Path, State};
use axum::Json;
use models::capi::{self, List};

pub async fn of_app(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<List<capi::Process>>> {
    c.api.app(&guid).await?;
    let ps = c.api.repo.of_app::<ProcessRec>(&guid).await?;
    Ok(Json(List::of(ps.iter().map(views::process).collect())))
}

pub async fn show(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<capi::Process>> {
    Ok(Json(views::process(&c.api.process(&guid).await?)))
}

pub async fn update(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Body(req): Body<capi::ProcessSettings>,
) -> ApiResult<Json<capi::Process>> {
    let p = c.api.update_process(&guid, req, ACTOR).await?;
    Ok(Json(views::process(&p)))
}

pub async fn scale(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Body(req): Body<capi::Scale>,
) -> ApiResult<Json<capi::Process>> {
    let p = c.api.scale_process(&guid, req, ACTOR).await?;
    Ok(Json(views::process(&p)))
}

pub async fn stats(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<List<capi::InstanceStats>>> {
    let p = c.api.process(&guid).await?;
    Ok(Json(List::of(instance_stats(&c.api, &p).await?)))
}
