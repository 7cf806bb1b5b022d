//! Task reads and lifecycle routes.

use super::{proto, trace_id, App};
use crate::versioning::{task_version_down_to, Version};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use models::*;
use std::sync::Arc;

async fn list_common(app: &App, body: Body, version: Version) -> Response {
    let mut resp = TasksResponse::default();
    let r = async {
        let req: TasksRequest = app.parse(body).await?;
        let tasks = app
            .controllers
            .task
            .tasks(&req.domain, &req.cell_id)
            .await?;
        resp.tasks = tasks
            .iter()
            .map(|t| task_version_down_to(t, version))
            .collect();
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn tasks(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V3).await
}

pub async fn tasks_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V2).await
}

async fn get_common(app: &App, body: Body, version: Version) -> Response {
    let mut resp = TaskResponse::default();
    let r = async {
        let req: TaskByGuidRequest = app.parse(body).await?;
        let task = app.controllers.task.task_by_guid(&req.task_guid).await?;
        resp.task = Some(task_version_down_to(&task, version));
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn task_by_guid(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V3).await
}

pub async fn task_by_guid_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V2).await
}

fn lifecycle(app: &App, r: Result<(), BbsError>) -> Response {
    proto(&TaskLifecycleResponse {
        error: app.error_field(r),
    })
}

pub async fn desire(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: DesireTaskRequest = app.parse(body).await?;
        let def = req.task_definition.unwrap_or_default();
        app.controllers
            .task
            .desire(&trace_id(&headers), &def, &req.task_guid, &req.domain)
            .await
    }
    .await;
    lifecycle(&app, r)
}

pub async fn start(State(app): State<Arc<App>>, body: Body) -> Response {
    let mut resp = StartTaskResponse::default();
    let r = async {
        let req: StartTaskRequest = app.parse(body).await?;
        resp.should_start = app
            .controllers
            .task
            .start(&req.task_guid, &req.cell_id)
            .await?;
        Ok(())
    }
    .await;
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn cancel(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: TaskGuidRequest = app.parse(body).await?;
        app.controllers
            .task
            .cancel(&trace_id(&headers), &req.task_guid)
            .await
    }
    .await;
    lifecycle(&app, r)
}

pub async fn fail(State(app): State<Arc<App>>, body: Body) -> Response {
    let r = async {
        let req: FailTaskRequest = app.parse(body).await?;
        app.controllers
            .task
            .fail(&req.task_guid, &req.failure_reason)
            .await
    }
    .await;
    lifecycle(&app, r)
}

pub async fn reject(State(app): State<Arc<App>>, body: Body) -> Response {
    let r = async {
        let req: RejectTaskRequest = app.parse(body).await?;
        app.controllers
            .task
            .reject(&req.task_guid, &req.rejection_reason)
            .await
    }
    .await;
    lifecycle(&app, r)
}

pub async fn complete(State(app): State<Arc<App>>, body: Body) -> Response {
    let r = async {
        let req: CompleteTaskRequest = app.parse(body).await?;
        app.controllers
            .task
            .complete(
                &req.task_guid,
                &req.cell_id,
                req.failed,
                &req.failure_reason,
                &req.result,
            )
            .await
    }
    .await;
    lifecycle(&app, r)
}

pub async fn resolving(State(app): State<Arc<App>>, body: Body) -> Response {
    let r = async {
        let req: TaskGuidRequest = app.parse(body).await?;
        app.controllers.task.resolving(&req.task_guid).await
    }
    .await;
    lifecycle(&app, r)
}

pub async fn delete(State(app): State<Arc<App>>, body: Body) -> Response {
    let r = async {
        let req: TaskGuidRequest = app.parse(body).await?;
        app.controllers.task.delete(&req.task_guid).await
    }
    .await;
    lifecycle(&app, r)
}
