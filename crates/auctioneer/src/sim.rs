//! Simulated cells for tests and benchmarks: in-process reps with instant
//! containers.
//!
//! Each [`SimCell`] serves the rep API on `127.0.0.1:0`:
//! - `GET /state`: its [`CellState`] from the containers it holds;
//! - `POST /work`: takes what fits (memory, disk, one container each) and
//!   answers 200 with the rest as failed work, like a real rep; with a BBS
//!   configured it then claims and starts each LRP instance
//!   (`ClaimActualLRP`, `StartActualLRP` with a fake net info) and starts
//!   each task (`StartTask`), as a rep whose containers start at once;
//! - `POST /v1/lrps/{process_guid}/instances/{instance_guid}/stop`: drops the
//!   container and removes the actual LRP (`RemoveActualLRP`), 202;
//! - `POST /v1/tasks/{task_guid}/cancel`: drops the task's container, 202;
//! - `GET /ping`: 200.
//!
//! With a locket address each cell keeps its presence (key = cell id,
//! value = Diego's `CellPresence` JSON) through a `PresenceRunner`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bbs_client::{HttpBbsClient, InternalBbsClient, RunningInfo};
use locket::client::{ClientLocketConfig, LockHandle, PresenceRunner};
use models::json::GoJson;
use models::rep::{CellState, Lrp, Resources, RootFsProvider, RootFsProviders, Task, Work};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// One simulated cell's description.
#[derive(Debug, Clone)]
pub struct SimCellConfig {
    pub cell_id: String,
    pub cell_index: i32,
    pub zone: String,
    pub capacity: Resources,
    pub root_fs_providers: RootFsProviders,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    pub volume_drivers: Vec<String>,
    /// Where to claim/start what the cell accepts; None: keep it local.
    pub bbs_address: Option<String>,
    /// Where to keep the cell's presence; None: no presence.
    pub locket: Option<ClientLocketConfig>,
    /// How long an instance takes between its claim and its start (a
    /// container being created); zero: at once.
    pub start_delay: Duration,
    /// How long the cell takes to answer for its state (a slow cell).
    pub state_delay: Duration,
    /// Whether the cell says it is evacuating.
    pub evacuating: bool,
}

impl SimCellConfig {
    /// A cell with `preloaded:cflinuxfs4` and `docker` rootfses.
    pub fn new(cell_id: &str, zone: &str, capacity: Resources) -> Self {
        let mut root_fs_providers = RootFsProviders::new();
        root_fs_providers.insert(
            "preloaded".into(),
            RootFsProvider::fixed_set(["cflinuxfs4"]),
        );
        root_fs_providers.insert("docker".into(), RootFsProvider::Arbitrary);
        Self {
            cell_id: cell_id.into(),
            cell_index: 0,
            zone: zone.into(),
            capacity,
            root_fs_providers,
            placement_tags: vec![],
            optional_placement_tags: vec![],
            volume_drivers: vec![],
            bbs_address: None,
            locket: None,
            start_delay: Duration::ZERO,
            state_delay: Duration::ZERO,
            evacuating: false,
        }
    }

    /// The cell's `CellPresence` as a rep registers it.
    pub fn presence(&self, rep_url: &str) -> models::CellPresence {
        let rootfs_providers = self
            .root_fs_providers
            .iter()
            .map(|(name, p)| models::Provider {
                name: name.clone(),
                properties: match p {
                    RootFsProvider::Arbitrary => vec![],
                    RootFsProvider::FixedSet(s) => s.iter().cloned().collect(),
                },
            })
            .collect();
        models::CellPresence {
            cell_id: self.cell_id.clone(),
            rep_address: rep_url.to_string(),
            zone: self.zone.clone(),
            capacity: Some(models::CellCapacity {
                memory_mb: self.capacity.memory_mb,
                disk_mb: self.capacity.disk_mb,
                containers: self.capacity.containers,
            }),
            rootfs_providers,
            placement_tags: self.placement_tags.clone(),
            optional_placement_tags: self.optional_placement_tags.clone(),
            rep_url: rep_url.to_string(),
            ..Default::default()
        }
    }
}

