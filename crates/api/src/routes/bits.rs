use super::{Body, Ctx, ACTOR};
use crate::error::ApiResult;
use crate::store::{BuildRec, DropletRec, PackageRec};
use crate::views;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use models::capi::{self, List};

pub async fn create_package(
    State(c): State<Ctx>,
    Body(req): Body<capi::CreatePackage>,
) -> ApiResult<(StatusCode, Json<capi::Package>)> {
    let p = c.api.create_package(req, ACTOR).await?;
    Ok((StatusCode::CREATED, Json(views::package(&p))))
}

pub async fn package(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<capi::Package>> {
    let p: PackageRec = c.api.owned(&guid, "package").await?;
    Ok(Json(views::package(&p)))
}

/// The bits, as the request body (a gzipped tar of the app's files).
pub async fn upload(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    req: Request,
) -> ApiResult<Json<capi::Package>> {
    let body = req.into_body().into_data_stream();
    let p = c.api.upload_package(&guid, body, super::ACTOR).await?;
    Ok(Json(views::package(&p)))
}

pub async fn packages_of_app(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<List<capi::Package>>> {
    c.api.app(&guid).await?;
    let ps = c.api.repo.of_app::<PackageRec>(&guid).await?;
    Ok(Json(List::of(ps.iter().map(views::package).collect())))
}

pub async fn create_build(
    State(c): State<Ctx>,
    Body(req): Body<capi::CreateBuild>,
) -> ApiResult<(StatusCode, Json<capi::Build>)> {
    let b = c.api.create_build(req, ACTOR).await?;
    Ok((StatusCode::CREATED, Json(views::build(&b))))
}

pub async fn build(State(c): State<Ctx>, Path(guid): Path<String>) -> ApiResult<Json<capi::Build>> {
    let b: BuildRec = c.api.owned(&guid, "build").await?;
    Ok(Json(views::build(&b)))
}

pub async fn droplet(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<capi::Droplet>> {
    let d: DropletRec = c.api.owned(&guid, "droplet").await?;
    Ok(Json(views::droplet(&d)))
}

pub async fn droplets_of_app(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<List<capi::Droplet>>> {
    c.api.app(&guid).await?;
    let ds = c.api.repo.of_app::<DropletRec>(&guid).await?;
    Ok(Json(List::of(ds.iter().map(views::droplet).collect())))
}
