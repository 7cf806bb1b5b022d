//! A real Diego control plane in the test process, for every end-to-end
//! test: the BBS on the store of choice, optionally locket (the same
//! store), the auctioneer and cells (simulated, or reps on the houdini
//! backend), plaintext or mutual TLS. Each part is started through its
//! crate's library entry point, as `diego <component>` starts it.
//!
//! ```text
//! let cp = ControlPlane::builder()
//!     .store(Store::Postgres)
//!     .tls(true)
//!     .auctioneer(true)
//!     .houdini_cells(2)
//!     .start()
//!     .await;
//! cp.desire_lrp(lrp).await;
//! let lrps = cp.bbs_client().actual_lrps(&filter).await?;
//! cp.shutdown().await; // or drop it
//! ```

mod builder;
mod cells;
mod solo_locket;
pub mod work;

pub use builder::Builder;
pub use solo_locket::{start_locket, start_locket_with};

use auctioneer::server::RunningAuctioneer;
use auctioneer::sim::SimCell;
use bbs::server::RunningBbs;
use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient};
use locket::client::ClientLocketConfig;
use locket::server::RunningLocket;
use std::path::Path;
use std::time::Duration;

use crate::tls::{TestCa, TlsFiles};

/// Where the BBS and locket keep their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Store {
    /// A file each in the control plane's temporary directory.
    #[default]
    Sqlite,
    /// A fresh database each on the binary's shared throwaway cluster
    /// ([`crate::postgres::TestPostgres::shared`]).
    Postgres,
    /// A fresh database each on the binary's shared throwaway MariaDB
    /// ([`crate::mariadb::TestMariaDb::shared`]).
    MySql,
}

/// The encryption key the BBS runs with (for tests seeding its store).
pub const KEY_LABEL: &str = "k1";
pub const KEY_PASSPHRASE: &str = "a test passphrase";

/// The mutual TLS material of a control plane started with `.tls(true)`:
/// one CA; the servers' certificate (for the listen IP and `localhost`)
/// and a client certificate, both written to files.
pub struct Pki {
    pub ca: TestCa,
    pub server: TlsFiles,
    pub client: TlsFiles,
}

/// A started control plane. [`ControlPlane::shutdown`] stops it in order
/// (auctioneer, cells, BBS, locket); dropped instead, it is told to stop
/// in the background and the test's runtime ends what is left.
pub struct ControlPlane {
    dir: tempfile::TempDir,
    bbs_url: String,
    bbs_client: HttpBbsClient,
    locket_addr: Option<String>,
    pki: Option<Pki>,
    bbs: Option<RunningBbs>,
    locket: Option<RunningLocket>,
    /// How locket was started, on its address (for a restart).
    locket_cfg: Option<locket::config::LocketConfig>,
    auctioneer: Option<RunningAuctioneer>,
    /// The simulated cells, in the order they were given.
    pub sim_cells: Vec<SimCell>,
    /// The houdini reps (`cell-1`... in zone `z1`), in order.
    pub reps: Vec<rep::Rep>,
}

impl ControlPlane {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The BBS's URL (`https://` with TLS).
    pub fn bbs_url(&self) -> &str {
        &self.bbs_url
    }

    /// The shared BBS client (10 s per request, Diego's retries; the
    /// client certificate with TLS).
    pub fn bbs_client(&self) -> &HttpBbsClient {
        &self.bbs_client
    }

    /// The config [`Self::bbs_client`] was made from, to make variants
    /// (`.with_retries(1)`, another timeout).
    pub fn bbs_client_config(&self) -> bbs_client::ClientConfig {
        let cfg = bbs_client::ClientConfig::new(&self.bbs_url)
            .with_request_timeout(Duration::from_secs(10));
        match &self.pki {
            Some(pki) => cfg.with_tls(Some(pki.client.client_tls())),
            None => cfg,
        }
    }

    /// Locket's `host:port`. Panics without locket.
    pub fn locket_addr(&self) -> &str {
        self.locket_addr.as_deref().expect("started without locket")
    }

    /// How a locket client reaches this locket (its client certificate
    /// with TLS). Panics without locket.
    pub fn locket_client_config(&self) -> ClientLocketConfig {
        let mut c = ClientLocketConfig::insecure(self.locket_addr());
        if let Some(pki) = &self.pki {
            c.locket_ca_cert_file = pki.client.ca_file.clone();
            c.locket_client_cert_file = pki.client.cert_file.clone();
            c.locket_client_key_file = pki.client.key_file.clone();
        }
        c
    }

