//! What to start, and starting it: locket, the BBS, the auctioneer, then
//! the cells, each configured as its Diego job would be, on the listen IP
//! of choice (127.0.0.1 unless a test puts it on a bridge).

use auctioneer::config::{AuctioneerConfig, GoDuration};
use auctioneer::sim::{SimCell, SimCellConfig};
use bbs::config::BbsConfig;
use bbs::server::Overrides;
use bbs_client::{BbsClient, HttpBbsClient};
use locket::config::LocketConfig;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{ControlPlane, Pki, Store, KEY_LABEL, KEY_PASSPHRASE};
use crate::tls::TestCa;

type BbsTweak = Box<dyn FnOnce(&mut BbsConfig)>;

/// What [`ControlPlane::builder`] starts; see each setter.
pub struct Builder {
    store: Store,
    tls: bool,
    locket: bool,
    auctioneer: bool,
    listen_ip: IpAddr,
    converge_every: Option<Duration>,
    sim_cells: Vec<SimCellConfig>,
    houdini_cells: usize,
    dir: Option<tempfile::TempDir>,
    bbs_tweaks: Vec<BbsTweak>,
    overrides: Overrides,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            store: Store::Sqlite,
            tls: false,
            locket: false,
            auctioneer: false,
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            converge_every: None,
            sim_cells: Vec::new(),
            houdini_cells: 0,
            dir: None,
            bbs_tweaks: Vec::new(),
            overrides: Overrides::default(),
        }
    }
}

impl Builder {
    /// The BBS's (and locket's) store; SQLite by default.
    pub fn store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    /// Mutual TLS on the BBS and locket, and for everything calling them
    /// (the auctioneer, the reps, [`ControlPlane::bbs_client`]); the
    /// auctioneer serves mutual TLS too (the BBS requires it).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Locket, which the BBS then takes its lock from and lists its cells
    /// from (implied by the auctioneer and by cells).
    pub fn locket(mut self, on: bool) -> Self {
        self.locket = on;
        self
    }

    /// The auctioneer, which the BBS then sends its auctions to.
    pub fn auctioneer(mut self, on: bool) -> Self {
        self.auctioneer = on;
        self
    }

    /// Where every listener binds (port 0 each): 127.0.0.1 by default.
    pub fn listen_ip(mut self, ip: impl Into<IpAddr>) -> Self {
        self.listen_ip = ip.into();
        self
    }

    /// The BBS's convergence interval (Diego's default: 30 s).
    pub fn converge_every(mut self, every: Duration) -> Self {
        self.converge_every = Some(every);
        self
    }

    /// Simulated cells (the auctioneer crate's `SimCell`), given the BBS
    /// and locket, each registered before `start` returns. Plaintext only:
    /// a simulated cell speaks plain HTTP to the BBS.
    pub fn sim_cells(mut self, cells: Vec<SimCellConfig>) -> Self {
        self.sim_cells = cells;
        self
    }

    /// `n` reps on the houdini backend (host processes, no root), named
    /// `cell-1`... in zone `z1`, each registered before `start` returns.
    pub fn houdini_cells(mut self, n: usize) -> Self {
        self.houdini_cells = n;
        self
    }

    /// The directory to work in (which may hold a seeded `bbs.db`) instead
    /// of a fresh one.
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Changes the BBS's config after the builder made it.
    pub fn bbs_config(mut self, tweak: impl FnOnce(&mut BbsConfig) + 'static) -> Self {
        self.bbs_tweaks.push(Box::new(tweak));
        self
    }

