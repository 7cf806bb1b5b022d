//! Task reads and lifecycle routes.

use super::stream::{encode_item, paged, TASKS_PAGE};
use super::{trace_id, App};
use crate::db::TaskFilter;
use crate::versioning::{task_version_down_to, Version};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use models::*;
use std::sync::Arc;

async fn list_common(app: &Arc<App>, body: Body, version: Version) -> Response {
    let req: TasksRequest = match app.parse(body).await {
        Ok(r) => r,
        Err(e) => return app.reply::<TasksResponse>(Err(e)),
    };
    let filter = Arc::new(TaskFilter {
        domain: req.domain,
        cell_id: req.cell_id,
    });
    let store = app.store.clone();
    paged::<TasksResponse, _, _>(app, move |after| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let page = store
                .tasks_page(&filter, after.as_deref(), TASKS_PAGE)
                .await?;
            let mut buf = Vec::new();
            for t in &page.items {
                encode_item(&task_version_down_to(t, version), &mut buf);
            }
            Ok((buf, page.next))
        }
    })
    .await
}

pub async fn tasks(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V3).await
}

pub async fn tasks_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    list_common(&app, body, Version::V2).await
}

async fn get_common(app: &Arc<App>, body: Body, version: Version) -> Response {
    app.answer(body, |app, req: TaskByGuidRequest| async move {
        let task = app.controllers.task.task_by_guid(&req.task_guid).await?;
        Ok(TaskResponse {
            task: Some(task_version_down_to(&task, version)),
            ..Default::default()
        })
    })
    .await
}

pub async fn task_by_guid(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V3).await
}

pub async fn task_by_guid_r2(State(app): State<Arc<App>>, body: Body) -> Response {
    get_common(&app, body, Version::V2).await
}

pub async fn desire(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: DesireTaskRequest| async move {
        let def = req.task_definition.unwrap_or_default();
        app.controllers
            .task
            .desire(&trace_id(&headers), &def, &req.task_guid, &req.domain)
            .await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}

pub async fn start(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: StartTaskRequest| async move {
        Ok(StartTaskResponse {
            should_start: app
                .controllers
                .task
                .start(&req.task_guid, &req.cell_id)
                .await?,
            ..Default::default()
        })
    })
    .await
}

pub async fn cancel(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    app.answer(body, |app, req: TaskGuidRequest| async move {
        app.controllers
            .task
            .cancel(&trace_id(&headers), &req.task_guid)
            .await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}

pub async fn fail(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: FailTaskRequest| async move {
        app.controllers
            .task
            .fail(&req.task_guid, &req.failure_reason)
            .await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}

pub async fn reject(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: RejectTaskRequest| async move {
        app.controllers
            .task
            .reject(&req.task_guid, &req.rejection_reason)
            .await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}

pub async fn complete(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: CompleteTaskRequest| async move {
        app.controllers
            .task
            .complete(
                &req.task_guid,
                &req.cell_id,
                req.failed,
                &req.failure_reason,
                &req.result,
            )
            .await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}

pub async fn resolving(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: TaskGuidRequest| async move {
        app.controllers.task.resolving(&req.task_guid).await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}

pub async fn delete(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: TaskGuidRequest| async move {
        app.controllers.task.delete(&req.task_guid).await?;
        Ok(TaskLifecycleResponse::default())
    })
    .await
}
