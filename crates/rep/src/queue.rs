//! Runs operations with at most one running and one waiting per key
//! (Diego's sliding operation queue of depth 1): a newer operation for a
//! key replaces the one waiting, since it reads the container afresh.

use crate::delegate::Context;
use crate::operation::Operation;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct OperationQueue {
    ctx: Context,
    /// Keys with an operation running → the operation waiting after it.
    running: Arc<Mutex<HashMap<String, Option<Operation>>>>,
    /// Told whenever the last key's operations end.
    idle: Arc<tokio::sync::Notify>,
}

impl OperationQueue {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            running: Arc::default(),
            idle: Arc::default(),
        }
    }

    pub fn push(&self, op: Operation) {
        {
            let mut running = self.running.lock().unwrap();
            if let Some(waiting) = running.get_mut(op.key()) {
                *waiting = Some(op);
                return;
            }
            running.insert(op.key().to_string(), None);
        }
        let q = self.clone();
        tokio::spawn(async move {
            let mut op = op;
            loop {
                let key = op.key().to_string();
                op.execute(&q.ctx).await;
                let next = {
                    let mut running = q.running.lock().unwrap();
                    match running.get_mut(&key).and_then(Option::take) {
                        Some(n) => Some(n),
                        None => {
                            running.remove(&key);
                            if running.is_empty() {
                                q.idle.notify_waiters();
                            }
                            None
                        }
                    }
                };
                match next {
                    Some(n) => op = n,
                    None => return,
                }
            }
        });
    }

    /// Operations running or waiting.
    pub fn len(&self) -> usize {
        self.running.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until no operation runs or waits, at most `within`; whether
    /// the queue went idle.
    pub async fn wait_idle(&self, within: std::time::Duration) -> bool {
        let idle = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.is_empty() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, idle).await.is_ok()
    }
}