    /// Replacement parts for the BBS (a store, clients).
    pub fn bbs_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    pub async fn start(self) -> ControlPlane {
        let dir = match self.dir {
            Some(d) => d,
            None => tempfile::tempdir().unwrap(),
        };
        let has_cells = !self.sim_cells.is_empty() || self.houdini_cells > 0;
        let with_locket = self.locket || self.auctioneer || has_cells;
        assert!(
            !self.tls || self.sim_cells.is_empty(),
            "simulated cells speak plain HTTP to the BBS: no TLS with sim_cells"
        );
        let ip = self.listen_ip;
        let any_port = std::net::SocketAddr::new(ip, 0).to_string();
        let pki = self.tls.then(|| pki(dir.path(), ip));

        let locket = match with_locket {
            true => {
                let (driver, conn) = database(self.store, dir.path(), "locket.db");
                let mut cfg = LocketConfig {
                    listen_address: any_port.clone(),
                    database_driver: driver.into(),
                    database_connection_string: conn,
                    ..Default::default()
                };
                if let Some(p) = &pki {
                    cfg.ca_file = p.server.ca_file.clone();
                    cfg.cert_file = p.server.cert_file.clone();
                    cfg.key_file = p.server.key_file.clone();
                }
                let running = super::start_locket_with(&cfg).await;
                cfg.listen_address = running.addr.to_string();
                Some((running, cfg))
            }
            false => None,
        };
        let (locket, locket_cfg) = match locket {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        let locket_addr = locket.as_ref().map(|l| l.addr.to_string());

        // The auctioneer's port is picked first: the BBS must know it.
        let auctioneer_addr = self.auctioneer.then(|| {
            std::net::TcpListener::bind(&any_port)
                .unwrap()
                .local_addr()
                .unwrap()
        });
        let (driver, conn) = database(self.store, dir.path(), "bbs.db");
        let mut bbs_cfg = BbsConfig {
            listen_address: any_port.clone(),
            health_address: any_port.clone(),
            database_driver: driver.into(),
            database_connection_string: conn,
            active_key_label: KEY_LABEL.into(),
            uuid: "bbs-0".into(),
            ..Default::default()
        };
        bbs_cfg
            .encryption_keys
            .insert(KEY_LABEL.into(), KEY_PASSPHRASE.into());
        if !with_locket {
            // A lone BBS gives up on its (absent) auctioneer and reps sooner.
            bbs_cfg.communication_timeout = bbs::config::GoDuration(Duration::from_secs(5));
        }
        if let Some(a) = auctioneer_addr {
            bbs_cfg.auctioneer_address = format!("http://{a}");
            // With TLS the auctioneer serves mutual TLS only, and the BBS
            // reaches it as Diego's does with `auctioneer_require_tls`.
            if let Some(p) = &pki {
                bbs_cfg.auctioneer_address = format!("https://{a}");
                bbs_cfg.auctioneer_ca_cert = p.client.ca_file.clone();
                bbs_cfg.auctioneer_client_cert = p.client.cert_file.clone();
                bbs_cfg.auctioneer_client_key = p.client.key_file.clone();
                bbs_cfg.auctioneer_require_tls = true;
            }
        }
        if let Some(addr) = &locket_addr {
            bbs_cfg.locket_address = addr.clone();
            bbs_cfg.lock_ttl = bbs::config::GoDuration(Duration::from_secs(5));
            bbs_cfg.lock_retry_interval = bbs::config::GoDuration(Duration::from_secs(2));
        }
        if let Some(every) = self.converge_every {
            bbs_cfg.converge_repeat_interval = bbs::config::GoDuration(every);
        }
        if let Some(p) = &pki {
            bbs_cfg.require_ssl = true;
            bbs_cfg.ca_file = p.server.ca_file.clone();
            bbs_cfg.cert_file = p.server.cert_file.clone();
            bbs_cfg.key_file = p.server.key_file.clone();
            if with_locket {
                bbs_cfg.locket_ca_cert_file = p.client.ca_file.clone();
                bbs_cfg.locket_client_cert_file = p.client.cert_file.clone();
                bbs_cfg.locket_client_key_file = p.client.key_file.clone();
            }
        }
        for tweak in self.bbs_tweaks {
            tweak(&mut bbs_cfg);
        }
        let bbs = tokio::time::timeout(
            Duration::from_secs(20),
            bbs::server::start(&bbs_cfg, self.overrides),
        )
        .await
        .expect("bbs takes its lock")
        .expect("bbs starts");
        let scheme = if pki.is_some() { "https" } else { "http" };
        let bbs_url = format!("{scheme}://{}", bbs.addr);

        let auctioneer = match auctioneer_addr {
            Some(addr) => {
                let mut cfg = AuctioneerConfig {
                    listen_address: addr.to_string(),
                    bbs_address: bbs_url.clone(),
                    locket_address: locket_addr.clone().unwrap(),
                    lock_ttl: GoDuration(Duration::from_secs(5)),
                    lock_retry_interval: GoDuration(Duration::from_secs(2)),
                    cell_state_timeout: GoDuration(Duration::from_secs(2)),
                    uuid: "auctioneer-0".into(),
                    ..Default::default()
                };
                if let Some(p) = &pki {
                    cfg.bbs_ca_cert_file = p.client.ca_file.clone();
                    cfg.bbs_client_cert_file = p.client.cert_file.clone();
                    cfg.bbs_client_key_file = p.client.key_file.clone();
                    cfg.locket_ca_cert_file = p.client.ca_file.clone();
                    cfg.locket_client_cert_file = p.client.cert_file.clone();
                    cfg.locket_client_key_file = p.client.key_file.clone();
                    cfg.ca_cert_file = p.server.ca_file.clone();
                    cfg.server_cert_file = p.server.cert_file.clone();
                    cfg.server_key_file = p.server.key_file.clone();
                }
                let a =
                    tokio::time::timeout(Duration::from_secs(20), auctioneer::server::start(&cfg))
                        .await
                        .expect("auctioneer takes its lock")
                        .expect("auctioneer starts");
                Some(a)
            }
            None => None,
        };

        let client_cfg = bbs_client::ClientConfig::new(&bbs_url)
            .with_request_timeout(Duration::from_secs(10))
            .with_tls(pki.as_ref().map(|p| p.client.client_tls()));
        let mut cp = ControlPlane {
            bbs_client: HttpBbsClient::new(&client_cfg).unwrap(),
            bbs_url,
            locket_addr,
            pki,
            bbs: Some(bbs),
            locket,
            locket_cfg,
            auctioneer,
            sim_cells: Vec::new(),
            reps: Vec::new(),
            dir,
        };

        for mut c in self.sim_cells {
            c.bbs_address = Some(cp.bbs_url.clone());
            c.locket = Some(cp.locket_client_config());
            let mut cell = SimCell::start(c).await.unwrap();
            cell.presence_registered().await.unwrap();
            cp.sim_cells.push(cell);
        }
        for i in 1..=self.houdini_cells {
            let cfg = cp.rep_config(&format!("cell-{i}"), "z1");
            let rep = cp.start_rep(&cfg).await;
            cp.reps.push(rep);
        }
        if has_cells {
            let n = cp.sim_cells.len() + cp.reps.len();
            crate::eventually("every cell in the BBS", 10, || async {
                (cp.bbs_client.cells().await.ok()?.len() == n).then_some(())
            })
            .await;
        }
        cp
    }
}

/// The driver and connection string for a store's database `file` (its
/// name in the directory with SQLite; a fresh database otherwise).
fn database(store: Store, dir: &std::path::Path, file: &str) -> (&'static str, String) {
    match store {
        Store::Sqlite => ("sqlite", dir.join(file).display().to_string()),
        Store::Postgres => (
            "postgres",
            crate::postgres::TestPostgres::shared().fresh_database_url(),
        ),
        Store::MySql => (
            "mysql",
            crate::mariadb::TestMariaDb::shared().fresh_database_url(),
        ),
    }
}

/// A CA; a server certificate for `ip` and localhost; a client one.
fn pki(dir: &std::path::Path, ip: IpAddr) -> Pki {
    let tls_dir = dir.join("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let ca = TestCa::new("diego-ca");
    let server = ca.issue("control-plane", &[&ip.to_string(), "localhost"]);
    let client = ca.issue("client", &["client"]);
    Pki {
        server: ca.write(&tls_dir, "server", &server),
        client: ca.write(&tls_dir, "client", &client),
        ca,
    }
}
