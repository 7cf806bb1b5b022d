//! Expiry of locks and presences that are not renewed in time.
//!
//! [`LockPick`] keeps one timer per (key, modified_id), for the highest
//! modified_index it has been told about: each successful Lock registers
//! its row, replacing the timer of an older index. When a timer fires after
//! `ttl` seconds the row is deleted if it is still exactly the registered
//! one (same owner, modified_id and modified_index); a renewal in between
//! bumped the index, so nothing is deleted.
//!
//! [`run_burglar`] registers every row at start and then every
//! `check_interval` (Diego: 5 s), so rows renewed through another locket
//! server, or left behind by a restarted one, still expire.

use crate::db::{Lock, LockDb, PRESENCE_TYPE};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

struct Pending {
    index: i64,
    cancel: oneshot::Sender<()>,
}

#[derive(Clone)]
pub struct LockPick {
    inner: Arc<Inner>,
}

struct Inner {
    db: LockDb,
    timers: Mutex<HashMap<(String, String), Pending>>,
    locks_expired: AtomicU64,
    presences_expired: AtomicU64,
}

impl LockPick {
    pub fn new(db: LockDb) -> LockPick {
        LockPick {
            inner: Arc::new(Inner {
                db,
                timers: Mutex::new(HashMap::new()),
                locks_expired: AtomicU64::new(0),
                presences_expired: AtomicU64::new(0),
            }),
        }
    }

    /// (locks expired, presences expired) since start.
    pub fn expiration_counts(&self) -> (u64, u64) {
        (
            self.inner.locks_expired.load(Ordering::Relaxed),
            self.inner.presences_expired.load(Ordering::Relaxed),
        )
    }

    /// Timers currently armed.
    pub fn pending(&self) -> usize {
        self.inner.timers.lock().expect("timers").len()
    }

    /// Arms the expiry timer for `lock` unless one for the same or a newer
    /// index is already armed.
    pub fn register_ttl(&self, lock: &Lock) {
        let key = (lock.resource.key.clone(), lock.modified_id.clone());
        let (tx, rx) = oneshot::channel();
        {
            let mut timers = self.inner.timers.lock().expect("timers");
            if let Some(p) = timers.get(&key) {
                if p.index >= lock.modified_index {
                    return;
                }
            }
            if let Some(old) = timers.insert(
                key.clone(),
                Pending {
                    index: lock.modified_index,
                    cancel: tx,
                },
            ) {
                let _ = old.cancel.send(());
            }
        }
        let this = self.clone();
        let lock = lock.clone();
        let ttl = Duration::from_secs(u64::try_from(lock.ttl_in_seconds).unwrap_or(0));
        tokio::spawn(async move {
            tokio::select! {
                _ = rx => {}
                _ = tokio::time::sleep(ttl) => this.expire(key, lock).await,
            }
        });
    }

    async fn expire(&self, key: (String, String), lock: Lock) {
        let res = self.inner.db.fetch_and_release(&lock).await;
        {
            let mut timers = self.inner.timers.lock().expect("timers");
            if timers.get(&key).map(|p| p.index) == Some(lock.modified_index) {
                timers.remove(&key);
            }
        }
        match res {
            Ok(true) => {
                #[allow(deprecated)]
                let presence = lock.resource.r#type == PRESENCE_TYPE;
                tracing::info!(
                    key = %lock.resource.key,
                    owner = %lock.resource.owner,
                    modified_index = lock.modified_index,
                    "lock-expired"
                );
                let counter = if presence {
                    &self.inner.presences_expired
                } else {
                    &self.inner.locks_expired
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(crate::LocketError::LockCollision) => {
                tracing::debug!(key = %lock.resource.key, "lock renewed or changed; not expiring");
            }
            Err(e) => {
                tracing::error!(key = %lock.resource.key, error = %e, "failed-compare-and-release")
            }
        }
    }
}

/// Registers every row with `pick` now and then every `check_interval`,
/// until the task is dropped/aborted.
pub async fn run_burglar(db: LockDb, pick: LockPick, check_interval: Duration) {
    let mut tick = tokio::time::interval(check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.fetch_all("").await {
            Ok(locks) => {
                for l in &locks {
                    pick.register_ttl(l);
                }
            }
            Err(e) => tracing::error!(error = %e, "failed-fetching-locks"),
        }
    }
}
