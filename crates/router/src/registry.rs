//! The route table: hostname → endpoints, picked round-robin. An endpoint
//! not re-registered within the stale threshold is pruned; an unregister
//! drops it at once. An endpoint that just failed is passed over for a
//! while (gorouter's 30 s), unless every endpoint has failed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Endpoint {
    addr: String,
    app: AppInstance,
    refreshed: Instant,
    failed_at: Option<Instant>,
}

/// How long a failed endpoint is passed over (gorouter's retry-after-failure).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

impl Endpoint {
    fn recently_failed(&self) -> bool {
        self.failed_at
            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE)
    }
}

/// Whose instance an endpoint is (the registration's `app`,
/// `private_instance_index`, `private_instance_id`): the access log's
/// `RTR` line goes to that app's logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppInstance {
    pub app_id: String,
    pub index: String,
    pub instance_id: String,
}

/// A picked endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    pub addr: String,
    pub app: AppInstance,
}

#[derive(Debug, Default)]
struct Pool {
    endpoints: Vec<Endpoint>,
    next: usize,
}

#[derive(Debug, Default)]
pub struct Registry {
    pools: Mutex<HashMap<String, Pool>>,
}

/// Hostnames match case-insensitively; a URI's path part is not routed on.
fn normalize(uri: &str) -> String {
    uri.split('/').next().unwrap_or("").to_ascii_lowercase()
}

impl Registry {
    pub fn register(&self, uri: &str, addr: &str) {
        self.register_instance(uri, addr, AppInstance::default());
    }

    /// Registers (or refreshes) an endpoint of `app`'s instance.
    pub fn register_instance(&self, uri: &str, addr: &str, app: AppInstance) {
        let mut pools = self.pools.lock().unwrap();
        let pool = pools.entry(normalize(uri)).or_default();
        match pool.endpoints.iter_mut().find(|e| e.addr == addr) {
            Some(e) => {
                e.refreshed = Instant::now();
                // A new instance on the same address has not failed.
                if e.app != app {
                    e.failed_at = None;
                }
                e.app = app;
            }
            None => pool.endpoints.push(Endpoint {
                addr: addr.to_string(),
                app,
                refreshed: Instant::now(),
                failed_at: None,
            }),
        }
    }

    pub fn unregister(&self, uri: &str, addr: &str) {
        let mut pools = self.pools.lock().unwrap();
        let key = normalize(uri);
        if let Some(pool) = pools.get_mut(&key) {
            pool.endpoints.retain(|e| e.addr != addr);
            if pool.endpoints.is_empty() {
                pools.remove(&key);
            }
        }
    }

    /// The next endpoint of `host` other than `exclude`, round-robin.
    pub fn next(&self, host: &str, exclude: Option<&str>) -> Option<String> {
        let tried: Vec<&str> = exclude.into_iter().collect();
        self.pick(host, &tried).map(|p| p.addr)
    }

    /// The next endpoint of `host` not in `tried`, with its app: one that
    /// has not failed lately if there is one.
    pub fn pick(&self, host: &str, tried: &[&str]) -> Option<Picked> {
        let mut pools = self.pools.lock().unwrap();
        let pool = pools.get_mut(&host.to_ascii_lowercase())?;
        let n = pool.endpoints.len();
        for skip_failed in [true, false] {
            for step in 0..n {
                let i = pool.next.wrapping_add(step) % n;
                let e = &pool.endpoints[i];
                if tried.contains(&e.addr.as_str()) || (skip_failed && e.recently_failed()) {
                    continue;
                }
                pool.next = i.wrapping_add(1);
                return Some(Picked {
                    addr: e.addr.clone(),
                    app: e.app.clone(),
                });
            }
        }
        None
    }

