//! What the LRP cache holds: every actual LRP (by key, and by cell), and
//! per desired LRP its scheduling info, routing info and convergence drift
//! data. Lists come out in the store's order (process guid, index,
//! presence), with the store's filter semantics.

use crate::db::sql::lrp_convergence::{ConvergenceDesired, ConvergenceRow, DesiredDrift};
use crate::db::{ActualLrpFilter, DesiredLrpFilter};
use models::actual_lrp::Presence;
use models::actual_lrp_state::RUNNING;
use models::{ActualLrp, DesiredLrp, DesiredLrpSchedulingInfo};
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

pub(crate) struct DesiredEntry {
    pub info: DesiredLrpSchedulingInfo,
    pub routing: DesiredLrp,
    pub drift: Arc<DesiredDrift>,
}

impl DesiredEntry {
    pub fn new(info: DesiredLrpSchedulingInfo, routing: DesiredLrp) -> DesiredEntry {
        let guid = routing.process_guid.clone();
        let drift = Arc::new(DesiredDrift::from_parts(
            &guid,
            &routing.routes.clone().unwrap_or_default(),
            Some(routing.metric_tags.clone()),
        ));
        DesiredEntry {
            info,
            routing,
            drift,
        }
    }

    fn domain(&self) -> &str {
        self.info
            .desired_lrp_key
            .as_ref()
            .map_or("", |k| k.domain.as_str())
    }
}

#[derive(Default)]
pub(crate) struct CacheState {
    actuals: BTreeMap<ActualKey, ActualLrp>,
    /// Keys of the rows placed on each cell (rows without a cell are not
    /// indexed).
    by_cell: HashMap<String, BTreeSet<ActualKey>>,
    desired: BTreeMap<String, DesiredEntry>,
}

impl CacheState {
    pub fn put_actual(&mut self, lrp: ActualLrp) {
        let key = actual_key(&lrp);
        let cell = cell_of(&lrp).to_string();
        if let Some(old) = self.actuals.get(&key) {
            let old_cell = cell_of(old);
            if old_cell != cell {
                self.unindex(old_cell.to_string(), &key);
            }
        }
        if !cell.is_empty() {
            self.by_cell.entry(cell).or_default().insert(key.clone());
        }
        self.actuals.insert(key, lrp);
    }

    fn unindex(&mut self, cell: String, key: &ActualKey) {
        if let Some(keys) = self.by_cell.get_mut(&cell) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_cell.remove(&cell);
            }
        }
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
    ) -> impl Iterator<Item = (&'a ActualKey, &'a ActualLrp)> + 'a {
        let from = (guid.to_string(), i32::MIN, i32::MIN);
        let guid = guid.to_string();
        self.actuals
            .range(from..)
            .take_while(move |(k, _)| k.0 == guid)
    }

    pub fn actuals(&self, f: &ActualLrpFilter) -> Vec<ActualLrp> {
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
    pub fn actuals_of(&self, guids: &[String]) -> Vec<ActualLrp> {
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
            .insert(entry.routing.process_guid.clone(), entry);
    }

    pub fn remove_desired(&mut self, guid: &str) {
        self.desired.remove(guid);
    }

    fn desired_matching<'a>(
        &'a self,
        domain: &'a str,
        guids: &[String],
    ) -> Box<dyn Iterator<Item = &'a DesiredEntry> + 'a> {
        let by_domain = move |e: &&DesiredEntry| domain.is_empty() || e.domain() == domain;
        if guids.is_empty() {
            return Box::new(self.desired.values().filter(by_domain));
        }
        let sorted: BTreeSet<String> = guids.iter().cloned().collect();
        Box::new(
            sorted
                .into_iter()
                .filter_map(|g| self.desired.get(&g))
                .filter(by_domain),
        )
    }

    pub fn scheduling_infos(&self, f: &DesiredLrpFilter) -> Vec<DesiredLrpSchedulingInfo> {
        self.desired_matching(&f.domain, &f.process_guids)
            .map(|e| e.info.clone())
            .collect()
    }

    pub fn scheduling_info(&self, guid: &str) -> Option<DesiredLrpSchedulingInfo> {
        self.desired.get(guid).map(|e| e.info.clone())
    }

    /// Routing infos are filtered by process guids only (as Diego's).
    pub fn routing_infos(&self, f: &DesiredLrpFilter) -> Vec<DesiredLrp> {
        self.desired_matching("", &f.process_guids)
            .map(|e| e.routing.clone())
            .collect()
    }

    /// What the convergence rules read, as the SQL store would read it.
    pub fn convergence_input(&self) -> (Vec<ConvergenceDesired>, Vec<ConvergenceRow>) {
        let desired = self
            .desired
            .values()
            .map(|e| ConvergenceDesired {
                process_guid: e.routing.process_guid.clone(),
                domain: e.domain().to_string(),
                instances: e.info.instances,
                drift: e.drift.clone(),
            })
            .collect();
        let ordinary = Presence::Ordinary as i32;
        let rows = self
            .actuals
            .iter()
            .map(|((guid, index, presence), l)| {
                let drift = l.state == RUNNING && *presence == ordinary;
                let instance = l.actual_lrp_instance_key.clone().unwrap_or_default();
                ConvergenceRow {
                    process_guid: guid.clone(),
                    index: *index,
                    presence: *presence,
                    domain: l
                        .actual_lrp_key
                        .as_ref()
                        .map(|k| k.domain.clone())
                        .unwrap_or_default(),
                    state: l.state.clone(),
                    instance_guid: instance.instance_guid,
                    cell_id: instance.cell_id,
                    since: l.since,
                    crash_count: l.crash_count,
                    internal_routes: Some(if drift {
                        l.actual_lrp_internal_routes.clone()
                    } else {
                        Vec::new()
                    }),
                    metric_tags: Some(if drift {
                        l.metric_tags.clone()
                    } else {
                        BTreeMap::new()
                    }),
                }
            })
            .collect();
        (desired, rows)
    }

    pub fn len(&self) -> (usize, usize) {
        (self.actuals.len(), self.desired.len())
    }
}
