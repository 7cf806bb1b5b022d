use super::{csv, Body, Ctx, ACTOR};
use crate::error::{ApiError, ApiResult};
use crate::store::{DeploymentRec, Filter};
use crate::views;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use models::capi::{self, List};
use serde::Deserialize;

/// `POST /v3/deployments`, with the new process's settings beside
/// (what a push changes: command, limits, health check, instances).
#[derive(Deserialize)]
pub struct CreateBody {
    #[serde(flatten)]
    deployment: capi::CreateDeployment,
    #[serde(default)]
    process: Option<capi::ProcessSettings>,
}

pub async fn create(
    State(c): State<Ctx>,
    Body(req): Body<CreateBody>,
) -> ApiResult<(StatusCode, Json<capi::Deployment>)> {
    let d = c
        .api
        .create_deployment(req.deployment, req.process, ACTOR)
        .await?;
    Ok((StatusCode::CREATED, Json(views::deployment(&d))))
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    app_guids: Option<String>,
    states: Option<String>,
    status_values: Option<String>,
}

pub async fn list(
    State(c): State<Ctx>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<List<capi::Deployment>>> {
    let apps = csv(&q.app_guids);
    let mut states = csv(&q.states);
    states.extend(csv(&q.status_values));
    let mut all = Vec::new();
    if apps.is_empty() {
        all = c.api.repo.list::<DeploymentRec>(&Filter::default()).await?;
    } else {
        for a in &apps {
            all.extend(c.api.deployments(a).await?);
        }
    }
    all.retain(|d| states.is_empty() || states.contains(&d.state));
    all.sort_by_key(|d| d.created_at);
    Ok(Json(List::of(all.iter().map(views::deployment).collect())))
}

pub async fn show(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<capi::Deployment>> {
    let d: DeploymentRec = c.api.owned(&guid, "deployment").await?;
    Ok(Json(views::deployment(&d)))
}

pub async fn action(
    State(c): State<Ctx>,
    Path((guid, action)): Path<(String, String)>,
) -> ApiResult<Json<capi::Deployment>> {
    let d = match action.as_str() {
        "cancel" => c.api.cancel_deployment(&guid, ACTOR).await?,
        "continue" => c.api.continue_deployment(&guid, ACTOR).await?,
        other => {
            return Err(ApiError::NotFound(format!(
                "no deployment action {other:?}"
            )))
        }
    };
    Ok(Json(views::deployment(&d)))
}
