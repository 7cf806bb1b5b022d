//! The BBS HTTP API: every route of Diego's `routes.go`. Request bodies are
//! protobuf; every answer is HTTP 200 with an `application/x-protobuf`
//! response message whose `error` field carries failures, as in Diego:
//! a body that does not decode answers InvalidRequest "the request received
//! is invalid", a request failing validation answers InvalidRequest with the
//! validation message. Unknown paths answer 404 (wrong method: 405).

mod actual_lrp;
mod desired_lrp;
mod events;
mod misc;
mod stream;
mod task;

use crate::clients::CellPresences;
use crate::controllers::Controllers;
use crate::db::Store;
use crate::errors::is_unrecoverable;
use crate::events::Hubs;
use crate::metrics::Metrics;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use models::validation::Validate;
use models::BbsError;
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Default cap on a request body (larger bodies answer UnknownError).
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Shared state of the API handlers.
pub struct App {
    pub controllers: Controllers,
    pub store: Arc<dyn Store>,
    pub hubs: Arc<Hubs>,
    pub cells: Arc<dyn CellPresences>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// Notified when a request hits an Unrecoverable error (Diego's BBS exits).
    pub unrecoverable: Arc<tokio::sync::Notify>,
}

/// A response message with Diego's `error` field: what [`App::answer`]
/// fills in when a request fails.
pub(crate) trait ProtoResponse: Message + Default {
    fn set_error(&mut self, error: Option<models::Error>);
}

macro_rules! proto_responses {
    ($($t:ident),* $(,)?) => {$(
        impl ProtoResponse for models::$t {
            fn set_error(&mut self, error: Option<models::Error>) {
                self.error = error;
            }
        }
    )*};
}

proto_responses!(
    ActualLrPsResponse,
    ActualLrPsByProcessGuidsResponse,
    ActualLrpGroupsResponse,
    ActualLrpGroupResponse,
    ActualLrpLifecycleResponse,
    RemoveEvacuatingActualLrpResponse,
    EvacuationResponse,
    DesiredLrPsResponse,
    DesiredLrpResponse,
    DesiredLrpSchedulingInfosResponse,
    DesiredLrpSchedulingInfoByProcessGuidResponse,
    DesiredLrpLifecycleResponse,
    TasksResponse,
    TaskResponse,
    TaskLifecycleResponse,
    StartTaskResponse,
    DomainsResponse,
    UpsertDomainResponse,
    CellsResponse,
);

impl App {
    /// Answers a protobuf request: decodes and validates the body, lets `f`
    /// build the response from it (`f` gets the app too, so that its future
    /// can own what it uses), and answers with [`App::reply`].
    pub(crate) async fn answer<Req, Resp, F, Fut>(self: &Arc<Self>, body: Body, f: F) -> Response
    where
        Req: Message + Default + Validate,
        Resp: ProtoResponse,
        F: FnOnce(Arc<App>, Req) -> Fut,
        Fut: Future<Output = Result<Resp, BbsError>>,
    {
        let r = match self.parse(body).await {
            Ok(req) => f(self.clone(), req).await,
            Err(e) => Err(e),
        };
        self.reply(r)
    }

    /// Answers a list request like [`App::answer`], `f` giving the list's
    /// elements; sent with [`stream::list`] (same bytes as a `Resp` holding
    /// them, without a second copy of the list).
    pub(crate) async fn answer_list<Req, Resp, M, T, F, Fut>(
        self: &Arc<Self>,
        body: Body,
        f: F,
    ) -> Response
    where
        Req: Message + Default + Validate,
        Resp: ProtoResponse,
        M: Message,
        T: std::borrow::Borrow<M> + Send + 'static,
        F: FnOnce(Arc<App>, Req) -> Fut,
        Fut: Future<Output = Result<Vec<T>, BbsError>>,
    {
        let r = match self.parse(body).await {
            Ok(req) => f(self.clone(), req).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(items) => stream::list::<M, T>(items),
            Err(e) => self.reply::<Resp>(Err(e)),
        }
    }

