//! Ping, domains, cells.

use super::{proto, App};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use models::{
    CellsResponse, DomainsResponse, PingResponse, UpsertDomainRequest, UpsertDomainResponse,
};
use std::sync::Arc;

pub async fn ping() -> Response {
    proto(&PingResponse { available: true })
}

pub async fn domains(State(app): State<Arc<App>>) -> Response {
    let r = app
        .store
        .fresh_domains()
        .await
        .map(|domains| DomainsResponse {
            domains,
            ..Default::default()
        });
    app.reply(r)
}

pub async fn upsert_domain(State(app): State<Arc<App>>, body: Body) -> Response {
    app.answer(body, |app, req: UpsertDomainRequest| async move {
        app.store.upsert_domain(&req.domain, req.ttl).await?;
        Ok(UpsertDomainResponse::default())
    })
    .await
}

pub async fn cells(State(app): State<Arc<App>>) -> Response {
    let r = app.cells.cells().await.map(|cells| CellsResponse {
        cells,
        ..Default::default()
    });
    app.reply(r)
}