struct Inner {
    cfg: SimCellConfig,
    url: String,
    lrps: Vec<Lrp>,
    tasks: Vec<Task>,
    bbs: Option<HttpBbsClient>,
}

impl Inner {
    fn state(&self) -> CellState {
        let mut avail = self.cfg.capacity;
        for l in &self.lrps {
            avail.subtract(&l.resource);
        }
        for t in &self.tasks {
            avail.subtract(&t.resource);
        }
        CellState {
            rep_url: self.url.clone(),
            cell_id: self.cfg.cell_id.clone(),
            cell_index: self.cfg.cell_index,
            root_fs_providers: self.cfg.root_fs_providers.clone(),
            available_resources: avail,
            total_resources: self.cfg.capacity,
            lrps: self.lrps.clone(),
            tasks: self.tasks.clone(),
            starting_container_count: 0,
            zone: self.cfg.zone.clone(),
            evacuating: self.cfg.evacuating,
            volume_drivers: self.cfg.volume_drivers.clone(),
            placement_tags: self.cfg.placement_tags.clone(),
            optional_placement_tags: self.cfg.optional_placement_tags.clone(),
            proxy_memory_allocation_mb: 0,
        }
    }

    /// Takes what fits; returns the rest.
    fn accept(&mut self, work: Work) -> (Work, Vec<Lrp>, Vec<Task>) {
        let mut state = self.state();
        let mut failed = Work::default();
        let mut lrps = Vec::new();
        let mut tasks = Vec::new();
        for mut l in work.lrps {
            if state.resource_match(&l.resource).is_ok()
                && state.match_root_fs(&l.placement_constraint.root_fs)
            {
                state.available_resources.subtract(&l.resource);
                l.instance_guid = uuid::Uuid::new_v4().to_string();
                l.state = "CLAIMED".into();
                self.lrps.push(l.clone());
                lrps.push(l);
            } else {
                failed.lrps.push(l);
            }
        }
        for mut t in work.tasks {
            if state.resource_match(&t.resource).is_ok()
                && state.match_root_fs(&t.placement_constraint.root_fs)
            {
                state.available_resources.subtract(&t.resource);
                t.state = "Running".into();
                self.tasks.push(t.clone());
                tasks.push(t);
            } else {
                failed.tasks.push(t);
            }
        }
        (failed, lrps, tasks)
    }
}

type Shared = Arc<Mutex<Inner>>;

/// A running simulated cell.
pub struct SimCell {
    pub cell_id: String,
    pub url: String,
    inner: Shared,
    presence: Option<LockHandle>,
    /// What `restore_presence` registers again: the locket client and
    /// the presence resource (same key, value and owner).
    presence_spec: Option<(locket::client::LocketClient, locket::proto::Resource)>,
    server: JoinHandle<()>,
}

fn instance_key(cell_id: &str, l: &Lrp) -> models::ActualLrpInstanceKey {
    models::ActualLrpInstanceKey {
        instance_guid: l.instance_guid.clone(),
        cell_id: cell_id.to_string(),
    }
}

/// What every simulated instance starts with: a fake address, routable
/// (as an instance without readiness checks is).
fn sim_running() -> RunningInfo {
    RunningInfo {
        net_info: models::ActualLrpNetInfo {
            address: "127.0.0.1".into(),
            instance_address: "10.255.0.1".into(),
            ports: vec![models::PortMapping {
                container_port: 8080,
                host_port: 61000,
                ..Default::default()
            }],
            ..Default::default()
        },
        routable: true,
        ..Default::default()
    }
}

async fn run_lrp(inner: Shared, bbs: HttpBbsClient, cell_id: String, l: Lrp) {
    let key = l.actual_lrp_key();
    let ik = instance_key(&cell_id, &l);
    let delay = inner.lock().unwrap().cfg.start_delay;
    let outcome = async {
        bbs.claim_actual_lrp(&key, &ik).await?;
        tokio::time::sleep(delay).await;
        bbs.start_actual_lrp(&key, &ik, &sim_running()).await
    }
    .await;
    let mut g = inner.lock().unwrap();
    match outcome {
        Ok(()) => {
            if let Some(c) = g
                .lrps
                .iter_mut()
                .find(|c| c.instance_guid == l.instance_guid)
            {
                c.state = "RUNNING".into();
            }
        }
        Err(e) => {
            // Like a rep whose claim failed: drop the container.
            tracing::info!(lrp = %l.identifier(), error = %e, "sim-cell: claim/start failed");
            g.lrps.retain(|c| c.instance_guid != l.instance_guid);
        }
    }
}

