//! `bench bbs-api --local BACKEND`: starts what the run drives, so one
//! command measures ours: a throwaway database, locket and our BBS
//! (`diego bbs` serving mutual TLS with a CA made on the spot, as Diego's
//! is deployed), and holds a presence in locket for every simulated cell,
//! as their reps would: without them the BBS's converger would find every
//! instance on a missing cell and replace them all during the run. After the phases the BBS is restarted on the filled
//! database, to time its start (the LRP cache loads before the API opens)
//! and read its memory when idle.

use crate::bbs_load::processes::{self, free_port, Proc};
use crate::bbs_load::seed::register_cells;
use crate::bbs_load::stats::Recorder;
use crate::bbs_load::{store_env, Env};
use crate::convergence::Backend;
use anyhow::{bail, Context as _};
use bbs_client::{BbsClient, HttpBbsClient};
use locket::client::LockHandle;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tlsconfig::ClientTls;

pub struct LocalBbs {
    presences: Vec<LockHandle>,
    _env: Env,
    _locket: Proc,
    bbs: Option<Proc>,
    diego: PathBuf,
    dir: PathBuf,
    config: serde_json::Value,
    addr: String,
    pub url: String,
    pub tls: ClientTls,
}

impl LocalBbs {
    pub async fn start(
        backend: Backend,
        postgres_url: Option<&str>,
        diego_bin: Option<&Path>,
        lrp_cache: bool,
        cells: &[String],
    ) -> anyhow::Result<LocalBbs> {
        let diego = processes::diego_binary(diego_bin)?;
        let env = store_env(backend, postgres_url, None).await?;
        let dir = env.dir.clone();
        let ca = testkit::tls::TestCa::new("bench-ca");
        let server = ca.write(&dir, "bbs", &ca.issue("bbs", &["127.0.0.1"]));
        let client = ca.write(&dir, "client", &ca.issue("client", &[]));

        let (locket, locket_addr) =
            processes::spawn_locket(&diego, &dir, env.driver, &env.locket_url).await?;
        let presences = register_cells(&locket_addr, cells, &Recorder::default()).await?;
        let addr = format!("127.0.0.1:{}", free_port()?);
        let config = serde_json::json!({
            "listen_address": addr,
            "health_address": format!("127.0.0.1:{}", free_port()?),
            "require_ssl": true,
            "ca_file": server.ca_file,
            "cert_file": server.cert_file,
            "key_file": server.key_file,
            "database_driver": env.driver,
            "database_connection_string": env.bbs_url,
            "encryption_keys": {"bench": "a passphrase for the bench"},
            "active_key_label": "bench",
            "locket_address": locket_addr,
            "lrp_cache": lrp_cache,
        });
        let mut local = LocalBbs {
            url: format!("https://{addr}"),
            tls: client.client_tls(),
            presences,
            _env: env,
            _locket: locket,
            bbs: None,
            diego,
            dir,
            config,
            addr,
        };
        local.spawn().await?;
        Ok(local)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        // The cache's load line says where a start's time goes.
        let log = "warn,bbs::db::cache=info";
        let mut bbs = processes::spawn(&self.diego, "bbs", &self.dir, &self.config, log)?;
        processes::wait_listening(&mut bbs, &self.addr, Duration::from_secs(600)).await?;
        self.bbs = Some(bbs);
        Ok(())
    }

    /// The BBS's last "lrp cache loaded" log line (its timings), if any.
    pub fn cache_load_line(&self) -> Option<String> {
        let kept = self.bbs.as_ref()?.converger_lines.lock().unwrap();
        kept.iter()
            .rev()
            .find(|l| l.contains("lrp cache loaded"))
            .cloned()
    }

    /// Stops the BBS, then gives up the cells' presences while locket still
    /// runs (a presence outliving its locket would log failed releases).
    pub async fn stop(mut self) {
        if let Some(mut bbs) = self.bbs.take() {
            bbs.terminate(Duration::from_secs(30)).await;
        }
        futures::future::join_all(self.presences.drain(..).map(LockHandle::stop)).await;
    }

    pub fn pid(&self) -> Option<u32> {
        self.bbs.as_ref().map(Proc::pid)
    }

    /// Stops the BBS (SIGTERM) and starts it again; the time from the
    /// start until it answers `client`'s ping.
    pub async fn restart(&mut self, client: &HttpBbsClient) -> anyhow::Result<Duration> {
        if let Some(mut bbs) = self.bbs.take() {
            bbs.terminate(Duration::from_secs(30)).await;
        }
        let t = Instant::now();
        self.spawn().await?;
        while !client.ping().await {
            if t.elapsed() > Duration::from_secs(600) {
                bail!("the restarted BBS did not answer ping within 600 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let took = t.elapsed();
        self.bbs
            .as_mut()
            .context("the restarted BBS")?
            .exited()
            .map_or(Ok(took), |s| Err(anyhow::anyhow!("the BBS exited: {s}")))
    }
}
