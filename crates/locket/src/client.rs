//! The client side: connecting to a locket server and the two runners
//! Diego's components use.
//!
//! - [`LockRunner`]: takes a LOCK and keeps renewing it every retry
//!   interval. It reports `Held` once acquired; if a renewal fails after it
//!   was acquired (the lock expired and someone else took it, or the server
//!   could not be reached in time) it reports `Lost` and stops: the holder
//!   must stop its active work (Diego's bbs/auctioneer exit).
//! - [`PresenceRunner`]: asserts a PRESENCE every retry interval and never
//!   gives up: when an assertion fails it keeps retrying.
//!
//! Both release their resource when stopped with [`LockHandle::stop`].

use crate::proto::locket_client::LocketClient as GrpcClient;
use crate::proto::{LockRequest, ReleaseRequest, Resource, TypeCode};
use anyhow::Context as _;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A gRPC client of `models.Locket`.
pub type LocketClient = GrpcClient<Channel>;

/// How components find locket; Diego's `ClientLocketConfig` field names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClientLocketConfig {
    /// `host:port` (or a full `http(s)://` URI).
    pub locket_address: String,
    pub locket_ca_cert_file: String,
    pub locket_client_cert_file: String,
    pub locket_client_key_file: String,
}

impl ClientLocketConfig {
    /// Plaintext (no TLS) config for development and tests.
    pub fn insecure(addr: impl Into<String>) -> Self {
        ClientLocketConfig {
            locket_address: addr.into(),
            ..Default::default()
        }
    }

    fn tls(&self) -> bool {
        !self.locket_ca_cert_file.is_empty() || !self.locket_client_cert_file.is_empty()
    }

    fn endpoint(&self) -> anyhow::Result<Endpoint> {
        if self.locket_address.is_empty() {
            anyhow::bail!("invalid-locket-config: locket_address is empty");
        }
        let uri = if self.locket_address.contains("://") {
            self.locket_address.clone()
        } else if self.tls() {
            format!("https://{}", self.locket_address)
        } else {
            format!("http://{}", self.locket_address)
        };
        let mut ep = Endpoint::from_shared(uri)
            .context("invalid locket_address")?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        if self.tls() {
            let mut tls = ClientTlsConfig::new();
            if !self.locket_ca_cert_file.is_empty() {
                let ca = std::fs::read(&self.locket_ca_cert_file)
                    .with_context(|| format!("reading {}", self.locket_ca_cert_file))?;
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if !self.locket_client_cert_file.is_empty() {
                let cert = std::fs::read(&self.locket_client_cert_file)
                    .with_context(|| format!("reading {}", self.locket_client_cert_file))?;
                let key = std::fs::read(&self.locket_client_key_file)
                    .with_context(|| format!("reading {}", self.locket_client_key_file))?;
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            ep = ep.tls_config(tls).context("locket client TLS")?;
        }
        Ok(ep)
    }
}

/// Connects now (fails if the server cannot be reached within 10 s).
pub async fn connect(cfg: &ClientLocketConfig) -> anyhow::Result<LocketClient> {
    let ch = cfg
        .endpoint()?
        .connect()
        .await
        .with_context(|| format!("connecting to locket at {}", cfg.locket_address))?;
    Ok(GrpcClient::new(ch))
}

/// A client that connects on first use (and reconnects as needed).
pub fn connect_lazy(cfg: &ClientLocketConfig) -> anyhow::Result<LocketClient> {
    Ok(GrpcClient::new(cfg.endpoint()?.connect_lazy()))
}

#[allow(deprecated)]
fn resource(key: &str, owner: &str, value: &str, code: TypeCode, ty: &str) -> Resource {
    Resource {
        key: key.into(),
        owner: owner.into(),
        value: value.into(),
        r#type: ty.into(),
        type_code: code as i32,
    }
}

/// A LOCK resource (both type forms set, as Diego's clients send them).
pub fn lock_resource(key: &str, owner: &str, value: &str) -> Resource {
    resource(key, owner, value, TypeCode::Lock, crate::db::LOCK_TYPE)
}

/// A PRESENCE resource.
pub fn presence_resource(key: &str, owner: &str, value: &str) -> Resource {
    resource(
        key,
        owner,
        value,
        TypeCode::Presence,
        crate::db::PRESENCE_TYPE,
    )
}

/// Attaches Diego's per-request `uuid` metadata.
pub fn with_request_uuid<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(v) = uuid::Uuid::new_v4().to_string().parse() {
        req.metadata_mut().insert("uuid", v);
    }
    req
}

/// What a runner currently believes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Not held (yet, or again for a presence).
    Acquiring,
    /// The last Lock succeeded.
    Held,
    /// A LockRunner lost its lock and stopped (reason).
    Lost(String),
    /// Stopped by [`LockHandle::stop`] or [`LockHandle::abandon`].
    Stopped,
}

/// A LockRunner lost its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLost(pub String);

impl std::fmt::Display for LockLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lost lock: {}", self.0)
    }
}

impl std::error::Error for LockLost {}

#[derive(Clone)]
struct Runner {
    client: LocketClient,
    resource: Resource,
    ttl_in_seconds: i64,
    retry_interval: Duration,
    exit_on_lost: bool,
}

macro_rules! runner_builders {
    ($t:ident) => {
        impl $t {
            /// Lock TTL in seconds (Diego default 15).
            pub fn ttl_in_seconds(mut self, ttl: i64) -> Self {
                self.0.ttl_in_seconds = ttl;
                self
            }

            /// How often to (re)assert (Diego default 5 s).
            pub fn retry_interval(mut self, d: Duration) -> Self {
                self.0.retry_interval = d;
                self
            }

            /// The resource this runner asserts.
            pub fn resource(&self) -> &Resource {
                &self.0.resource
            }

            /// Starts the runner on the current tokio runtime.
            pub fn spawn(self) -> LockHandle {
                self.0.spawn()
            }
        }
    };
}

