//! Garden's routes (garden's `routes/routes.go`) and their handlers
//! (`server/request_handling.go`), over a [`garden::Backend`].

use crate::error::WireError;
use crate::spec::to_backend_spec;
use crate::wire;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use garden::Backend;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub struct AppState {
    pub backend: Arc<dyn Backend>,
    /// The limits each container was created with, as given, so the limit
    /// reads answer them in Garden's form (our backends keep their own
    /// units). Containers made before this server started read as none.
    pub limits: Mutex<HashMap<String, wire::Limits>>,
    /// Processes run through the API (run, attach).
    pub processes: Arc<crate::processes::Processes>,
    /// Containers' grace times.
    pub bombs: Arc<crate::grace::Bombs>,
}

impl AppState {
    /// What the server keeps of a destroyed container goes too.
    fn forget(&self, handle: &str) {
        self.bombs.defuse(handle);
        self.limits.lock().unwrap().remove(handle);
        self.processes.forget(handle);
    }

    /// Destroys a container whose grace time ran out.
    pub async fn reap(&self, handle: &str) {
        match self.backend.destroy(handle).await {
            Ok(()) => tracing::info!(handle = %handle, "garden-reaped"),
            Err(garden::GardenError::ContainerNotFound(_)) => {}
            Err(e) => {
                tracing::warn!(handle = %handle, error = %e, "reaping an expired container failed");
                return;
            }
        }
        self.forget(handle);
    }
}

type Shared = State<Arc<AppState>>;
type Answer = Result<Response, WireError>;

/// Garden's responses: a JSON body ending in a newline (Go's json.Encoder).
pub fn json<T: Serialize>(value: &T) -> Response {
    let mut body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn ok<T: Serialize>(value: &T) -> Answer {
    Ok(json(value))
}

fn success() -> Answer {
    ok(&serde_json::json!({}))
}

/// Go's readRequest: a body that does not decode is a 500 with the error.
fn decode<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, WireError> {
    serde_json::from_slice(body).map_err(|e| WireError::message(e.to_string()))
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/capacity", get(capacity))
        .route("/containers", get(list).post(create))
        .route("/containers/bulk_info", get(bulk_info))
        .route("/containers/bulk_metrics", get(bulk_metrics))
        .route("/containers/{handle}", axum::routing::delete(destroy))
        .route("/containers/{handle}/info", get(info))
        .route("/containers/{handle}/metrics", get(metrics))
        .route(
            "/containers/{handle}/files",
            axum::routing::put(stream_in).get(stream_out),
        )
        .route("/containers/{handle}/properties", get(properties))
        .route(
            "/containers/{handle}/properties/{key}",
            get(property).put(set_property).delete(remove_property),
        )
        .route("/containers/{handle}/limits/{kind}", get(limits))
        .route("/containers/{handle}/net/in", post(net_after_create))
        .route("/containers/{handle}/net/out", post(net_after_create))
        .route("/containers/{handle}/net/out/bulk", post(net_after_create))
        .route("/containers/{handle}/stop", axum::routing::put(stop))
        .route(
            "/containers/{handle}/grace_time",
            axum::routing::put(set_grace_time),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), touch))
        .with_state(state)
}

/// A request naming a container holds its grace countdown while it is
/// served and restarts it after (Garden pauses its bomb the same way).
async fn touch(
    State(s): Shared,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let named = named_container(req.method(), req.uri().path());
    let _hold = named.map(|h| s.bombs.hold(&h));
    next.run(req).await
}

/// The container a request's path names: `/containers/H/...`, or
/// `DELETE /containers/H` (`/containers/bulk_info` names none).
pub fn named_container(method: &axum::http::Method, path: &str) -> Option<String> {
    let mut segs = path.strip_prefix("/containers/")?.split('/');
    let handle = segs.next().filter(|h| !h.is_empty())?;
    if segs.next().is_none() && method != axum::http::Method::DELETE {
        return None;
    }
    crate::hijack::percent_decode(handle)
}

async fn ping(State(s): Shared) -> Answer {
    s.backend.ping().await?;
    success()
}

async fn capacity(State(s): Shared) -> Answer {
    let c = s.backend.capacity().await?;
    ok(&wire::Capacity {
        memory_in_bytes: c.memory_bytes,
        disk_in_bytes: c.disk_bytes,
        schedulable_disk_in_bytes: c.disk_bytes,
        max_containers: c.max_containers,
    })
}

async fn list(State(s): Shared, Query(filter): Query<BTreeMap<String, String>>) -> Answer {
    let handles = s.backend.containers(&filter).await?;
    ok(&serde_json::json!({ "Handles": handles }))
}

async fn create(State(s): Shared, body: Bytes) -> Answer {
    let spec: wire::ContainerSpec = decode(&body)?;
    let limits = spec.limits.clone();
    let grace = crate::grace::from_go(spec.grace_time);
    let spec = to_backend_spec(spec)?;
    let handle = spec.handle.clone();
    tracing::info!(handle = %handle, image = %spec.image, "garden-create");
    s.backend.create(spec).await?;
    s.limits.lock().unwrap().insert(handle.clone(), limits);
    s.bombs.strap(&handle, grace);
    ok(&serde_json::json!({ "Handle": handle }))
}