    /// The response, or on failure an otherwise empty one carrying the error
    /// (Diego answers failures with HTTP 200 too).
    pub(crate) fn reply<Resp: ProtoResponse>(&self, r: Result<Resp, BbsError>) -> Response {
        let resp = r.unwrap_or_else(|e| {
            let mut resp = Resp::default();
            resp.set_error(Some(self.report(e)));
            resp
        });
        proto(&resp)
    }

    /// The error as it goes into a response (noting unrecoverable ones).
    pub(crate) fn report(&self, e: BbsError) -> models::Error {
        if is_unrecoverable(&e) {
            tracing::error!(error = %e, "unrecoverable error");
            self.unrecoverable.notify_one();
        }
        e.to_proto()
    }

    /// Reads and decodes a request body, then validates it.
    pub(crate) async fn parse<R: Message + Default + Validate>(
        &self,
        body: Body,
    ) -> Result<R, BbsError> {
        let bytes = read_body(body, self.max_body_bytes).await?;
        decode(&bytes)
    }
}

pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, BbsError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            tracing::warn!(error = %e, "failed to read body");
            Err(BbsError::unknown())
        }
    }
}

pub(crate) fn decode<R: Message + Default + Validate>(bytes: &[u8]) -> Result<R, BbsError> {
    let req = R::decode(bytes).map_err(|e| {
        tracing::debug!(error = %e, "failed to parse request body");
        BbsError::bad_request()
    })?;
    req.validate().map_err(|e| {
        tracing::debug!(error = %e, "invalid request");
        BbsError::invalid_request(e.to_string())
    })?;
    Ok(req)
}

/// A 200 response carrying a protobuf message (empty messages: zero bytes).
pub(crate) fn proto<M: Message>(m: &M) -> Response {
    proto_bytes(m.encode_to_vec())
}

/// A 200 response carrying an encoded protobuf message.
pub(crate) fn proto_bytes(bytes: impl Into<Bytes>) -> Response {
    let bytes: Bytes = bytes.into();
    let len = bytes.len();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// A 200 protobuf answer sent as it is produced, with its length (as a
/// whole answer would have it).
pub(crate) fn proto_chunks(answer: crate::db::EncodedAnswer) -> Response {
    let chunks = futures::stream::iter(answer.chunks.map(Ok::<_, std::convert::Infallible>));
    let mut resp = Response::new(Body::from_stream(chunks));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(answer.len));
    resp
}