/// Holds a lock; see the module docs.
pub struct LockRunner(Runner);

/// Keeps a presence; see the module docs.
pub struct PresenceRunner(Runner);

impl LockRunner {
    /// A runner for `resource` with Diego's defaults (TTL 15 s, retry 5 s).
    pub fn new(client: LocketClient, resource: Resource) -> Self {
        LockRunner(Runner {
            client,
            resource,
            ttl_in_seconds: crate::DEFAULT_SESSION_TTL_SECONDS,
            retry_interval: crate::RETRY_INTERVAL,
            exit_on_lost: true,
        })
    }
}

impl PresenceRunner {
    /// A runner for `resource` with Diego's defaults (TTL 15 s, retry 5 s).
    pub fn new(client: LocketClient, resource: Resource) -> Self {
        PresenceRunner(Runner {
            client,
            resource,
            ttl_in_seconds: crate::DEFAULT_SESSION_TTL_SECONDS,
            retry_interval: crate::RETRY_INTERVAL,
            exit_on_lost: false,
        })
    }
}

runner_builders!(LockRunner);
runner_builders!(PresenceRunner);

/// Controls and observes a spawned runner.
pub struct LockHandle {
    state: watch::Receiver<LockState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), LockLost>>,
}

impl LockHandle {
    /// The current state.
    pub fn state(&self) -> LockState {
        self.state.borrow().clone()
    }

    pub fn is_held(&self) -> bool {
        *self.state.borrow() == LockState::Held
    }

    /// A receiver of state changes.
    pub fn subscribe(&self) -> watch::Receiver<LockState> {
        self.state.clone()
    }

    /// Waits until held. Err if the runner lost the lock or stopped first.
    pub async fn acquired(&mut self) -> Result<(), LockLost> {
        let s = self
            .state
            .wait_for(|s| !matches!(s, LockState::Acquiring))
            .await
            .map(|s| s.clone())
            .unwrap_or(LockState::Stopped);
        match s {
            LockState::Held => Ok(()),
            LockState::Lost(m) => Err(LockLost(m)),
            _ => Err(LockLost("runner stopped".into())),
        }
    }

    /// Waits until a LockRunner has lost its lock (never returns for a
    /// presence runner that keeps running). Returns the reason.
    pub async fn lost(&mut self) -> LockLost {
        let s = self
            .state
            .wait_for(|s| matches!(s, LockState::Lost(_) | LockState::Stopped))
            .await
            .map(|s| s.clone())
            .unwrap_or(LockState::Stopped);
        match s {
            LockState::Lost(m) => LockLost(m),
            _ => LockLost("runner stopped".into()),
        }
    }

    /// Stops the runner and releases the resource (if still held by us).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Stops the runner without releasing: the resource expires after its
    /// TTL (what a crash looks like to locket).
    pub fn abandon(self) {
        self.task.abort();
    }
}

impl Runner {
    fn spawn(self) -> LockHandle {
        let (state_tx, state_rx) = watch::channel(LockState::Acquiring);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(self.run(state_tx, stop_rx));
        LockHandle {
            state: state_rx,
            stop: Some(stop_tx),
            task,
        }
    }

    async fn attempt(&mut self) -> Result<(), tonic::Status> {
        let req = with_request_uuid(LockRequest {
            resource: Some(self.resource.clone()),
            ttl_in_seconds: self.ttl_in_seconds,
        });
        match tokio::time::timeout(self.retry_interval, self.client.lock(req)).await {
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(tonic::Status::deadline_exceeded("request timed out")),
        }
    }

    async fn run(
        mut self,
        state: watch::Sender<LockState>,
        mut stop: oneshot::Receiver<()>,
    ) -> Result<(), LockLost> {
        let key = self.resource.key.clone();
        let owner = self.resource.owner.clone();
        let mut acquired = false;
        loop {
            let outcome = tokio::select! {
                _ = &mut stop => None,
                r = self.attempt() => Some(r),
            };
            let Some(outcome) = outcome else { break };
            match outcome {
                Ok(()) => {
                    if !acquired {
                        tracing::info!(%key, %owner, "acquired-lock");
                        acquired = true;
                        state.send_replace(LockState::Held);
                    }
                }
                Err(status) => {
                    let collision = crate::LocketError::LockCollision.matches(&status);
                    if acquired {
                        tracing::error!(%key, %owner, code = ?status.code(), error = %status.message(), "lost-lock");
                        acquired = false;
                        if self.exit_on_lost {
                            let reason = format!("{:?}: {}", status.code(), status.message());
                            state.send_replace(LockState::Lost(reason.clone()));
                            return Err(LockLost(reason));
                        }
                        state.send_replace(LockState::Acquiring);
                    } else if !collision {
                        tracing::error!(%key, %owner, code = ?status.code(), error = %status.message(), "failed-to-acquire-lock");
                    }
                }
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(self.retry_interval) => {}
            }
        }
        // Stopped: report it first, so no observer sees two holders.
        state.send_replace(LockState::Stopped);
        let req = with_request_uuid(ReleaseRequest {
            resource: Some(self.resource.clone()),
        });
        match tokio::time::timeout(self.retry_interval, self.client.release(req)).await {
            Ok(Ok(_)) => tracing::info!(%key, %owner, "released-lock"),
            Ok(Err(e)) => {
                tracing::error!(%key, %owner, error = %e.message(), "failed-to-release-lock")
            }
            Err(_) => tracing::error!(%key, %owner, "failed-to-release-lock: timed out"),
        }
        Ok(())
    }
}