    /// Notes that `addr` failed to handle a request for `host`.
    pub fn endpoint_failed(&self, host: &str, addr: &str) {
        let mut pools = self.pools.lock().unwrap();
        if let Some(pool) = pools.get_mut(&host.to_ascii_lowercase()) {
            if let Some(e) = pool.endpoints.iter_mut().find(|e| e.addr == addr) {
                e.failed_at = Some(Instant::now());
            }
        }
    }

    /// How many endpoints `host` has.
    pub fn endpoint_count(&self, host: &str) -> usize {
        self.pools
            .lock()
            .unwrap()
            .get(&host.to_ascii_lowercase())
            .map_or(0, |p| p.endpoints.len())
    }

    pub fn knows(&self, host: &str) -> bool {
        self.pools
            .lock()
            .unwrap()
            .contains_key(&host.to_ascii_lowercase())
    }

    /// Drops endpoints not refreshed within `threshold`; returns how many.
    pub fn prune(&self, threshold: Duration) -> usize {
        let mut pools = self.pools.lock().unwrap();
        let mut pruned = 0;
        pools.retain(|_, pool| {
            let before = pool.endpoints.len();
            pool.endpoints.retain(|e| e.refreshed.elapsed() < threshold);
            pruned += before - pool.endpoints.len();
            !pool.endpoints.is_empty()
        });
        pruned
    }

    /// (hostname, endpoint count) pairs, sorted.
    pub fn snapshot(&self) -> Vec<(String, usize)> {
        let pools = self.pools.lock().unwrap();
        let mut v: Vec<_> = pools
            .iter()
            .map(|(h, p)| (h.clone(), p.endpoints.len()))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_excludes_and_unregisters() {
        let r = Registry::default();
        r.register("App.localhost", "10.0.0.1:1");
        r.register("app.localhost", "10.0.0.1:2");
        r.register("app.localhost", "10.0.0.1:2");
        let picks: Vec<_> = (0..4)
            .map(|_| r.next("app.localhost", None).unwrap())
            .collect();
        assert_eq!(
            picks,
            ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:1", "10.0.0.1:2"]
        );
        assert_eq!(
            r.next("app.localhost", Some("10.0.0.1:1")).unwrap(),
            "10.0.0.1:2"
        );
        r.unregister("app.localhost", "10.0.0.1:1");
        assert_eq!(r.next("app.localhost", Some("10.0.0.1:2")), None);
        r.unregister("app.localhost", "10.0.0.1:2");
        assert!(!r.knows("app.localhost"));
    }

    #[test]
    fn failed_endpoints_are_passed_over_until_all_have_failed() {
        let r = Registry::default();
        for port in 1..=3 {
            r.register("a.localhost", &format!("10.0.0.1:{port}"));
        }
        r.endpoint_failed("a.localhost", "10.0.0.1:1");
        r.endpoint_failed("a.localhost", "10.0.0.1:3");
        for _ in 0..4 {
            assert_eq!(r.next("a.localhost", None).unwrap(), "10.0.0.1:2");
        }
        r.endpoint_failed("a.localhost", "10.0.0.1:2");
        // All failed: round-robin over them all rather than refuse.
        let mut picks: Vec<_> = (0..3)
            .map(|_| r.next("a.localhost", None).unwrap())
            .collect();
        picks.sort();
        assert_eq!(picks, ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3"]);
        // A new instance registered on a failed address is used again.
        r.register_instance(
            "a.localhost",
            "10.0.0.1:3",
            AppInstance {
                instance_id: "new".into(),
                ..Default::default()
            },
        );
        for _ in 0..3 {
            assert_eq!(r.next("a.localhost", None).unwrap(), "10.0.0.1:3");
        }
    }

    #[test]
    fn prunes_stale_endpoints() {
        let r = Registry::default();
        r.register("a.localhost", "10.0.0.1:1");
        assert_eq!(r.prune(Duration::from_secs(60)), 0);
        assert_eq!(r.prune(Duration::ZERO), 1);
        assert!(!r.knows("a.localhost"));
    }
}
