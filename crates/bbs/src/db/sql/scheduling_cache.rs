//! Decoded desired LRP data (scheduling infos; what LRP convergence
//! compares instances with), kept between reads. A desired LRP's
//! modification tag changes with every write of its row (a new epoch when
//! it is desired, index + 1 on each update), so an entry whose tag equals
//! the row's current tag is the row's current content: bulk reads (nsync's
//! list of every scheduling info every 30 s) read just the keys and tags
//! and decode (decrypt) only the rows that changed. Safe with several BBS
//! processes on one database: the tag is read from the database each time.

use models::DesiredLrpSchedulingInfo;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

struct Entry<T> {
    epoch: String,
    index: u32,
    value: T,
}

/// Values per process guid, valid for one modification tag.
pub(crate) struct TagCache<T> {
    map: Mutex<HashMap<String, Entry<T>>>,
    /// Off when the LRP cache fronts the store (it would hold the same).
    off: AtomicBool,
}

impl<T> Default for TagCache<T> {
    fn default() -> Self {
        TagCache {
            map: Mutex::new(HashMap::new()),
            off: AtomicBool::new(false),
        }
    }
}

impl<T: Clone> TagCache<T> {
    /// The value of `guid` if it was stored with this tag.
    pub fn get(&self, guid: &str, epoch: &str, index: u32) -> Option<T> {
        let map = self.map.lock().unwrap();
        let e = map.get(guid)?;
        (e.epoch == epoch && e.index == index).then(|| e.value.clone())
    }

    pub fn put(&self, guid: &str, epoch: &str, index: u32, value: T) {
        if self.off.load(Ordering::Relaxed) {
            return;
        }
        let entry = Entry {
            epoch: epoch.to_string(),
            index,
            value,
        };
        self.map.lock().unwrap().insert(guid.to_string(), entry);
    }

    /// Empties the cache and keeps it empty.
    pub fn turn_off(&self) {
        self.off.store(true, Ordering::Relaxed);
        self.map.lock().unwrap().clear();
    }

    /// Forgets every desired LRP not in `live` (after a full listing).
    pub fn retain(&self, live: &HashSet<&str>) {
        self.map
            .lock()
            .unwrap()
            .retain(|guid, _| live.contains(guid.as_str()));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// Scheduling infos by process guid.
#[derive(Default)]
pub(crate) struct SchedulingCache(pub TagCache<DesiredLrpSchedulingInfo>);

fn tag_of(info: &DesiredLrpSchedulingInfo) -> (&str, u32) {
    info.modification_tag
        .as_ref()
        .map_or(("", 0), |t| (t.epoch.as_str(), t.index))
}

impl SchedulingCache {
    /// The cached info of `guid` if it was stored with this tag.
    pub fn get(&self, guid: &str, epoch: &str, index: u32) -> Option<DesiredLrpSchedulingInfo> {
        self.0.get(guid, epoch, index)
    }

    pub fn put(&self, info: &DesiredLrpSchedulingInfo) {
        let Some(key) = info.desired_lrp_key.as_ref() else {
            return;
        };
        let (epoch, index) = tag_of(info);
        self.0.put(&key.process_guid, epoch, index, info.clone());
    }

    /// Forgets every desired LRP not in `live` (after a full listing).
    pub fn retain(&self, live: &HashSet<&str>) {
        self.0.retain(live);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::{DesiredLrpKey, ModificationTag};

    fn info(guid: &str, epoch: &str, index: u32, instances: i32) -> DesiredLrpSchedulingInfo {
        DesiredLrpSchedulingInfo {
            desired_lrp_key: Some(DesiredLrpKey {
                process_guid: guid.into(),
                ..Default::default()
            }),
            instances,
            modification_tag: Some(ModificationTag {
                epoch: epoch.into(),
                index,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn hits_only_with_the_same_tag() {
        let c = SchedulingCache::default();
        c.put(&info("a", "e1", 0, 1));
        assert_eq!(c.get("a", "e1", 0).unwrap().instances, 1);
        assert!(c.get("a", "e1", 1).is_none(), "updated since");
        assert!(c.get("a", "e2", 0).is_none(), "desired again since");
        assert!(c.get("b", "e1", 0).is_none());
        c.put(&info("a", "e1", 1, 3));
        assert_eq!(c.get("a", "e1", 1).unwrap().instances, 3);
    }

    #[test]
    fn retain_forgets_removed_lrps() {
        let c = SchedulingCache::default();
        c.put(&info("a", "e", 0, 1));
        c.put(&info("b", "e", 0, 1));
        c.retain(&["b"].into_iter().collect());
        assert_eq!(c.len(), 1);
        assert!(c.get("b", "e", 0).is_some());
    }
}
