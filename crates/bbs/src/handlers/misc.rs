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
    let mut resp = DomainsResponse::default();
    let r = match app.store.fresh_domains().await {
        Ok(d) => {
            resp.domains = d;
            Ok(())
        }
        Err(e) => Err(e),
    };
    resp.error = app.error_field(r);
    proto(&resp)
}

pub async fn upsert_domain(State(app): State<Arc<App>>, body: Body) -> Response {
    let r = async {
        let req: UpsertDomainRequest = app.parse(body).await?;
        app.store.upsert_domain(&req.domain, req.ttl).await
    }
    .await;
    proto(&UpsertDomainResponse {
        error: app.error_field(r),
    })
}

pub async fn cells(State(app): State<Arc<App>>) -> Response {
    let mut resp = CellsResponse::default();
    let r = match app.cells.cells().await {
        Ok(c) => {
            resp.cells = c;
            Ok(())
        }
        Err(e) => Err(e),
    };
    resp.error = app.error_field(r);
    proto(&resp)
}