    /// The TLS material (None: plaintext).
    pub fn pki(&self) -> Option<&Pki> {
        self.pki.as_ref()
    }

    /// The control plane's temporary directory (SQLite files, TLS files,
    /// the reps' depots); removed when the control plane is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn bbs(&self) -> &RunningBbs {
        self.bbs.as_ref().expect("bbs running")
    }

    /// Stops the BBS (releasing its lock); its URL stops answering.
    pub async fn stop_bbs(&mut self) {
        if let Some(b) = self.bbs.take() {
            b.shutdown().await;
        }
    }

    /// Stops locket, waits `down_for`, and starts it again on the same
    /// address and store: what its clients see of a locket restart.
    pub async fn restart_locket(&mut self, down_for: Duration) {
        let running = self.locket.take().expect("started without locket");
        running.shutdown().await;
        tokio::time::sleep(down_for).await;
        let cfg = self.locket_cfg.clone().expect("started without locket");
        self.locket = Some(start_locket_with(&cfg).await);
    }

    pub fn locket(&self) -> &RunningLocket {
        self.locket.as_ref().expect("started with locket")
    }

    /// Stops locket (what every lock and presence holder then loses).
    pub async fn stop_locket(&mut self) {
        if let Some(l) = self.locket.take() {
            l.shutdown().await;
        }
    }

    pub fn auctioneer(&self) -> &RunningAuctioneer {
        self.auctioneer
            .as_ref()
            .expect("started with the auctioneer")
    }

    /// The simulated cell `id`.
    pub fn sim_cell(&self, id: &str) -> &SimCell {
        self.sim_cells.iter().find(|c| c.cell_id == id).unwrap()
    }

    pub fn sim_cell_mut(&mut self, id: &str) -> &mut SimCell {
        self.sim_cells.iter_mut().find(|c| c.cell_id == id).unwrap()
    }

    // The calls below panic on a transport error or an error answer.

    pub async fn desire_lrp(&self, lrp: models::DesiredLrp) {
        let r = self.bbs_client.desire_lrp(lrp).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn remove_lrp(&self, guid: &str) {
        let r = self.bbs_client.remove_desired_lrp(guid).await;
        assert!(r.is_ok(), "{r:?}");
    }

    /// Sets the desired LRP's instance count.
    pub async fn scale(&self, process_guid: &str, instances: i32) {
        let update = models::DesiredLrpUpdate {
            optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
                instances,
            )),
            ..Default::default()
        };
        let r = self
            .bbs_client
            .update_desired_lrp(process_guid, update)
            .await;
        assert!(r.is_ok(), "{r:?}");
    }

    /// Desires a task in the domain `test-domain`.
    pub async fn desire_task(&self, guid: &str, def: models::TaskDefinition) {
        let r = self
            .bbs_client
            .desire_task(guid, "test-domain", Some(def))
            .await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn actual_lrps(&self, process_guid: &str) -> Vec<models::ActualLrp> {
        self.bbs_client
            .actual_lrps(&ActualLrpFilter::process(process_guid))
            .await
            .unwrap()
    }

    /// The cells registered in locket, as the BBS lists them.
    pub async fn cells(&self) -> Vec<models::CellPresence> {
        self.bbs_client.cells().await.unwrap()
    }

    /// Stops everything, in order: the auctioneer, the cells, the BBS,
    /// locket.
    pub async fn shutdown(mut self) {
        stop(self.take_parts()).await;
    }

    fn take_parts(&mut self) -> Parts {
        Parts {
            auctioneer: self.auctioneer.take(),
            sim_cells: std::mem::take(&mut self.sim_cells),
            reps: std::mem::take(&mut self.reps),
            bbs: self.bbs.take(),
            locket: self.locket.take(),
        }
    }
}

struct Parts {
    auctioneer: Option<RunningAuctioneer>,
    sim_cells: Vec<SimCell>,
    reps: Vec<rep::Rep>,
    bbs: Option<RunningBbs>,
    locket: Option<RunningLocket>,
}

async fn stop(p: Parts) {
    if let Some(a) = p.auctioneer {
        a.shutdown().await;
    }
    for c in p.sim_cells {
        c.stop().await;
    }
    for r in p.reps {
        r.shutdown().await;
    }
    if let Some(b) = p.bbs {
        b.shutdown().await;
    }
    if let Some(l) = p.locket {
        l.shutdown().await;
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let parts = self.take_parts();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(stop(parts));
        }
    }
}