async fn destroy(State(s): Shared, Path(handle): Path<String>) -> Answer {
    s.backend.destroy(&handle).await?;
    s.forget(&handle);
    tracing::info!(handle = %handle, "garden-destroyed");
    success()
}

fn info_wire(i: garden::ContainerInfo, process_ids: Vec<String>) -> wire::ContainerInfo {
    wire::ContainerInfo {
        state: i.state,
        events: i.events,
        host_ip: i.host_ip,
        container_ip: i.container_ip,
        container_ipv6: String::new(),
        external_ip: i.external_ip,
        container_path: String::new(),
        process_ids,
        properties: i.properties,
        mapped_ports: i
            .mapped_ports
            .into_iter()
            .map(|m| wire::PortMapping {
                host_port: m.host_port.into(),
                container_port: m.container_port.into(),
            })
            .collect(),
    }
}

fn metrics_wire(m: garden::ContainerMetrics) -> wire::Metrics {
    wire::Metrics {
        memory_stat: wire::MemoryStat {
            total_usage_toward_limit: m.memory_usage_bytes,
            rss: m.memory_usage_bytes,
        },
        cpu_stat: wire::CpuStat {
            usage: m.cpu_usage.as_nanos() as u64,
            user: 0,
            system: 0,
        },
        disk_stat: wire::DiskStat {
            total_bytes_used: m.disk_usage_bytes,
            total_inodes_used: 0,
            exclusive_bytes_used: m.disk_usage_bytes,
            exclusive_inodes_used: 0,
        },
        network_stat: match (m.rx_bytes, m.tx_bytes) {
            (Some(rx), Some(tx)) => Some(wire::NetworkStat {
                rx_bytes: rx,
                tx_bytes: tx,
            }),
            _ => None,
        },
        pid_stat: wire::PidStat { current: 0, max: 0 },
        age: 0,
        cpu_entitlement: 0,
    }
}

async fn info(State(s): Shared, Path(handle): Path<String>) -> Answer {
    let i = s.backend.info(&handle).await?;
    ok(&info_wire(i, s.processes.running(&handle)))
}

async fn metrics(State(s): Shared, Path(handle): Path<String>) -> Answer {
    ok(&metrics_wire(s.backend.metrics(&handle).await?))
}

/// `?handles=a,b` (Garden's splitHandles: none or empty, no handles).
fn handles_of(q: &HashMap<String, String>) -> Vec<String> {
    match q.get("handles").map(String::as_str) {
        None | Some("") => Vec::new(),
        Some(h) => h.split(',').map(str::to_string).collect(),
    }
}

