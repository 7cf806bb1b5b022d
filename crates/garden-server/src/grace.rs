//! Containers' grace times (Garden's bomberman and timebomb in its
//! `server` package): a container no client request has named for its
//! grace time is destroyed by the server. A request naming it holds the
//! countdown while it is served (a run or attach for as long as its
//! connection streams) and starts it afresh when done. A grace time of
//! zero (or less) never expires. Kept here, not in the backends: it is
//! the API server's policy, and only lasts as long as the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Expire = Arc<dyn Fn(String) + Send + Sync>;

pub struct Bombs {
    bombs: Mutex<HashMap<String, Bomb>>,
    /// Called (in a task of its own) with the handle of a container whose
    /// grace time ran out; its bomb is gone by then.
    expire: Expire,
}

struct Bomb {
    grace: Duration,
    /// Requests naming the container now being served.
    holds: u32,
    /// Bumped whenever the countdown restarts or stops, so a timer task
    /// of an earlier countdown finds itself stale.
    generation: u64,
    ticking: bool,
}

impl Bombs {
    pub fn new(expire: impl Fn(String) + Send + Sync + 'static) -> Self {
        Bombs {
            bombs: Mutex::new(HashMap::new()),
            expire: Arc::new(expire),
        }
    }

    /// A new container: its countdown starts now (none for zero).
    pub fn strap(self: &Arc<Self>, handle: &str, grace: Duration) {
        let mut bombs = self.bombs.lock().expect("bombs lock");
        let bomb = bombs.entry(handle.to_string()).or_insert(Bomb {
            grace,
            holds: 0,
            generation: 0,
            ticking: false,
        });
        bomb.grace = grace;
        self.restart(handle, bomb);
    }

    /// The container is gone (destroyed by a client): no countdown.
    pub fn defuse(&self, handle: &str) {
        self.bombs.lock().expect("bombs lock").remove(handle);
    }

    /// Garden's SetGraceTime: the new grace time, counted from now
    /// (from the end of the requests being served, if any).
    pub fn reset(self: &Arc<Self>, handle: &str, grace: Duration) {
        let mut bombs = self.bombs.lock().expect("bombs lock");
        if let Some(bomb) = bombs.get_mut(handle) {
            bomb.grace = grace;
            if bomb.holds == 0 {
                self.restart(handle, bomb);
            }
        }
    }

    /// A request names the container: its countdown waits until the
    /// returned guard goes, then starts afresh. Unknown handles: nothing.
    pub fn hold(self: &Arc<Self>, handle: &str) -> Hold {
        let mut bombs = self.bombs.lock().expect("bombs lock");
        if let Some(bomb) = bombs.get_mut(handle) {
            bomb.holds += 1;
            bomb.generation += 1;
            bomb.ticking = false;
        }
        Hold {
            bombs: self.clone(),
            handle: handle.to_string(),
        }
    }

    /// The grace time a container has now (None: no bomb, e.g. made
    /// before this server started).
    pub fn grace_time(&self, handle: &str) -> Option<Duration> {
        let bombs = self.bombs.lock().expect("bombs lock");
        bombs.get(handle).map(|b| b.grace)
    }

    fn release(self: &Arc<Self>, handle: &str) {
        let mut bombs = self.bombs.lock().expect("bombs lock");
        if let Some(bomb) = bombs.get_mut(handle) {
            bomb.holds = bomb.holds.saturating_sub(1);
            if bomb.holds == 0 {
                self.restart(handle, bomb);
            }
        }
    }

    /// Starts the countdown again from the full grace time.
    fn restart(self: &Arc<Self>, handle: &str, bomb: &mut Bomb) {
        bomb.generation += 1;
        bomb.ticking = !bomb.grace.is_zero();
        if !bomb.ticking {
            return;
        }
        let generation = bomb.generation;
        let grace = bomb.grace;
        let me = Arc::downgrade(self);
        let handle = handle.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(me) = me.upgrade() else { return };
            let expired = {
                let mut bombs = me.bombs.lock().expect("bombs lock");
                let current = bombs
                    .get(&handle)
                    .is_some_and(|b| b.ticking && b.generation == generation);
                if current {
                    bombs.remove(&handle);
                }
                current
            };
            if expired {
                tracing::info!(handle = %handle, grace = ?grace, "grace time expired");
                (me.expire)(handle);
            }
        });
    }
}

/// Holds a container's countdown while a request naming it is served.
pub struct Hold {
    bombs: Arc<Bombs>,
    handle: String,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.bombs.release(&self.handle);
    }
}

/// A Go `time.Duration` (nanoseconds) as a grace time; zero or less:
/// never expires.
pub fn from_go(nanos: i64) -> Duration {
    Duration::from_nanos(nanos.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // On tokio's paused clock: sleeps advance time exactly, so the
    // countdowns are judged at the instants named, however busy the host.
    const GRACE: Duration = Duration::from_millis(600);

    fn bombs() -> (Arc<Bombs>, Arc<Mutex<Vec<String>>>) {
        let expired = Arc::new(Mutex::new(Vec::new()));
        let seen = expired.clone();
        let bombs = Arc::new(Bombs::new(move |h| seen.lock().unwrap().push(h)));
        (bombs, expired)
    }

    async fn sleep_ms(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    async fn eventually(expired: &Mutex<Vec<String>>, want: &[&str]) {
        for _ in 0..100 {
            if expired.lock().unwrap().len() >= want.len() {
                break;
            }
            sleep_ms(50).await;
        }
        assert_eq!(*expired.lock().unwrap(), want);
    }

    #[tokio::test(start_paused = true)]
    async fn an_untouched_container_expires_after_its_grace_time() {
        let (b, expired) = bombs();
        b.strap("a", GRACE);
        b.strap("never", Duration::ZERO);
        sleep_ms(200).await;
        assert!(expired.lock().unwrap().is_empty());
        eventually(&expired, &["a"]).await;
        assert_eq!(b.grace_time("a"), None);
        assert_eq!(b.grace_time("never"), Some(Duration::ZERO));
        sleep_ms(800).await;
        assert_eq!(*expired.lock().unwrap(), vec!["a".to_string()]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_holds_the_countdown_and_restarts_it() {
        let (b, expired) = bombs();
        b.strap("a", GRACE);
        sleep_ms(300).await;
        let hold = b.hold("a");
        sleep_ms(1000).await;
        assert!(expired.lock().unwrap().is_empty(), "held");
        drop(hold);
        sleep_ms(300).await;
        assert!(expired.lock().unwrap().is_empty(), "restarted in full");
        eventually(&expired, &["a"]).await;
    }

    #[tokio::test(start_paused = true)]
    async fn reset_and_defuse() {
        let (b, expired) = bombs();
        b.strap("a", GRACE);
        b.strap("b", GRACE);
        b.strap("c", Duration::ZERO);
        b.reset("a", Duration::ZERO);
        b.reset("c", GRACE);
        b.defuse("b");
        b.reset("unknown", GRACE);
        drop(b.hold("unknown"));
        eventually(&expired, &["c"]).await;
        sleep_ms(800).await;
        assert_eq!(*expired.lock().unwrap(), vec!["c".to_string()]);
        assert_eq!(b.grace_time("a"), Some(Duration::ZERO));
    }

    #[test]
    fn go_durations() {
        assert_eq!(from_go(1_500_000_000), Duration::from_millis(1500));
        assert_eq!(from_go(0), Duration::ZERO);
        assert_eq!(from_go(-5), Duration::ZERO);
    }
}
