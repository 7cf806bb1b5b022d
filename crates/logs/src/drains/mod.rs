//! Syslog drains: an app's envelopes forwarded to the URLs bound to its
//! source id, as Loggregator's syslog agents forward them:
//! `syslog://host:port` (TCP), `syslog-tls://host:port` (TLS), both with
//! octet-counted RFC 5424 messages, and `https://...` (one message per
//! POST). `?drain-type=logs` (the default), `metrics` or `all` picks what
//! goes. Each drain has its own bounded queue and writer task: a slow or
//! dead drain drops (and counts) only its own messages, never holding up
//! ingress, the store or other drains.

pub mod rfc5424;

use logs_client::pb::{envelope::Message, Envelope};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Syslog,
    SyslogTls,
    Https,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DrainType {
    Logs,
    Metrics,
    All,
}

/// A parsed drain URL.
#[derive(Debug, Clone)]
struct Target {
    scheme: Scheme,
    /// `host:port` for syslog; the whole URL for https.
    address: String,
    host: String,
    kind: DrainType,
}

fn parse(url: &str) -> Result<Target, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("invalid drain URL {url:?}: {e}"))?;
    let scheme = match u.scheme() {
        "syslog" => Scheme::Syslog,
        "syslog-tls" => Scheme::SyslogTls,
        "https" => Scheme::Https,
        s => {
            return Err(format!(
                "invalid drain URL {url:?}: unsupported scheme {s:?} (want syslog, syslog-tls or https)"
            ))
        }
    };
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("invalid drain URL {url:?}: no host"))?
        .to_string();
    let kind = match u
        .query_pairs()
        .find(|(k, _)| k == "drain-type")
        .map(|(_, v)| v.into_owned())
        .as_deref()
    {
        None | Some("logs") => DrainType::Logs,
        Some("metrics") => DrainType::Metrics,
        Some("all") => DrainType::All,
        Some(other) => return Err(format!("invalid drain-type {other:?} in {url:?}")),
    };
    let address = match scheme {
        Scheme::Https => url.to_string(),
        _ => {
            let port = u
                .port()
                .ok_or_else(|| format!("invalid drain URL {url:?}: no port"))?;
            format!(
                "{}:{port}",
                host.trim_start_matches('[').trim_end_matches(']')
            )
        }
    };
    Ok(Target {
        scheme,
        address,
        host,
        kind,
    })
}

/// A drain's figures (`GET /v1/drains`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DrainStatus {
    pub source_id: String,
    pub url: String,
    pub sent: u64,
    pub dropped: u64,
    pub last_error: String,
}

struct Drain {
    url: String,
    target: Target,
    tx: mpsc::Sender<Arc<Envelope>>,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    dropped: AtomicU64,
    last_error: Mutex<String>,
}

impl Stats {
    fn failed(&self, url: &str, lost: u64, e: &str) {
        self.dropped.fetch_add(lost, Ordering::Relaxed);
        let mut last = self.last_error.lock().unwrap();
        if *last != e {
            tracing::warn!(drain = url, error = e, "syslog-drain-failed");
            *last = e.to_string();
        }
    }
}

/// Settings every drain shares.
#[derive(Clone)]
pub struct DrainSettings {
    pub buffer: usize,
    /// TLS for syslog-tls and https drains.
    pub tls: tlsconfig::ClientTls,
    /// The hostname of messages whose envelope names no org/space/app.
    pub hostname: String,
}

/// Who bound a drain: `diego bind-drain` (the component's own API) or the
/// app API's drain list (the app's environment), polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Bound,
    AppApi,
}

pub struct Drains {
    settings: DrainSettings,
    by_source: RwLock<HashMap<String, Vec<Drain>>>,
    /// The URLs each origin binds, per source; a source's drains are
    /// their union.
    bound: Mutex<HashMap<Origin, HashMap<String, Vec<String>>>>,
}

impl Drains {
    pub fn new(settings: DrainSettings) -> Self {
        Self {
            settings,
            by_source: RwLock::default(),
            bound: Mutex::default(),
        }
    }

