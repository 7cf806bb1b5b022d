//! Starting and stopping the components of `diego dev`.

use super::nats::NatsServer;
use super::{cell, stack, DataDir, DevAddresses, DevOptions};
use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;

/// How long a component may take to start (the bbs and the auctioneer wait
/// for their locks, which a fresh locket grants at once).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The system running in this process.
pub struct DevSystem {
    pub locket: locket::server::RunningLocket,
    pub bbs: bbs::server::RunningBbs,
    pub auctioneer: auctioneer::server::RunningAuctioneer,
    pub file_server: file_server::Running,
    /// The app lifecycle API.
    pub api: api::RunningApi,
    file_server_stop: tokio::sync::oneshot::Sender<()>,
    pub logs: logs::RunningLogs,
    pub cell: Option<DevCell>,
    /// `--cells N`'s cells beyond the first, each in a network namespace.
    pub extra_cells: Vec<super::extra_cells::ExtraCell>,
    /// Routing (None when nats-server is not installed).
    pub routing: Option<DevRouting>,
    /// What the system could not start, and why (printed to the operator).
    pub notes: Vec<String>,
}

/// The cell: a rep running until its stop signal (it then evacuates).
pub struct DevCell {
    pub addr: SocketAddr,
    pub backend: &'static str,
    /// The stacks it offers (`preloaded:NAME`).
    pub stacks: Vec<String>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub struct DevRouting {
    pub nats: NatsServer,
    pub route_emitter: route_emitter::RunningEmitter,
    pub router: router::RunningRouter,
}

impl DevSystem {
    /// The system with the busybox stack only.
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn start(data: &DataDir, addrs: &DevAddresses) -> anyhow::Result<Self> {
        Self::start_with(data, addrs, DevOptions::default()).await
    }