async fn run_task(inner: Shared, bbs: HttpBbsClient, cell_id: String, t: Task) {
    match bbs.start_task(&t.task_guid, &cell_id).await {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            inner
                .lock()
                .unwrap()
                .tasks
                .retain(|c| c.task_guid != t.task_guid);
        }
    }
}

async fn state(State(inner): State<Shared>) -> Json<CellState> {
    let delay = inner.lock().unwrap().cfg.state_delay;
    tokio::time::sleep(delay).await;
    Json(inner.lock().unwrap().state())
}

async fn work(State(inner): State<Shared>, Json(w): Json<Work>) -> Json<Work> {
    let (failed, lrps, tasks, bbs, cell_id) = {
        let mut g = inner.lock().unwrap();
        let (f, l, t) = g.accept(w);
        (f, l, t, g.bbs.clone(), g.cfg.cell_id.clone())
    };
    if let Some(bbs) = bbs {
        for l in lrps {
            tokio::spawn(run_lrp(inner.clone(), bbs.clone(), cell_id.clone(), l));
        }
        for t in tasks {
            tokio::spawn(run_task(inner.clone(), bbs.clone(), cell_id.clone(), t));
        }
    }
    Json(failed)
}

async fn stop_lrp(
    State(inner): State<Shared>,
    Path((process_guid, instance_guid)): Path<(String, String)>,
) -> StatusCode {
    let (removed, bbs, cell_id) = {
        let mut g = inner.lock().unwrap();
        let pos = g
            .lrps
            .iter()
            .position(|l| l.process_guid == process_guid && l.instance_guid == instance_guid);
        let removed = pos.map(|p| g.lrps.remove(p));
        (removed, g.bbs.clone(), g.cfg.cell_id.clone())
    };
    if let (Some(l), Some(bbs)) = (removed, bbs) {
        tokio::spawn(async move {
            if let Err(e) = bbs
                .remove_actual_lrp(&l.actual_lrp_key(), &instance_key(&cell_id, &l))
                .await
            {
                tracing::info!(lrp = %l.identifier(), error = %e, "sim-cell: remove failed");
            }
        });
    }
    StatusCode::ACCEPTED
}

async fn cancel_task(State(inner): State<Shared>, Path(task_guid): Path<String>) -> StatusCode {
    inner
        .lock()
        .unwrap()
        .tasks
        .retain(|t| t.task_guid != task_guid);
    StatusCode::ACCEPTED
}

async fn ping() -> StatusCode {
    StatusCode::OK
}

