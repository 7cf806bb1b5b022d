//! What to emit when the table changes: unregister registrations that
//! disappeared, register new or changed ones.

use crate::registry_message::{MessageKey, RegistryMessage};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Default, Clone)]
pub struct Emission {
    pub register: Vec<RegistryMessage>,
    pub unregister: Vec<RegistryMessage>,
}

impl Emission {
    pub fn is_empty(&self) -> bool {
        self.register.is_empty() && self.unregister.is_empty()
    }

    pub fn extend(&mut self, other: Emission) {
        self.register.extend(other.register);
        self.unregister.extend(other.unregister);
    }
}

/// Messages to go from `before` to `after`. A changed registration (same
/// hostname and address, e.g. new route options) is registered again
/// without unregistering first, so the router never drops the endpoint.
/// As Diego does, `endpoint_updated_at_ns` is only sent for an endpoint
/// that is new, not for a new route on a known endpoint.
pub fn diff(
    before: &BTreeMap<MessageKey, RegistryMessage>,
    after: &BTreeMap<MessageKey, RegistryMessage>,
) -> Emission {
    let known: HashSet<(&str, u32)> = before.values().map(|m| (m.host.as_str(), m.port)).collect();
    let mut e = Emission::default();
    for (k, m) in before {
        if !after.contains_key(k) {
            let mut m = m.clone();
            m.endpoint_updated_at_ns = 0;
            e.unregister.push(m);
        }
    }
    for (k, m) in after {
        match before.get(k) {
            Some(old) if old.same_route(m) => {}
            old => {
                let mut m = m.clone();
                if old.is_some() || known.contains(&(m.host.as_str(), m.port)) {
                    m.endpoint_updated_at_ns = 0;
                }
                e.register.push(m);
            }
        }
    }
    e
}

/// The whole table as registrations (periodic re-emission, greetings).
pub fn everything(all: BTreeMap<MessageKey, RegistryMessage>) -> Emission {
    Emission {
        register: all
            .into_values()
            .map(|mut m| {
                m.endpoint_updated_at_ns = 0;
                m
            })
            .collect(),
        unregister: Vec::new(),
    }
}