    pub async fn start_with(
        data: &DataDir,
        addrs: &DevAddresses,
        options: DevOptions,
    ) -> anyhow::Result<Self> {
        let locket = locket::server::start(
            &locket::config::LocketConfig {
                listen_address: addrs.locket.to_string(),
                database_driver: "sqlite".into(),
                database_connection_string: data.locket_db().display().to_string(),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .context("starting locket")?;
        let locket_address = locket.addr.to_string();

        // The bbs must know the auctioneer's address before the auctioneer
        // (which needs the bbs) runs: reserve it first when it is port 0.
        let auctioneer_addr = reserve(addrs.auctioneer)?;

        let key = data.encryption_key()?;
        let mut bbs_cfg = bbs::config::BbsConfig {
            listen_address: addrs.bbs.to_string(),
            health_address: addrs.bbs_health.to_string(),
            database_driver: "sqlite".into(),
            database_connection_string: data.bbs_db().display().to_string(),
            active_key_label: "dev".into(),
            auctioneer_address: format!("http://{auctioneer_addr}"),
            locket_address: locket_address.clone(),
            session_name: "bbs".into(),
            // A few LRPs converge in no time: instances lost with a
            // restart come back in seconds rather than Diego's 30.
            converge_repeat_interval: bbs::config::GoDuration(std::time::Duration::from_secs(5)),
            ..Default::default()
        };
        bbs_cfg.encryption_keys.insert("dev".into(), key);
        let bbs = timed(
            "bbs",
            bbs::server::start(&bbs_cfg, bbs::server::Overrides::default()),
        )
        .await?;
        let bbs_url = format!("http://{}", bbs.addr);

        let auctioneer = timed(
            "auctioneer",
            auctioneer::server::start(&auctioneer::AuctioneerConfig {
                listen_address: auctioneer_addr.to_string(),
                bbs_address: bbs_url.clone(),
                locket_address: locket_address.clone(),
                ..Default::default()
            }),
        )
        .await?;
        let mut notes = Vec::new();

        let (file_server_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let file_server = file_server::start(
            &file_server::FileServerConfig {
                server_address: addrs.file_server.to_string(),
                static_directory: data.static_dir().display().to_string(),
                ..Default::default()
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await
        .context("starting the file server")?;

        // The log component polls the API's drain list, the API sends its
        // lines to the component: the API's address is fixed first.
        let api_addr = reserve(addrs.api)?;
        let logs = logs::start(&logs::LogsConfig {
            ingress_address: addrs.logs_ingress.to_string(),
            api_address: addrs.logs_api.to_string(),
            bindings_api_url: format!("http://{api_addr}"),
            bindings_polling_interval: models::go_duration::GoDuration(Duration::from_secs(2)),
            ..Default::default()
        })
        .await
        .context("starting the log component")?;

        let stacks = if options.cflinuxfs4 {
            dev_stacks(data, &mut notes).await
        } else {
            Vec::new()
        };
        let api = api::start(&api::ApiConfig {
            listen_address: api_addr.to_string(),
            logs_ingress_address: logs.ingress_addr.to_string(),
            logs_api_url: format!("http://{}", logs.api_addr),
            database_driver: "sqlite".into(),
            database_connection_string: data.api_db().display().to_string(),
            blobstore_directory: data.api_blobs().display().to_string(),
            bbs_address: bbs_url.clone(),
            token_file: data.api_token().display().to_string(),
            // Buildpack apps stage on cflinuxfs4 when the cell offers it;
            // on busybox (no lifecycle) packages run as they are.
            default_stack: if stacks.is_empty() {
                cell::STACK.into()
            } else {
                stack::STACK.into()
            },
            file_server_url: format!("http://{}", file_server.addr),
            ..Default::default()
        })
        .await
        .context("starting the api")?;

        let mut rootfs = Vec::new();
        let cell = match start_cell(
            data,
            addrs.rep,
            &bbs_url,
            &locket_address,
            stacks,
            logs.ingress_addr,
            &mut rootfs,
        )
        .await
        {
            Ok((cell, why)) => {
                notes.push(format!("cell: {why}"));
                Some(cell)
            }
            Err(e) => {
                notes.push(format!("cell: not started: {e:#}"));
                None
            }
        };
        let extra_cells = match options.cells.saturating_sub(1) {
            0 => Vec::new(),
            _ if cell.as_ref().is_none_or(|c| c.backend != "runc") => {
                notes.push("cells: only one (more cells need runc containers, as root)".into());
                Vec::new()
            }
            extra => {
                let spec = super::extra_cells::CellSpec {
                    data,
                    rootfs: &rootfs,
                    bbs_url: &bbs_url,
                    locket_address: &locket_address,
                    logs_ingress: logs.ingress_addr,
                    forwarded: vec![
                        bbs.addr,
                        locket.addr,
                        file_server.addr,
                        api.addr,
                        logs.ingress_addr,
                    ],
                };
                super::extra_cells::start(spec, extra)
                    .await
                    .context("starting the extra cells")?
            }
        };
        let routing =
            match start_routing(addrs, &bbs_url, &locket_address, logs.ingress_addr).await? {
                Some(r) => Some(r),
                None => {
                    notes.push("routing: not started: nats-server is not installed".into());
                    None
                }
            };

        Ok(Self {
            locket,
            bbs,
            auctioneer,
            file_server,
            file_server_stop,
            api,
            logs,
            cell,
            extra_cells,
            routing,
            notes,
        })
    }

    /// One line per component: what it is and where it listens.
    pub fn listening(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("locket", self.locket.addr.to_string()),
            ("bbs", format!("http://{}", self.bbs.addr)),
            (
                "bbs /metrics",
                format!("http://{}/metrics", self.bbs.health_addr),
            ),
            ("auctioneer", format!("http://{}", self.auctioneer.addr)),
            (
                "file-server",
                format!(
                    "http://{}{}/",
                    self.file_server.addr,
                    file_server::STATIC_ROUTE
                ),
            ),
            ("api", format!("http://{}", self.api.addr)),
        ];
        v.push(("logs", format!("http://{}", self.logs.api_addr)));
        v.push(("logs ingress", format!("{} (gRPC)", self.logs.ingress_addr)));
        if let Some(c) = &self.cell {
            if self.extra_cells.is_empty() {
                v.push(("rep", format!("http://{} ({})", c.addr, c.backend)));
            } else {
                let first = format!("http://{} ({}, {}, z1)", c.addr, c.backend, cell::CELL_ID);
                v.push(("rep", first));
            }
            for x in &self.extra_cells {
                v.push((
                    "rep",
                    format!("{} (runc, {}, {})", x.url, x.cell_id, x.zone),
                ));
            }
            let stacks: Vec<String> = c.stacks.iter().map(|s| format!("preloaded:{s}")).collect();
            v.push(("stacks", stacks.join(", ")));
        }
        if let Some(r) = &self.routing {
            v.push(("nats", format!("nats://{}", r.nats.addr)));
            v.push((
                "router",
                format!("http://APP.localhost:{}", r.router.addr.port()),
            ));
        }
        v
    }

    /// Stops the components in reverse order of their start.
    pub async fn shutdown(self) {
        // The cells leave one by one below: nothing for the converger to
        // replace (its start requests would find the auctioneer gone).
        self.bbs.converger.pause();
        if let Some(r) = self.routing {
            r.router.stop().await;
            let _ = r.route_emitter.stop().await;
            r.nats.stop().await;
        }
        // One after the other, each handing its instances to the cells
        // still up; the first cell goes last.
        super::extra_cells::stop_all(self.extra_cells).await;
        if let Some(c) = self.cell {
            // The rep evacuates (bounded by its evacuation_timeout), then
            // deletes its containers.
            let _ = c.stop.send(());
            match c.task.await {
                Ok(Err(e)) => {
                    tracing::warn!(error = %format!("{e:#}"), "rep stopped with an error")
                }
                Err(e) => tracing::warn!(error = %e, "rep task failed"),
                Ok(Ok(())) => {}
            }
        }
        self.api.shutdown().await;
        self.logs.stop().await;
        let _ = self.file_server_stop.send(());
        let _ = self.file_server.task.await;
        self.auctioneer.shutdown().await;
        self.bbs.shutdown().await;
        self.locket.shutdown().await;
    }
}

/// cflinuxfs4 (built on first run) and the published lifecycle and
/// buildpacks, when the cell runs real containers; notes say what is not.
async fn dev_stacks(data: &DataDir, notes: &mut Vec<String>) -> Vec<(String, std::path::PathBuf)> {
    if cell::container_backend().0 != "runc" {
        notes.push(format!(
            "stack {}: not offered (a rootfs needs runc containers)",
            stack::STACK
        ));
        return Vec::new();
    }
    let mut stacks = Vec::new();
    match stack::cflinuxfs4().await {
        Ok(dir) => stacks.push((stack::STACK.to_string(), dir)),
        Err(e) => notes.push(format!("stack {}: not offered: {e}", stack::STACK)),
    }
    notes.extend(stack::publish(data).await);
    stacks
}

async fn start_cell(
    data: &DataDir,
    addr: SocketAddr,
    bbs_url: &str,
    locket_address: &str,
    stacks: Vec<(String, std::path::PathBuf)>,
    logs_ingress: SocketAddr,
    offered: &mut Vec<(String, std::path::PathBuf)>,
) -> anyhow::Result<(DevCell, String)> {
    let (backend, why) = cell::container_backend();
    let rootfs = cell::busybox_rootfs(data)?;
    let addr = reserve(addr)?;
    let mut rootfs = vec![(cell::STACK.to_string(), rootfs)];
    rootfs.extend(stacks);
    offered.clone_from(&rootfs);
    let stack_names = rootfs.iter().map(|(n, _)| n.clone()).collect();
    let cfg = cell::rep_config(
        data,
        addr,
        bbs_url,
        locket_address,
        backend,
        &rootfs,
        Some(logs_ingress),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(rep::run(cfg, async move {
        let _ = stopped.await;
    }));
    // The rep is up once it answers its ping.
    let rep_client = rep_client::RepClientFactory::new(&Default::default())?
        .client_at(&format!("http://{addr}"));
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        if task.is_finished() {
            return Err(match task.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => anyhow::anyhow!("the rep exited at once"),
                Err(e) => anyhow::anyhow!("the rep task failed: {e}"),
            });
        }
        if rep_client.ping().await.is_ok() {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the rep did not answer {}/ping within {START_TIMEOUT:?}",
            rep_client.url()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((
        DevCell {
            addr,
            backend,
            stacks: stack_names,
            stop,
            task,
        },
        why,
    ))
}

async fn start_routing(
    addrs: &DevAddresses,
    bbs_url: &str,
    locket_address: &str,
    logs_ingress: SocketAddr,
) -> anyhow::Result<Option<DevRouting>> {
    let Some(nats) = NatsServer::start(addrs.nats).await? else {
        return Ok(None);
    };
    let router = router::start(router::RouterConfig {
        listen_address: addrs.router.to_string(),
        nats_addresses: nats.addr.to_string(),
        // RTR lines of apps' requests into their logs.
        logs_ingress_address: logs_ingress.to_string(),
        ..Default::default()
    })
    .await
    .context("starting the router")?;
    let mut re = route_emitter::RouteEmitterConfig {
        bbs_address: bbs_url.into(),
        nats_addresses: nats.addr.to_string(),
        ..Default::default()
    };
    re.locket.locket_address = locket_address.into();
    let route_emitter = timed("route-emitter", route_emitter::start(re)).await?;
    Ok(Some(DevRouting {
        nats,
        route_emitter,
        router,
    }))
}

/// `addr` itself, or a free loopback port when it is port 0.
fn reserve(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let l = std::net::TcpListener::bind(addr)?;
    Ok(l.local_addr()?)
}

async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(START_TIMEOUT, f)
        .await
        .map_err(|_| anyhow::anyhow!("{what} did not start within {START_TIMEOUT:?}"))?
        .with_context(|| format!("starting {what}"))
}
