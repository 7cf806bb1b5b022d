//! Whether the cell is evacuating (Diego's evacuation context): set once by
//! `POST /evacuate` or SIGTERM, read by `/state`, `/work`, the LRP
//! processor and the bulker.

use tokio::sync::watch;

#[derive(Clone)]
pub struct EvacuationContext {
    tx: watch::Sender<bool>,
}

impl Default for EvacuationContext {
    fn default() -> Self {
        Self {
            tx: watch::channel(false).0,
        }
    }
}

impl EvacuationContext {
    /// Starts evacuating (idempotent).
    pub fn evacuate(&self) {
        self.tx.send_if_modified(|e| !std::mem::replace(e, true));
    }

    pub fn evacuating(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once evacuation has started.
    pub async fn notified(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|e| *e).await;
    }
}
