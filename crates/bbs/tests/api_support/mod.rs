//! Shared helpers of the API tests: a real BBS on 127.0.0.1:0 (testkit's
//! control plane: the BBS alone over a SQLite file unless a test asks for
//! more), the shared BBS client, a recording fake auctioneer.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use bbs::config::BbsConfig;
use bbs::server::{Overrides, RunningBbs};
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::control_plane::{Builder, ControlPlane};

pub struct TestBbs {
    pub control: ControlPlane,
    pub base: String,
    /// For raw requests (bad input, status codes, stream headers).
    pub client: reqwest::Client,
    /// The shared BBS client (one attempt per call).
    pub api: bbs_client::HttpBbsClient,
}

impl TestBbs {
    pub async fn start() -> Self {
        Self::start_with(|_| {}, Overrides::default()).await
    }

    pub async fn start_with(
        tweak: impl FnOnce(&mut BbsConfig) + 'static,
        overrides: Overrides,
    ) -> Self {
        Self::from(
            ControlPlane::builder()
                .bbs_config(tweak)
                .bbs_overrides(overrides),
        )
        .await
    }

    /// Starts what `builder` says (TLS, locket...).
    pub async fn from(builder: Builder) -> Self {
        let control = builder.start().await;
        let api = bbs_client::HttpBbsClient::new(
            &control
                .bbs_client_config()
                .with_request_timeout(Duration::from_secs(30))
                .with_retries(1),
        )
        .unwrap();
        Self {
            base: control.bbs_url().into(),
            control,
            api,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn running(&self) -> &RunningBbs {
        self.control.bbs()
    }

    /// Stops the BBS (releasing its lock) and the rest.
    pub async fn shutdown(self) {
        self.control.shutdown().await;
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (StatusCode, Bytes) {
        let resp = self
            .client
            .post(format!("{}{}", self.base, path))
            .header("Content-Type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        (status, resp.bytes().await.unwrap())
    }

    /// Calls a route through the shared client (a protobuf answer, else
    /// a panic) and decodes the whole answer, error field included.
    pub async fn call<Req: Message, Resp: Message + Default>(&self, path: &str, req: &Req) -> Resp {
        let route = models::bbs_routes::by_path(path).unwrap_or_else(|| panic!("no route {path}"));
        self.api
            .request(route, Some(req))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn ping(&self) -> bool {
        let r: models::PingResponse = self.call("/v1/ping", &()).await;
        r.available
    }
}

/// Requests the fake auctioneer received, as JSON.
#[derive(Default, Clone)]
pub struct Recorded {
    pub lrps: Arc<Mutex<Vec<serde_json::Value>>>,
    pub tasks: Arc<Mutex<Vec<serde_json::Value>>>,
}

async fn record_lrps(State(r): State<Recorded>, body: Bytes) -> StatusCode {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    r.lrps
        .lock()
        .unwrap()
        .extend(v.as_array().unwrap().iter().cloned());
    StatusCode::ACCEPTED
}

async fn record_tasks(State(r): State<Recorded>, body: Bytes) -> StatusCode {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    r.tasks
        .lock()
        .unwrap()
        .extend(v.as_array().unwrap().iter().cloned());
    StatusCode::ACCEPTED
}

/// A local HTTP auctioneer that records what it is asked; returns its URL.
pub async fn fake_auctioneer() -> (String, Recorded) {
    let rec = Recorded::default();
    let app = Router::new()
        .route("/v1/lrps", post(record_lrps))
        .route("/v1/tasks", post(record_tasks))
        .with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), rec)
}

/// Polls `f` until it returns Some, for up to 10 s.
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 10s");
}

#[allow(unused_imports)] // not every test binary uses both
pub use testkit::control_plane::work::{desired_lrp, task_definition};

/// Runs `path` as vcap.
pub fn run_action(path: &str) -> models::Action {
    testkit::control_plane::work::run(path, &[])
}

pub fn error_type(e: &Option<models::Error>) -> Option<models::ErrorType> {
    e.as_ref()
        .map(|e| models::ErrorType::try_from(e.r#type).unwrap_or(models::ErrorType::UnknownError))
}

/// Decodes `bytes` as the response type of `path`; returns its error field.
pub fn response_error(
    path: &str,
    bytes: &[u8],
) -> Result<Option<models::Error>, prost::DecodeError> {
    use models::*;
    macro_rules! e {
        ($t:ty) => {
            <$t>::decode(bytes).map(|m| m.error)
        };
    }
    match path {
        "/v1/ping" => PingResponse::decode(bytes).map(|_| None),
        "/v1/domains/list" => e!(DomainsResponse),
        "/v1/domains/upsert" => e!(UpsertDomainResponse),
        "/v1/actual_lrps/list" => e!(ActualLrPsResponse),
        "/v1/actual_lrps/list_by_process_guids" => e!(ActualLrPsByProcessGuidsResponse),
        "/v1/actual_lrp_groups/list" | "/v1/actual_lrp_groups/list_by_process_guid" => {
            e!(ActualLrpGroupsResponse)
        }
        "/v1/actual_lrp_groups/get_by_process_guid_and_index" => e!(ActualLrpGroupResponse),
        "/v1/actual_lrps/claim"
        | "/v1/actual_lrps/start.r1"
        | "/v1/actual_lrps/start"
        | "/v1/actual_lrps/crash"
        | "/v1/actual_lrps/fail"
        | "/v1/actual_lrps/remove"
        | "/v1/actual_lrps/retire" => e!(ActualLrpLifecycleResponse),
        "/v1/actual_lrps/remove_evacuating" => e!(RemoveEvacuatingActualLrpResponse),
        "/v1/actual_lrps/evacuate_claimed"
        | "/v1/actual_lrps/evacuate_crashed"
        | "/v1/actual_lrps/evacuate_stopped"
        | "/v1/actual_lrps/evacuate_running.r1"
        | "/v1/actual_lrps/evacuate_running" => e!(EvacuationResponse),
        "/v1/desired_lrp_scheduling_infos/list" => e!(DesiredLrpSchedulingInfosResponse),
        "/v1/desired_lrp_scheduling_infos/get_by_process_guid" => {
            e!(DesiredLrpSchedulingInfoByProcessGuidResponse)
        }
        "/v1/desired_lrp_routing_infos/list"
        | "/v1/desired_lrps/list.r3"
        | "/v1/desired_lrps/list.r2" => {
            e!(DesiredLrPsResponse)
        }
        "/v1/desired_lrps/get_by_process_guid.r3" | "/v1/desired_lrps/get_by_process_guid.r2" => {
            e!(DesiredLrpResponse)
        }
        "/v1/desired_lrp/desire.r2" | "/v1/desired_lrp/update" | "/v1/desired_lrp/remove" => {
            e!(DesiredLrpLifecycleResponse)
        }
        "/v1/tasks/list.r3" | "/v1/tasks/list.r2" => e!(TasksResponse),
        "/v1/tasks/get_by_task_guid.r3" | "/v1/tasks/get_by_task_guid.r2" => e!(TaskResponse),
        "/v1/tasks/start" => e!(StartTaskResponse),
        "/v1/tasks/desire.r2"
        | "/v1/tasks/cancel"
        | "/v1/tasks/fail"
        | "/v1/tasks/reject"
        | "/v1/tasks/complete"
        | "/v1/tasks/resolving"
        | "/v1/tasks/delete" => e!(TaskLifecycleResponse),
        "/v1/cells/list.r1" => e!(CellsResponse),
        other => panic!("no response type for {other}"),
    }
}

/// Every POST route answering a protobuf message (not the event streams).
pub fn message_routes() -> Vec<&'static str> {
    bbs::handlers::ROUTES
        .iter()
        .filter(|r| r.method == "POST" && !r.path.starts_with("/v1/events"))
        .map(|r| r.path)
        .collect()
}

/// Routes that read no body (any bytes are fine).
pub fn bodyless_route(path: &str) -> bool {
    matches!(path, "/v1/ping" | "/v1/domains/list" | "/v1/cells/list.r1")
}