async fn bulk_info(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Answer {
    let mut out = BTreeMap::new();
    for h in handles_of(&q) {
        let entry = match s.backend.info(&h).await {
            Ok(i) => wire::InfoEntry {
                info: Some(info_wire(i, s.processes.running(&h))),
                err: None,
            },
            Err(e) => wire::InfoEntry {
                info: None,
                err: Some(e.into()),
            },
        };
        out.insert(h, entry);
    }
    ok(&out)
}

async fn bulk_metrics(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Answer {
    let mut out = BTreeMap::new();
    for h in handles_of(&q) {
        let entry = match s.backend.metrics(&h).await {
            Ok(m) => wire::MetricsEntry {
                metrics: Some(metrics_wire(m)),
                err: None,
            },
            Err(e) => wire::MetricsEntry {
                metrics: None,
                err: Some(e.into()),
            },
        };
        out.insert(h, entry);
    }
    ok(&out)
}

async fn properties(State(s): Shared, Path(handle): Path<String>) -> Answer {
    ok(&s.backend.info(&handle).await?.properties)
}

async fn property(State(s): Shared, Path((handle, key)): Path<(String, String)>) -> Answer {
    let props = s.backend.info(&handle).await?.properties;
    match props.get(&key) {
        Some(v) => ok(&serde_json::json!({ "value": v })),
        None => Err(WireError::message(format!(
            "property does not exist: {key}"
        ))),
    }
}

#[derive(serde::Deserialize)]
struct SetPropertyBody {
    #[serde(default)]
    value: Option<String>,
}

async fn set_property(
    State(s): Shared,
    Path((handle, key)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let req: SetPropertyBody = decode(&body)?;
    s.backend
        .set_property(&handle, &key, Some(req.value.unwrap_or_default()))
        .await?;
    success()
}

async fn remove_property(State(s): Shared, Path((handle, key)): Path<(String, String)>) -> Answer {
    let props = s.backend.info(&handle).await?.properties;
    if !props.contains_key(&key) {
        return Err(WireError::message(format!(
            "property does not exist: {key}"
        )));
    }
    s.backend.set_property(&handle, &key, None).await?;
    success()
}

/// `limits/memory|cpu|disk|bandwidth`: the limits the container was
/// created with (our backends apply them; they cannot be changed after).
async fn limits(State(s): Shared, Path((handle, kind)): Path<(String, String)>) -> Answer {
    s.backend.info(&handle).await?;
    let l = s
        .limits
        .lock()
        .unwrap()
        .get(&handle)
        .cloned()
        .unwrap_or_default();
    match kind.as_str() {
        "memory" => ok(&l.memory_limits),
        "cpu" => ok(&l.cpu_limits),
        "disk" => ok(&l.disk_limits),
        "bandwidth" => ok(&l.bandwidth_limits),
        _ => Ok(axum::http::StatusCode::NOT_FOUND.into_response()),
    }
}

/// Our backends take port mappings and egress rules only in the create
/// spec (`netin`, `netout_rules`), as Diego's executor sends them; a later
/// change is refused in Garden's error form.
async fn net_after_create(State(s): Shared, Path(handle): Path<String>) -> Answer {
    s.backend.info(&handle).await?;
    Err(WireError::message(
        "net in/out after create is not supported by this garden: give netin and netout_rules \
         in the container spec",
    ))
}

/// `PUT /containers/:handle/files?destination=&user=`: a tar stream (the
/// request body, read as it comes) extracted into the container.
async fn stream_in(
    State(s): Shared,
    Path(handle): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Body,
) -> Answer {
    use futures::TryStreamExt;
    let dst = q.get("destination").cloned().unwrap_or_default();
    let user = q.get("user").cloned().unwrap_or_default();
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    s.backend
        .stream_in(&handle, &dst, &user, Box::new(reader))
        .await?;
    success()
}

/// `GET /containers/:handle/files?source=`: a tar of that path.
async fn stream_out(
    State(s): Shared,
    Path(handle): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let src = q.get("source").cloned().unwrap_or_default();
    let tar = s.backend.stream_out(&handle, &src).await?;
    Ok(([(CONTENT_TYPE, "application/x-tar")], tar).into_response())
}

/// Stop's body (garden's client: `{"kill":bool}`).
#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct StopRequest {
    pub kill: bool,
}

/// `PUT /containers/:handle/stop`: every process in the container ends
/// (SIGTERM, then SIGKILL after the backend's wait; at once with kill).
async fn stop(State(s): Shared, Path(handle): Path<String>, body: Bytes) -> Answer {
    let req: StopRequest = decode(&body)?;
    // Looked up first, as Garden: an unknown handle is ContainerNotFound
    // whatever the backend's stop supports.
    s.backend.info(&handle).await?;
    tracing::info!(handle = %handle, kill = req.kill, "garden-stop");
    s.backend.stop(&handle, req.kill).await?;
    tracing::info!(handle = %handle, "garden-stopped");
    success()
}

/// `PUT /containers/:handle/grace_time`: the body is a Go time.Duration
/// (a JSON number of nanoseconds); the countdown restarts with it.
/// (Garden's own server expires the container at once for 0 when its
/// countdown is running; here 0 means never, as at create.)
async fn set_grace_time(State(s): Shared, Path(handle): Path<String>, body: Bytes) -> Answer {
    let nanos: i64 = decode(&body)?;
    s.backend.info(&handle).await?;
    let grace = crate::grace::from_go(nanos);
    if s.bombs.grace_time(&handle).is_some() {
        s.bombs.reset(&handle, grace);
    } else {
        // Made before this server started: it has a bomb from now on.
        s.bombs.strap(&handle, grace);
    }
    success()
}

#[cfg(test)]
mod request_tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn stop_bodies_decode_as_gardens_client_sends_them() {
        let r: StopRequest = decode(br#"{"kill":true}"#).unwrap();
        assert_eq!(r, StopRequest { kill: true });
        let r: StopRequest = decode(br#"{"kill":false}"#).unwrap();
        assert_eq!(r, StopRequest { kill: false });
        let r: StopRequest = decode(b"{}").unwrap();
        assert_eq!(r, StopRequest { kill: false });
        assert!(decode::<StopRequest>(br#"{"kill":"yes"}"#).is_err());
    }

    #[test]
    fn grace_times_decode_as_go_durations() {
        assert_eq!(decode::<i64>(b"30000000000").unwrap(), 30_000_000_000);
        assert_eq!(decode::<i64>(b"0\n").unwrap(), 0);
        assert!(decode::<i64>(br#""30s""#).is_err());
    }

    #[test]
    fn requests_naming_a_container() {
        let get = Method::GET;
        let name = |m: &Method, p: &str| named_container(m, p);
        assert_eq!(name(&get, "/containers/a/info"), Some("a".into()));
        assert_eq!(
            name(&Method::PUT, "/containers/a%20b/stop"),
            Some("a b".into())
        );
        assert_eq!(name(&Method::DELETE, "/containers/a"), Some("a".into()));
        assert_eq!(name(&get, "/containers/bulk_info"), None);
        assert_eq!(name(&get, "/containers"), None);
        assert_eq!(name(&get, "/ping"), None);
    }
}
