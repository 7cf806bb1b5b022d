//! Event hubs; Diego's event types are [`models::events`].
//!
//! Four hubs as in Diego's BBS: desired LRPs, actual LRP groups (the
//! deprecated `actual_lrp_*` events), actual LRP instances and tasks. A hub
//! never blocks its emitter: each subscriber has a bounded buffer of
//! [`MAX_PENDING_SUBSCRIBER_EVENTS`] events and a subscriber whose buffer is
//! full is dropped (its stream ends), as Diego's hub drops slow consumers.

pub mod calculator;
pub mod sse;

pub use models::events::*;

use base64::Engine;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// Diego's `MAX_PENDING_SUBSCRIBER_EVENTS`.
pub const MAX_PENDING_SUBSCRIBER_EVENTS: usize = 1024;

/// An emitted event as subscribers receive it: the SSE data (base64 of the
/// payload) is encoded once, by the first stream that writes it, and
/// shared by every other stream writing the same event.
#[derive(Debug)]
pub struct Published {
    event: Event,
    sse_data: OnceLock<String>,
}

impl Published {
    pub fn new(event: Event) -> Published {
        Published {
            event,
            sse_data: OnceLock::new(),
        }
    }

    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The SSE `data:` value: base64 of [`Event::encode_payload`].
    pub fn sse_data(&self) -> &str {
        self.sse_data.get_or_init(|| {
            base64::engine::general_purpose::STANDARD.encode(self.event.encode_payload())
        })
    }
}

impl std::ops::Deref for Published {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

pub type EventReceiver = mpsc::Receiver<Arc<Published>>;

/// A fan-out point for one kind of event.
pub struct Hub {
    name: &'static str,
    subscribers: Mutex<Option<Vec<mpsc::Sender<Arc<Published>>>>>,
    buffer: usize,
}

impl Hub {
    pub fn new(name: &'static str) -> Self {
        Self::with_buffer(name, MAX_PENDING_SUBSCRIBER_EVENTS)
    }

    pub fn with_buffer(name: &'static str, buffer: usize) -> Self {
        Self {
            name,
            subscribers: Mutex::new(Some(Vec::new())),
            buffer: buffer.max(1),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A new subscription; None once the hub is closed.
    pub fn subscribe(&self) -> Option<EventReceiver> {
        let mut subs = self.subscribers.lock().unwrap();
        let list = subs.as_mut()?;
        let (tx, rx) = mpsc::channel(self.buffer);
        list.push(tx);
        Some(rx)
    }

    /// Hands the event to every subscriber without waiting. A subscriber
    /// whose buffer is full is dropped (slow consumer); one that went away
    /// is forgotten.
    pub fn emit(&self, event: Event) {
        let event = Arc::new(Published::new(event));
        let mut subs = self.subscribers.lock().unwrap();
        let Some(list) = subs.as_mut() else { return };
        let name = self.name;
        list.retain(|tx| match tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(hub = name, "dropping slow event subscriber");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    pub fn subscriber_count(&self) -> usize {
        let mut subs = self.subscribers.lock().unwrap();
        match subs.as_mut() {
            Some(list) => {
                list.retain(|tx| !tx.is_closed());
                list.len()
            }
            None => 0,
        }
    }

    /// Ends every subscription; later subscriptions are refused.
    pub fn close(&self) {
        self.subscribers.lock().unwrap().take();
    }
}

/// The BBS's hubs.
pub struct Hubs {
    pub desired: Hub,
    /// Deprecated ActualLRPGroup events (`actual_lrp_created|changed|removed|crashed`).
    pub actual: Hub,
    pub actual_instance: Hub,
    pub task: Hub,
}

impl Default for Hubs {
    fn default() -> Self {
        Self::new()
    }
}

impl Hubs {
    pub fn new() -> Self {
        Self {
            desired: Hub::new("desired"),
            actual: Hub::new("actual"),
            actual_instance: Hub::new("actual_instance"),
            task: Hub::new("task"),
        }
    }

    pub fn close(&self) {
        self.desired.close();
        self.actual.close();
        self.actual_instance.close();
        self.task.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_event(guid: &str) -> Event {
        Event::TaskCreated(models::TaskCreatedEvent {
            task: Some(models::Task {
                task_guid: guid.into(),
                ..Default::default()
            }),
        })
    }

    #[tokio::test]
    async fn slow_subscriber_is_dropped_without_blocking() {
        let hub = Hub::with_buffer("t", 2);
        let mut slow = hub.subscribe().unwrap();
        let mut fast = hub.subscribe().unwrap();
        for i in 0..2 {
            hub.emit(task_event(&i.to_string()));
            fast.recv().await.unwrap();
        }
        // slow's buffer is full now: the next emit drops it.
        hub.emit(task_event("2"));
        assert_eq!(fast.recv().await.unwrap().event_type(), TASK_CREATED);
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_none(), "slow subscriber is closed");
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[tokio::test]
    async fn close_ends_subscriptions() {
        let hub = Hub::new("t");
        let mut rx = hub.subscribe().unwrap();
        hub.close();
        assert!(rx.recv().await.is_none());
        assert!(hub.subscribe().is_none());
    }

    #[tokio::test]
    async fn subscribers_share_one_encoding() {
        let hub = Hub::new("t");
        let mut a = hub.subscribe().unwrap();
        let mut b = hub.subscribe().unwrap();
        hub.emit(task_event("g"));
        let (a, b) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(std::ptr::eq(a.sse_data(), b.sse_data()));
        let payload = base64::engine::general_purpose::STANDARD
            .decode(a.sse_data())
            .unwrap();
        assert_eq!(Event::decode(TASK_CREATED, &payload).unwrap(), *a.event());
    }
}
