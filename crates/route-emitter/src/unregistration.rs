//! NATS delivers at most once, so a router may miss an unregistration and
//! keep sending traffic to a gone instance until it prunes the route. As
//! Diego's route-emitter does, unregistrations are sent again every
//! `unregistration_interval`, `unregistration_send_count` times, unless
//! the same registration comes back meanwhile.

use crate::diff::Emission;
use crate::registry_message::{MessageKey, RegistryMessage};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct UnregistrationCache {
    send_count: u32,
    pending: BTreeMap<MessageKey, (RegistryMessage, u32)>,
}

impl UnregistrationCache {
    pub fn new(send_count: u32) -> Self {
        Self {
            send_count,
            pending: BTreeMap::new(),
        }
    }

    /// Records what was just emitted.
    pub fn record(&mut self, e: &Emission) {
        if self.send_count == 0 {
            return;
        }
        for m in &e.unregister {
            self.pending.insert(m.key(), (m.clone(), 0));
        }
        for m in &e.register {
            self.pending.remove(&m.key());
        }
    }

    /// The unregistrations to send again now; each is dropped once sent
    /// `send_count` times.
    pub fn due(&mut self) -> Emission {
        let mut e = Emission::default();
        let limit = self.send_count;
        self.pending.retain(|_, (m, sent)| {
            e.unregister.push(m.clone());
            *sent += 1;
            *sent < limit
        });
        e
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(port: u32) -> RegistryMessage {
        RegistryMessage {
            host: "10.0.0.1".into(),
            port,
            uris: vec!["a.example.com".into()],
            ..Default::default()
        }
    }

    #[test]
    fn resends_until_the_count_unless_registered_again() {
        let mut c = UnregistrationCache::new(2);
        c.record(&Emission {
            register: vec![],
            unregister: vec![msg(1), msg(2)],
        });
        assert_eq!(c.due().unregister.len(), 2);
        c.record(&Emission {
            register: vec![msg(2)],
            unregister: vec![],
        });
        assert_eq!(c.due().unregister, vec![msg(1)]);
        assert!(c.is_empty());
        assert!(c.due().is_empty());
    }
}
