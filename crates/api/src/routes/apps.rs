use super::{csv, Body, Ctx, ACTOR};
use crate::error::{ApiError, ApiResult};
use crate::service::Api;
use crate::store::{AppRec, EventRec, Filter, RevisionRec};
use crate::views;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use models::capi::{self, List};
use serde::Deserialize;

/// The revision the app's newest web process runs.
pub async fn revision_of(api: &Api, app: &AppRec) -> ApiResult<Option<i64>> {
    let webs = api.web_processes(&app.guid).await?;
    let Some(rev) = webs.last().and_then(|p| p.revision_guid.clone()) else {
        return Ok(None);
    };
    Ok(api.repo.get::<RevisionRec>(&rev).await?.map(|r| r.version))
}

async fn view(api: &Api, app: &AppRec) -> ApiResult<capi::App> {
    Ok(views::app(app, revision_of(api, app).await?))
}

#[derive(Deserialize, Default)]
pub struct AppQuery {
    names: Option<String>,
}

pub async fn list(
    State(c): State<Ctx>,
    Query(q): Query<AppQuery>,
) -> ApiResult<Json<List<capi::App>>> {
    let names = csv(&q.names);
    let apps = c.api.repo.list::<AppRec>(&Filter::default()).await?;
    let mut out = Vec::new();
    for a in apps
        .iter()
        .filter(|a| names.is_empty() || names.contains(&a.name))
    {
        out.push(view(&c.api, a).await?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(List::of(out)))
}

pub async fn create(
    State(c): State<Ctx>,
    Body(req): Body<capi::CreateApp>,
) -> ApiResult<(StatusCode, Json<capi::App>)> {
    let app = c.api.create_app(req, ACTOR).await?;
    Ok((StatusCode::CREATED, Json(view(&c.api, &app).await?)))
}

pub async fn show(State(c): State<Ctx>, Path(guid): Path<String>) -> ApiResult<Json<capi::App>> {
    let app = c.api.app(&guid).await?;
    Ok(Json(view(&c.api, &app).await?))
}

pub async fn update(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Body(req): Body<capi::UpdateApp>,
) -> ApiResult<Json<capi::App>> {
    let app = c.api.update_app(&guid, req, ACTOR).await?;
    Ok(Json(view(&c.api, &app).await?))
}

pub async fn destroy(State(c): State<Ctx>, Path(guid): Path<String>) -> ApiResult<StatusCode> {
    c.api.delete_app(&guid, ACTOR).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn action(
    State(c): State<Ctx>,
    Path((guid, action)): Path<(String, String)>,
) -> ApiResult<Json<capi::App>> {
    let app = match action.as_str() {
        "start" => c.api.start_app(&guid, ACTOR).await?,
        "stop" => c.api.stop_app(&guid, ACTOR).await?,
        "restart" => c.api.restart_app(&guid, ACTOR).await?,
        other => return Err(ApiError::NotFound(format!("no app action {other:?}"))),
    };
    Ok(Json(view(&c.api, &app).await?))
}

fn env_view(env: std::collections::BTreeMap<String, String>) -> capi::EnvVars {
    capi::EnvVars {
        var: env.into_iter().map(|(k, v)| (k, Some(v))).collect(),
    }
}

pub async fn env(State(c): State<Ctx>, Path(guid): Path<String>) -> ApiResult<Json<capi::EnvVars>> {
    Ok(Json(env_view(c.api.env(&guid).await?)))
}

pub async fn patch_env(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Body(req): Body<capi::EnvVars>,
) -> ApiResult<Json<capi::EnvVars>> {
    Ok(Json(env_view(
        c.api.patch_env(&guid, req, ACTOR).await?.env,
    )))
}

pub async fn set_droplet(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Body(req): Body<capi::ToOne>,
) -> ApiResult<Json<capi::ToOne>> {
    let app = c
        .api
        .set_current_droplet(&guid, &req.data.guid, ACTOR)
        .await?;
    Ok(Json(capi::ToOne::to(
        app.droplet_guid.as_deref().unwrap_or(""),
    )))
}

pub async fn revisions(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<List<capi::Revision>>> {
    c.api.app(&guid).await?;
    let revs = c.api.revisions(&guid).await?;
    Ok(Json(List::of(revs.iter().map(views::revision).collect())))
}

pub async fn revision(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<capi::Revision>> {
    let r: RevisionRec = c.api.owned(&guid, "revision").await?;
    Ok(Json(views::revision(&r)))
}

pub async fn tasks(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Json<List<capi::Task>>> {
    c.api.app(&guid).await?;
    let tasks = c.api.tasks(&guid).await?;
    Ok(Json(List::of(tasks.iter().map(views::task).collect())))
}

pub async fn create_task(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Body(req): Body<capi::CreateTask>,
) -> ApiResult<(StatusCode, Json<capi::Task>)> {
    let t = c.api.create_task(&guid, req, ACTOR).await?;
    Ok((StatusCode::ACCEPTED, Json(views::task(&t))))
}

#[derive(Deserialize, Default)]
pub struct EventQuery {
    target_guids: Option<String>,
    types: Option<String>,
}

pub async fn events(
    State(c): State<Ctx>,
    Query(q): Query<EventQuery>,
) -> ApiResult<Json<List<capi::AuditEvent>>> {
    let targets = csv(&q.target_guids);
    let types = csv(&q.types);
    let mut all = Vec::new();
    if targets.is_empty() {
        all = c.api.repo.list::<EventRec>(&Filter::default()).await?;
    } else {
        for t in &targets {
            all.extend(c.api.repo.of_app::<EventRec>(t).await?);
        }
    }
    all.retain(|e| types.is_empty() || types.contains(&e.kind));
    all.sort_by_key(|e| e.created_at);
    Ok(Json(List::of(all.iter().map(views::event).collect())))
}