/// Diego's request id header, used as the trace id of emitted events.
pub(crate) fn trace_id(headers: &HeaderMap) -> String {
    headers
        .get(crate::clients::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Every route (method, path, Diego's route name).
pub use models::bbs_routes::ROUTES;

pub fn route_name(path: &str) -> Option<&'static str> {
    models::bbs_routes::by_path(path).map(|r| r.name)
}

fn is_event_stream(path: &str) -> bool {
    path.starts_with("/v1/events")
}

/// One JSON log line per request (route, method, status, duration) and
/// the request count/latency metrics (streams: count only, as Diego).
async fn observe(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let route = route_name(&path).unwrap_or("unknown");
    let request_id = trace_id(req.headers());
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    app.metrics.request_count.with_label_values(&[route]).inc();
    if !is_event_stream(&path) {
        app.metrics
            .request_latency
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "bbs::request",
        route,
        method = %method,
        path = %path,
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request"
    );
    resp
}

async fn not_found() -> impl IntoResponse {
    StatusCode::NOT_FOUND
}

/// The API router.
pub fn router(app: Arc<App>) -> Router {
    use actual_lrp as a;
    use desired_lrp as d;
    use events as e;
    use misc as m;
    use task as t;
    let _ = Method::GET;
    Router::new()
        .route("/v1/ping", post(m::ping))
        .route("/v1/domains/list", post(m::domains))
        .route("/v1/domains/upsert", post(m::upsert_domain))
        .route("/v1/actual_lrps/list", post(a::actual_lrps))
        .route(
            "/v1/actual_lrps/list_by_process_guids",
            post(a::actual_lrps_by_process_guids),
        )
        .route("/v1/actual_lrp_groups/list", post(a::actual_lrp_groups))
        .route(
            "/v1/actual_lrp_groups/list_by_process_guid",
            post(a::actual_lrp_groups_by_process_guid),
        )
        .route(
            "/v1/actual_lrp_groups/get_by_process_guid_and_index",
            post(a::actual_lrp_group_by_process_guid_and_index),
        )
        .route("/v1/actual_lrps/claim", post(a::claim))
        .route("/v1/actual_lrps/start.r1", post(a::start))
        .route("/v1/actual_lrps/start", post(a::start_r0))
        .route("/v1/actual_lrps/crash", post(a::crash))
        .route("/v1/actual_lrps/fail", post(a::fail))
        .route("/v1/actual_lrps/remove", post(a::remove))
        .route("/v1/actual_lrps/retire", post(a::retire))
        .route(
            "/v1/actual_lrps/remove_evacuating",
            post(a::remove_evacuating),
        )
        .route(
            "/v1/actual_lrps/evacuate_claimed",
            post(a::evacuate_claimed),
        )
        .route(
            "/v1/actual_lrps/evacuate_crashed",
            post(a::evacuate_crashed),
        )
        .route(
            "/v1/actual_lrps/evacuate_stopped",
            post(a::evacuate_stopped),
        )
        .route(
            "/v1/actual_lrps/evacuate_running.r1",
            post(a::evacuate_running),
        )
        .route(
            "/v1/actual_lrps/evacuate_running",
            post(a::evacuate_running_r0),
        )
        .route(
            "/v1/desired_lrp_scheduling_infos/list",
            post(d::scheduling_infos),
        )
        .route(
            "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
            post(d::scheduling_info_by_process_guid),
        )
        .route("/v1/desired_lrp_routing_infos/list", post(d::routing_infos))
        .route("/v1/desired_lrps/list.r3", post(d::desired_lrps))
        .route(
            "/v1/desired_lrps/get_by_process_guid.r3",
            post(d::desired_lrp_by_process_guid),
        )
        .route("/v1/desired_lrps/list.r2", post(d::desired_lrps_r2))
        .route(
            "/v1/desired_lrps/get_by_process_guid.r2",
            post(d::desired_lrp_by_process_guid_r2),
        )
        .route("/v1/desired_lrp/desire.r2", post(d::desire))
        .route("/v1/desired_lrp/update", post(d::update))
        .route("/v1/desired_lrp/remove", post(d::remove))
        .route("/v1/tasks/list.r3", post(t::tasks))
        .route("/v1/tasks/get_by_task_guid.r3", post(t::task_by_guid))
        .route("/v1/tasks/list.r2", post(t::tasks_r2))
        .route("/v1/tasks/get_by_task_guid.r2", post(t::task_by_guid_r2))
        .route("/v1/tasks/desire.r2", post(t::desire))
        .route("/v1/tasks/start", post(t::start))
        .route("/v1/tasks/cancel", post(t::cancel))
        .route("/v1/tasks/fail", post(t::fail))
        .route("/v1/tasks/reject", post(t::reject))
        .route("/v1/tasks/complete", post(t::complete))
        .route("/v1/tasks/resolving", post(t::resolving))
        .route("/v1/tasks/delete", post(t::delete))
        .route("/v1/events.r1", get(e::lrp_group_events_r1))
        .route("/v1/events/tasks.r1", post(e::task_events_r1))
        .route(
            "/v1/events/lrp_instances.r1",
            post(e::lrp_instance_events_r1),
        )
        .route("/v1/events", get(e::lrp_group_events_r0))
        .route("/v1/events/tasks", post(e::task_events_r0))
        .route("/v1/events/lrp_instances", post(e::lrp_instance_events_r0))
        .route("/v1/cells/list.r1", post(m::cells))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_unique_path() {
        let mut paths: Vec<_> = ROUTES.iter().map(|r| r.path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), ROUTES.len());
        assert_eq!(ROUTES.len(), 50);
    }

    #[test]
    fn malformed_body_is_a_bad_request() {
        let e = decode::<models::TaskGuidRequest>(&[0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e, BbsError::bad_request());
    }
}
