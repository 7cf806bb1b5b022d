//! What the LRP cache holds: every actual LRP (by key, and by cell), and
//! per desired LRP its scheduling info (encoded), metric tags and
//! convergence drift data. Records are shared (`Arc`): readers take them
//! under the lock and copy or encode them after releasing it. Lists come
//! out in the store's order (process guid, index, presence) with the
//! store's filter semantics.

use crate::db::lrp_convergence_rules::{ConvergenceDesired, DesiredDrift};
use crate::db::{ActualLrpFilter, EncodedAnswer};
use bytes::Bytes;
use models::{ActualLrp, DesiredLrp, DesiredLrpSchedulingInfo, MetricTagValue};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// (process guid, index, presence): the actual LRP table's primary key.
pub(crate) type ActualKey = (String, i32, i32);

pub(crate) fn actual_key(lrp: &ActualLrp) -> ActualKey {
    let k = lrp.actual_lrp_key.as_ref();
    (
        k.map(|k| k.process_guid.clone()).unwrap_or_default(),
        k.map_or(0, |k| k.index),
        lrp.presence,
    )
}

fn cell_of(lrp: &ActualLrp) -> &str {
    lrp.actual_lrp_instance_key
        .as_ref()
        .map_or("", |k| k.cell_id.as_str())
}

/// A desired LRP as the cache keeps it: its scheduling info encoded (what
/// nsync's bulk read sends as is, and far smaller than the decoded record),
/// the few fields read often, and the drift data (metric tags encoded).
pub(crate) struct DesiredEntry {
    pub encoded_info: Bytes,
    pub process_guid: String,
    pub domain: String,
    pub instances: i32,
    pub drift: Arc<DesiredDrift>,
}

impl DesiredEntry {
    /// From a scheduling info and the desired LRP's metric tags.
    pub fn new(
        info: &DesiredLrpSchedulingInfo,
        metric_tags: BTreeMap<String, MetricTagValue>,
    ) -> DesiredEntry {
        let key = info.desired_lrp_key.clone().unwrap_or_default();
        let drift = Arc::new(DesiredDrift::compact(
            &key.process_guid,
            info.routes.as_ref().unwrap_or(&Default::default()),
            metric_tags,
        ));
        DesiredEntry {
            encoded_info: Bytes::from(info.encode_to_vec()),
            process_guid: key.process_guid,
            domain: key.domain,
            instances: info.instances,
            drift,
        }
    }

    pub fn info(&self) -> DesiredLrpSchedulingInfo {
        DesiredLrpSchedulingInfo::decode(self.encoded_info.as_ref())
            .expect("the cache decodes what it encoded")
    }

    /// What the convergence rules read of it.
    pub fn convergence_view(&self) -> ConvergenceDesired<'_> {
        ConvergenceDesired {
            process_guid: &self.process_guid,
            domain: &self.domain,
            instances: self.instances,
            drift: &self.drift,
        }
    }

    /// The routing info: the fields the store's routing info read has.
    pub fn routing(&self) -> DesiredLrp {
        let info = self.info();
        let key = info.desired_lrp_key.unwrap_or_default();
        DesiredLrp {
            process_guid: key.process_guid,
            domain: key.domain,
            log_guid: key.log_guid,
            instances: info.instances,
            routes: Some(info.routes.unwrap_or_default()),
            modification_tag: info.modification_tag,
            metric_tags: self
                .drift
                .metric_tags()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default(),
            ..Default::default()
        }
    }
}

#[derive(Default)]
pub(crate) struct CacheState {
    actuals: BTreeMap<ActualKey, Arc<ActualLrp>>,
    /// Keys of the rows placed on each cell (rows without a cell are not
    /// indexed).
    by_cell: HashMap<String, BTreeSet<ActualKey>>,
    desired: BTreeMap<String, Arc<DesiredEntry>>,
}

