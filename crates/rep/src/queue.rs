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
}

impl OperationQueue {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            running: Arc::default(),
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
}