    /// Replaces the drains `diego bind-drain` bound to `source_id`. Every
    /// URL is checked first: one bad URL changes nothing.
    pub fn set(&self, source_id: &str, urls: &[String]) -> Result<(), String> {
        for u in urls {
            parse(u)?;
        }
        let mut bound = self.bound.lock().unwrap();
        bound
            .entry(Origin::Bound)
            .or_default()
            .insert(source_id.to_string(), urls.to_vec());
        self.rebuild(&bound, source_id);
        Ok(())
    }

    /// Replaces everything `origin` binds with `by_source` (the app API's
    /// whole drain list). A URL no drain can take is left out (and
    /// logged); the others still bind.
    pub fn replace(&self, origin: Origin, by_source: HashMap<String, Vec<String>>) {
        let mut bound = self.bound.lock().unwrap();
        let mut by_source = by_source;
        for (source, urls) in by_source.iter_mut() {
            urls.retain(|u| match parse(u) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(source_id = %source, error = %e, "drain-url-refused");
                    false
                }
            });
        }
        let old = bound.insert(origin, by_source).unwrap_or_default();
        let mut touched: Vec<String> = old.into_keys().collect();
        touched.extend(bound[&origin].keys().cloned());
        touched.sort();
        touched.dedup();
        for source in touched {
            self.rebuild(&bound, &source);
        }
    }

    /// Brings the writers of `source_id` in line with what is bound (a
    /// URL bound before keeps its writer and figures).
    fn rebuild(&self, bound: &HashMap<Origin, HashMap<String, Vec<String>>>, source_id: &str) {
        let mut urls: Vec<&String> = bound
            .values()
            .filter_map(|m| m.get(source_id))
            .flatten()
            .collect();
        urls.sort();
        urls.dedup();
        let mut all = self.by_source.write().unwrap();
        let mut old = all.remove(source_id).unwrap_or_default();
        let mut new = Vec::new();
        for url in urls {
            match old.iter().position(|d| &d.url == url) {
                Some(i) => new.push(old.swap_remove(i)),
                None => {
                    if let Ok(target) = parse(url) {
                        new.push(self.start(url.clone(), target));
                    }
                }
            }
        }
        if !new.is_empty() {
            all.insert(source_id.to_string(), new);
        }
    }

    pub fn list(&self) -> Vec<DrainStatus> {
        let all = self.by_source.read().unwrap();
        let mut v: Vec<DrainStatus> = all
            .iter()
            .flat_map(|(source, drains)| {
                drains.iter().map(|d| DrainStatus {
                    source_id: source.clone(),
                    url: d.url.clone(),
                    sent: d.stats.sent.load(Ordering::Relaxed),
                    dropped: d.stats.dropped.load(Ordering::Relaxed),
                    last_error: d.stats.last_error.lock().unwrap().clone(),
                })
            })
            .collect();
        v.sort_by(|a, b| (&a.source_id, &a.url).cmp(&(&b.source_id, &b.url)));
        v
    }

    /// Hands the envelope to its source's drains; never waits.
    pub fn send(&self, env: &Arc<Envelope>) {
        let all = self.by_source.read().unwrap();
        let Some(drains) = all.get(&env.source_id) else {
            return;
        };
        let is_log = matches!(env.message, Some(Message::Log(_)));
        for d in drains {
            let wanted = match d.target.kind {
                DrainType::Logs => is_log,
                DrainType::Metrics => !is_log,
                DrainType::All => true,
            };
            if wanted && d.tx.try_send(env.clone()).is_err() {
                d.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn start(&self, url: String, target: Target) -> Drain {
        let (tx, rx) = mpsc::channel(self.settings.buffer.max(1));
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(write_forever(
            url.clone(),
            target.clone(),
            self.settings.clone(),
            rx,
            stats.clone(),
        ));
        Drain {
            url,
            target,
            tx,
            stats,
            task,
        }
    }
}

/// TLS to a drain: an outside service, not one of Diego's, so rustls's
/// default suites (ECDSA too, as Go's defaults), not Diego's internal
/// two-suite set; trusting the configured CA.
fn drain_tls(tls: &tlsconfig::ClientTls) -> Result<rustls::ClientConfig, tlsconfig::Error> {
    let roots = match &tls.ca {
        Some(ca) => tlsconfig::root_store(ca)?,
        None => rustls::RootCertStore::empty(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tlsconfig::Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

type Conn = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

async fn connect(t: &Target, s: &DrainSettings) -> Result<Conn, String> {
    let tcp = tokio::time::timeout(WRITE_TIMEOUT, tokio::net::TcpStream::connect(&t.address))
        .await
        .map_err(|_| format!("dial tcp {}: i/o timeout", t.address))?
        .map_err(|e| format!("dial tcp {}: {e}", t.address))?;
    let _ = tcp.set_nodelay(true);
    if t.scheme == Scheme::Syslog {
        return Ok(Box::new(tcp));
    }
    let cfg = drain_tls(&s.tls).map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(
        t.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| format!("invalid server name {}: {e}", t.host))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("tls handshake with {}: {e}", t.address))?;
    Ok(Box::new(tls))
}

async fn write_forever(
    url: String,
    target: Target,
    settings: DrainSettings,
    mut rx: mpsc::Receiver<Arc<Envelope>>,
    stats: Arc<Stats>,
) {
    if target.scheme == Scheme::Https {
        return post_forever(url, target, settings, rx, stats).await;
    }
    let mut backoff = Duration::from_millis(100);
    let mut conn: Option<Conn> = None;
    while let Some(env) = rx.recv().await {
        let msgs = rfc5424::messages(&env, &settings.hostname);
        if conn.is_none() {
            match connect(&target, &settings).await {
                Ok(c) => {
                    backoff = Duration::from_millis(100);
                    conn = Some(c);
                }
                Err(e) => {
                    stats.failed(&url, 1, &e);
                    // Messages meanwhile wait in the queue (or drop there).
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        let mut frame = Vec::new();
        for m in &msgs {
            frame.extend(rfc5424::octet_counted(m));
        }
        let wrote = tokio::time::timeout(WRITE_TIMEOUT, async {
            c.write_all(&frame).await?;
            c.flush().await
        })
        .await;
        match wrote {
            Ok(Ok(())) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                stats.failed(&url, 1, &format!("write to {}: {e}", target.address));
                conn = None;
            }
            Err(_) => {
                stats.failed(
                    &url,
                    1,
                    &format!("write to {}: i/o timeout", target.address),
                );
                conn = None;
            }
        }
    }
}

async fn post_forever(
    url: String,
    target: Target,
    settings: DrainSettings,
    mut rx: mpsc::Receiver<Arc<Envelope>>,
    stats: Arc<Stats>,
) {
    let http = match (cfhttp::Config {
        tls: Some(settings.tls.clone()),
        request_timeout: Some(WRITE_TIMEOUT),
        ..Default::default()
    })
    .client()
    {
        Ok(c) => c,
        Err(e) => {
            stats.failed(&url, 0, &e.to_string());
            // Nothing can be sent: count what arrives.
            while rx.recv().await.is_some() {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
    };
    let mut backoff = Duration::from_millis(100);
    while let Some(env) = rx.recv().await {
        for m in rfc5424::messages(&env, &settings.hostname) {
            let r = http
                .post(&target.address)
                .header("Content-Type", "text/plain")
                .body(m)
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => {
                    backoff = Duration::from_millis(100);
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(resp) => stats.failed(&url, 1, &format!("POST {url}: {}", resp.status())),
                Err(e) => {
                    stats.failed(&url, 1, &cfhttp::describe(&e, &url));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_urls_are_checked() {
        assert_eq!(
            parse("syslog://127.0.0.1:514").unwrap().address,
            "127.0.0.1:514"
        );
        assert_eq!(
            parse("syslog-tls://logs.example.com:6514?drain-type=all")
                .unwrap()
                .kind,
            DrainType::All
        );
        assert_eq!(
            parse("https://h.example.com/drain").unwrap().scheme,
            Scheme::Https
        );
        for bad in [
            "http://h:1",
            "syslog://h",
            "syslog://:5",
            "nonsense",
            "syslog://h:1?drain-type=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