impl SimCell {
    pub async fn start(cfg: SimCellConfig) -> anyhow::Result<SimCell> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let bbs = match &cfg.bbs_address {
            Some(a) => Some(HttpBbsClient::new(
                &bbs_client::ClientConfig::new(a).with_request_timeout(Duration::from_secs(10)),
            )?),
            None => None,
        };
        let presence_spec = match &cfg.locket {
            Some(lc) => {
                let client = locket::client::connect_lazy(lc)?;
                let value = cfg.presence(&url).to_go_json();
                let resource = locket::client::presence_resource(
                    &cfg.cell_id,
                    &uuid::Uuid::new_v4().to_string(),
                    &value,
                );
                Some((client, resource))
            }
            None => None,
        };
        let presence = presence_spec
            .clone()
            .map(|(client, resource)| PresenceRunner::new(client, resource).spawn());
        let inner = Arc::new(Mutex::new(Inner {
            url: url.clone(),
            cfg: cfg.clone(),
            lrps: vec![],
            tasks: vec![],
            bbs,
        }));
        let app = Router::new()
            .route("/state", get(state))
            .route("/work", post(work))
            .route(
                "/v1/lrps/{process_guid}/instances/{instance_guid}/stop",
                post(stop_lrp),
            )
            .route("/v1/tasks/{task_guid}/cancel", post(cancel_task))
            .route("/ping", get(ping))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SimCell {
            cell_id: cfg.cell_id,
            url,
            inner,
            presence,
            presence_spec,
            server,
        })
    }

    /// The cell's current state (as `GET /state` answers).
    pub fn state(&self) -> CellState {
        self.inner.lock().unwrap().state()
    }

    /// Waits until the presence is registered (no-op without locket).
    pub async fn presence_registered(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.presence.as_mut() {
            let mut rx = p.subscribe();
            rx.wait_for(|s| *s == locket::client::LockState::Held)
                .await?;
        }
        Ok(())
    }

    /// Stops keeping the presence (locket drops it after its TTL, as when
    /// a rep is cut off); the containers stay.
    pub async fn drop_presence(&mut self) {
        if let Some(p) = self.presence.take() {
            p.stop().await;
        }
    }

    /// Registers the presence again (a cut-off cell that came back).
    pub fn restore_presence(&mut self) {
        if self.presence.is_none() {
            if let Some((client, resource)) = self.presence_spec.clone() {
                self.presence = Some(PresenceRunner::new(client, resource).spawn());
            }
        }
    }

    /// Stops answering the rep API (connections are refused) while the
    /// presence stays: a registered cell whose rep is unreachable.
    pub fn stop_serving(&self) {
        self.server.abort();
    }

    /// The instance of `process_guid` at `index` exits: its container goes
    /// and the crash is reported (`CrashActualLRP`), as a rep does.
    pub async fn crash_lrp(
        &self,
        process_guid: &str,
        index: i32,
        reason: &str,
    ) -> anyhow::Result<()> {
        let (lrp, bbs, cell_id) = {
            let mut g = self.inner.lock().unwrap();
            let pos = g
                .lrps
                .iter()
                .position(|l| l.process_guid == process_guid && l.index == index)
                .ok_or_else(|| anyhow::anyhow!("no container for {process_guid}.{index}"))?;
            (g.lrps.remove(pos), g.bbs.clone(), g.cfg.cell_id.clone())
        };
        let bbs = bbs.ok_or_else(|| anyhow::anyhow!("no bbs configured"))?;
        bbs.crash_actual_lrp(&lrp.actual_lrp_key(), &instance_key(&cell_id, &lrp), reason)
            .await?;
        Ok(())
    }

    /// What a rep's bulk sync does for its running LRP containers: starts
    /// each one again in the BBS; a container the BBS refuses
    /// (ActualLRPCannotBeStarted: its index runs elsewhere now) is
    /// destroyed. Answers the instance guids destroyed.
    pub async fn sync_lrps(&self) -> Vec<String> {
        let (running, bbs, cell_id) = {
            let g = self.inner.lock().unwrap();
            let running: Vec<Lrp> = g
                .lrps
                .iter()
                .filter(|l| l.state == "RUNNING")
                .cloned()
                .collect();
            (running, g.bbs.clone(), g.cfg.cell_id.clone())
        };
        let Some(bbs) = bbs else { return vec![] };
        let mut destroyed = Vec::new();
        for l in running {
            let ik = instance_key(&cell_id, &l);
            let Err(e) = bbs
                .start_actual_lrp(&l.actual_lrp_key(), &ik, &sim_running())
                .await
            else {
                continue;
            };
            let refused = e.is(models::ErrorType::ActualLrpCannotBeStarted);
            if refused {
                self.inner
                    .lock()
                    .unwrap()
                    .lrps
                    .retain(|c| c.instance_guid != l.instance_guid);
                destroyed.push(l.instance_guid);
            } else {
                tracing::info!(lrp = %l.identifier(), error = %e, "sim-cell: sync start failed");
            }
        }
        destroyed
    }

    pub async fn stop(mut self) {
        self.server.abort();
        if let Some(p) = self.presence.take() {
            p.stop().await;
        }
    }
}
