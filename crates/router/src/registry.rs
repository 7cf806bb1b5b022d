//! The route table: hostname → endpoints, picked round-robin. An endpoint
//! not re-registered within the stale threshold is pruned; an unregister
//! drops it at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Endpoint {
    addr: String,
    app: AppInstance,
    refreshed: Instant,
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
                e.app = app;
            }
            None => pool.endpoints.push(Endpoint {
                addr: addr.to_string(),
                app,
                refreshed: Instant::now(),
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

    /// The next endpoint of `host` not in `tried`, with its app.
    pub fn pick(&self, host: &str, tried: &[&str]) -> Option<Picked> {
        let mut pools = self.pools.lock().unwrap();
        let pool = pools.get_mut(&host.to_ascii_lowercase())?;
        let n = pool.endpoints.len();
        for _ in 0..n {
            let i = pool.next % n;
            pool.next = pool.next.wrapping_add(1);
            let e = &pool.endpoints[i];
            if !tried.contains(&e.addr.as_str()) {
                return Some(Picked {
                    addr: e.addr.clone(),
                    app: e.app.clone(),
                });
            }
        }
        None
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
    fn prunes_stale_endpoints() {
        let r = Registry::default();
        r.register("a.localhost", "10.0.0.1:1");
        assert_eq!(r.prune(Duration::from_secs(60)), 0);
        assert_eq!(r.prune(Duration::ZERO), 1);
        assert!(!r.knows("a.localhost"));
    }
}