impl CacheState {
    pub fn put_actual(&mut self, lrp: ActualLrp) {
        let key = actual_key(&lrp);
        let cell = cell_of(&lrp).to_string();
        if let Some(old) = self.actuals.get(&key) {
            let old_cell = cell_of(old);
            if old_cell != cell {
                let old_cell = old_cell.to_string();
                self.unindex(old_cell, &key);
            }
        }
        if !cell.is_empty() {
            self.by_cell.entry(cell).or_default().insert(key.clone());
        }
        self.actuals.insert(key, Arc::new(lrp));
    }

    fn unindex(&mut self, cell: String, key: &ActualKey) {
        if let Some(keys) = self.by_cell.get_mut(&cell) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_cell.remove(&cell);
            }
        }
    }

    pub fn actual(&self, key: &ActualKey) -> Option<Arc<ActualLrp>> {
        self.actuals.get(key).cloned()
    }

    pub fn remove_actual(&mut self, key: &ActualKey) {
        if let Some(old) = self.actuals.remove(key) {
            self.unindex(cell_of(&old).to_string(), key);
        }
    }

    /// Removes the row only if the cache holds this very version of it.
    pub fn remove_actual_version(&mut self, lrp: &ActualLrp) {
        let key = actual_key(lrp);
        if self
            .actuals
            .get(&key)
            .is_some_and(|c| c.modification_tag == lrp.modification_tag)
        {
            self.remove_actual(&key);
        }
    }

    /// Replaces every row of a process guid with `lrps`.
    pub fn replace_actuals_of(&mut self, guid: &str, lrps: Vec<ActualLrp>) {
        let old: Vec<ActualKey> = self.range_of(guid).map(|(k, _)| k.clone()).collect();
        for k in &old {
            self.remove_actual(k);
        }
        for l in lrps {
            self.put_actual(l);
        }
    }

    fn range_of<'a>(
        &'a self,
        guid: &str,
    ) -> impl Iterator<Item = (&'a ActualKey, &'a Arc<ActualLrp>)> + 'a {
        let from = (guid.to_string(), i32::MIN, i32::MIN);
        let guid = guid.to_string();
        self.actuals
            .range(from..)
            .take_while(move |(k, _)| k.0 == guid)
    }

    /// The rows matching the filter.
    pub fn actuals(&self, f: &ActualLrpFilter) -> Vec<Arc<ActualLrp>> {
        let keep = |l: &ActualLrp| {
            let k = l.actual_lrp_key.as_ref();
            (f.domain.is_empty() || k.is_some_and(|k| k.domain == f.domain))
                && (f.cell_id.is_empty() || cell_of(l) == f.cell_id)
                && f.index.is_none_or(|i| k.is_some_and(|k| k.index == i))
        };
        if !f.cell_id.is_empty() {
            let Some(keys) = self.by_cell.get(&f.cell_id) else {
                return Vec::new();
            };
            return keys
                .iter()
                .filter(|k| f.process_guid.is_empty() || k.0 == f.process_guid)
                .filter_map(|k| self.actuals.get(k))
                .filter(|l| keep(l))
                .cloned()
                .collect();
        }
        if !f.process_guid.is_empty() {
            return self
                .range_of(&f.process_guid)
                .map(|(_, l)| l)
                .filter(|l| keep(l))
                .cloned()
                .collect();
        }
        self.actuals.values().filter(|l| keep(l)).cloned().collect()
    }

    /// The store's by_process_guids: every row when `guids` is empty.
    pub fn actuals_of(&self, guids: &[String]) -> Vec<Arc<ActualLrp>> {
        if guids.is_empty() {
            return self.actuals.values().cloned().collect();
        }
        let sorted: BTreeSet<&str> = guids.iter().map(String::as_str).collect();
        sorted
            .into_iter()
            .flat_map(|g| self.range_of(g).map(|(_, l)| l.clone()))
            .collect()
    }

    pub fn put_desired(&mut self, entry: DesiredEntry) {
        self.desired
            .insert(entry.process_guid.clone(), Arc::new(entry));
    }

    pub fn remove_desired(&mut self, guid: &str) {
        self.desired.remove(guid);
    }

    /// The desired LRPs of `domain` (any when empty) among `guids` (all
    /// when empty), by process guid.
    pub fn desired(&self, domain: &str, guids: &[String]) -> Vec<Arc<DesiredEntry>> {
        let by_domain = |e: &&Arc<DesiredEntry>| domain.is_empty() || e.domain == domain;
        if guids.is_empty() {
            return self.desired.values().filter(by_domain).cloned().collect();
        }
        let sorted: BTreeSet<&str> = guids.iter().map(String::as_str).collect();
        sorted
            .into_iter()
            .filter_map(|g| self.desired.get(g))
            .filter(by_domain)
            .cloned()
            .collect()
    }

    pub fn desired_one(&self, guid: &str) -> Option<Arc<DesiredEntry>> {
        self.desired.get(guid).cloned()
    }

    /// Everything, shared (for a convergence pass).
    pub fn snapshot(&self) -> (Vec<Arc<DesiredEntry>>, Vec<Arc<ActualLrp>>) {
        (
            self.desired.values().cloned().collect(),
            self.actuals.values().cloned().collect(),
        )
    }

    pub fn len(&self) -> (usize, usize) {
        (self.actuals.len(), self.desired.len())
    }
}

/// `entries`' encoded scheduling infos as field 2 of a
/// DesiredLRPSchedulingInfosResponse (the repeated infos; no error field),
/// in chunks of about `CHUNK` bytes made as the answer is sent.
pub(crate) fn encode_scheduling_infos(entries: Vec<Arc<DesiredEntry>>) -> EncodedAnswer {
    use prost::encoding::{encoded_len_varint, key_len};
    let len = entries
        .iter()
        .map(|e| {
            key_len(2) + encoded_len_varint(e.encoded_info.len() as u64) + e.encoded_info.len()
        })
        .sum();
    EncodedAnswer {
        len,
        chunks: Box::new(InfoChunks { entries, at: 0 }),
    }
}

/// Big enough to keep a socket busy, small enough to stay in cache.
const CHUNK: usize = 256 * 1024;

struct InfoChunks {
    entries: Vec<Arc<DesiredEntry>>,
    at: usize,
}

impl Iterator for InfoChunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        use prost::encoding::{encode_key, encode_varint, WireType};
        if self.at == self.entries.len() {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK + 1024);
        while let Some(e) = self.entries.get(self.at) {
            if !out.is_empty() && out.len() + e.encoded_info.len() + 16 > CHUNK {
                break;
            }
            encode_key(2, WireType::LengthDelimited, &mut out);
            encode_varint(e.encoded_info.len() as u64, &mut out);
            out.extend_from_slice(&e.encoded_info);
            self.at += 1;
        }
        Some(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::{DesiredLrpKey, DesiredLrpSchedulingInfosResponse, ProtoRoutes};

    fn entry(i: usize) -> Arc<DesiredEntry> {
        let info = DesiredLrpSchedulingInfo {
            desired_lrp_key: Some(DesiredLrpKey {
                process_guid: format!("guid-{i:06}"),
                domain: "cf-apps".into(),
                log_guid: format!("log-{i}"),
            }),
            instances: (i % 7) as i32,
            routes: Some(ProtoRoutes {
                routes: [("cf-router".to_string(), vec![b'x'; i % 300])].into(),
            }),
            ..Default::default()
        };
        Arc::new(DesiredEntry::new(&info, BTreeMap::new()))
    }

    #[test]
    fn nsync_answer_comes_in_chunks_that_add_up_to_the_list() {
        let entries: Vec<_> = (0..5_000).map(entry).collect();
        let want: Vec<_> = entries.iter().map(|e| e.info()).collect();
        let answer = encode_scheduling_infos(entries);
        let len = answer.len;
        let chunks: Vec<Bytes> = answer.chunks.collect();
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
        let whole: Vec<u8> = chunks.concat();
        assert_eq!(whole.len(), len);
        let decoded = DesiredLrpSchedulingInfosResponse::decode(&whole[..]).unwrap();
        assert_eq!(decoded.desired_lrp_scheduling_infos, want);

        let empty = encode_scheduling_infos(Vec::new());
        assert_eq!(empty.len, 0);
        assert_eq!(empty.chunks.count(), 0);
    }
}
