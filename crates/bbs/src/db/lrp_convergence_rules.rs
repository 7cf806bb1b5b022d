//! Diego's LRP convergence rules, applied in memory to the desired LRPs
//! and actual LRP rows of one pass (read from the tables, or borrowed from
//! the LRP cache). Both lists come sorted by process guid (the rows then by
//! index and presence), so the rules walk them together in one pass: no
//! per-guid maps, and little memory allocated per pass (a pass over
//! 250,000 rows once spent more time faulting in fresh pages for its maps
//! than applying the rules).

use crate::db::{CellSet, ConvergenceResult, KeyWithInternalRoutes, KeyWithMetricTags};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use models::metric_tag_value::DynamicValue;
use models::{
    convert_metric_tags, ActualLrp, ActualLrpInstanceKey, ActualLrpInternalRoute, ActualLrpKey,
    MetricTagValue, ProtoRoutes, RestartCalculator,
};
use rustc_hash::FxHashSet;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Diego's StaleUnclaimedActualLRPDuration.
pub const STALE_UNCLAIMED_ACTUAL_LRP_DURATION_NS: i64 = 30_000_000_000;

/// The router group whose routes are an instance's internal routes.
const INTERNAL_ROUTER: &str = "internal-router";

/// What the rules read of an actual LRP row.
pub(crate) struct ConvergenceRow<'a> {
    pub process_guid: &'a str,
    pub index: i32,
    pub presence: i32,
    pub domain: &'a str,
    pub state: &'a str,
    pub instance_guid: &'a str,
    pub cell_id: &'a str,
    pub since: i64,
    pub crash_count: i32,
    /// Only read for RUNNING ordinary rows; None when the stored value does
    /// not decode (the check is skipped).
    pub internal_routes: Option<&'a [ActualLrpInternalRoute]>,
    /// As `internal_routes`; empty when the instance reported none.
    pub metric_tags: Option<&'a BTreeMap<String, String>>,
}

impl ConvergenceRow<'_> {
    /// A row of a record (the LRP cache's).
    pub fn of(l: &ActualLrp) -> ConvergenceRow<'_> {
        let drift = l.state == RUNNING && l.presence == Presence::Ordinary as i32;
        let (process_guid, index, domain) = l
            .actual_lrp_key
            .as_ref()
            .map_or(("", 0, ""), |k| (&*k.process_guid, k.index, &*k.domain));
        let (instance_guid, cell_id) = l
            .actual_lrp_instance_key
            .as_ref()
            .map_or(("", ""), |k| (&*k.instance_guid, &*k.cell_id));
        ConvergenceRow {
            process_guid,
            index,
            presence: l.presence,
            domain,
            state: &l.state,
            instance_guid,
            cell_id,
            since: l.since,
            crash_count: l.crash_count,
            internal_routes: drift.then_some(&l.actual_lrp_internal_routes[..]),
            metric_tags: drift.then_some(&l.metric_tags),
        }
    }

    fn key(&self) -> ActualLrpKey {
        ActualLrpKey {
            process_guid: self.process_guid.to_string(),
            index: self.index,
            domain: self.domain.to_string(),
        }
    }

    /// The order the rules need: process guid (bytes), index, presence.
    pub fn order(&self, other: &ConvergenceRow<'_>) -> Ordering {
        (self.process_guid.as_bytes(), self.index, self.presence).cmp(&(
            other.process_guid.as_bytes(),
            other.index,
            other.presence,
        ))
    }
}

/// What the rules read of a desired LRP. Full scheduling infos are read
/// afterwards, only for the desired LRPs that have work.
pub(crate) struct ConvergenceDesired<'a> {
    pub process_guid: &'a str,
    pub domain: &'a str,
    pub instances: i32,
    pub drift: &'a DesiredDrift,
}

/// What the drift rules compare a desired LRP's RUNNING instances with:
/// its internal routes and metric tags (None when either does not parse).
/// `routes_ok` is false when the routes column does not decode at all:
/// such a row is skipped, as the scheduling info list skips it.
pub(crate) struct DesiredDrift {
    pub routes_ok: bool,
    internal: Option<Vec<String>>,
    tags: DriftTags,
}

/// A desired LRP's metric tags, borrowed or decoded.
pub(crate) type Tags<'a> = Cow<'a, BTreeMap<String, MetricTagValue>>;

/// A desired LRP's metric tags. The LRP cache keeps them encoded, a third
/// of their decoded size (at 250,000 LRPs that is hundreds of MB), and
/// decodes one desired LRP's at a time when the rules compare them.
enum DriftTags {
    Undecodable,
    Decoded(BTreeMap<String, MetricTagValue>),
    Encoded(bytes::Bytes),
}

impl DesiredDrift {
    /// Routes that did not decode: the desired LRP is skipped.
    pub(crate) fn undecodable() -> DesiredDrift {
        DesiredDrift {
            routes_ok: false,
            internal: None,
            tags: DriftTags::Undecodable,
        }
    }

    /// The drift data of a desired LRP from its decoded routes and metric
    /// tags (None: the tags did not decode).
    pub(crate) fn from_parts(
        guid: &str,
        routes: &ProtoRoutes,
        tags: Option<BTreeMap<String, MetricTagValue>>,
    ) -> DesiredDrift {
        DesiredDrift {
            routes_ok: true,
            internal: internal_routes_or_warn(guid, routes),
            tags: tags.map_or(DriftTags::Undecodable, DriftTags::Decoded),
        }
    }

    /// As `from_parts`, keeping the tags encoded (for the LRP cache).
    pub(crate) fn compact(
        guid: &str,
        routes: &ProtoRoutes,
        tags: BTreeMap<String, MetricTagValue>,
    ) -> DesiredDrift {
        let holder = models::DesiredLrp {
            metric_tags: tags,
            ..Default::default()
        };
        DesiredDrift {
            routes_ok: true,
            internal: internal_routes_or_warn(guid, routes),
            tags: DriftTags::Encoded(prost::Message::encode_to_vec(&holder).into()),
        }
    }

    /// The desired LRP's metric tags, if they decoded.
    pub(crate) fn metric_tags(&self) -> Option<Tags<'_>> {
        match &self.tags {
            DriftTags::Undecodable => None,
            DriftTags::Decoded(t) => Some(Cow::Borrowed(t)),
            DriftTags::Encoded(b) => {
                let holder = <models::DesiredLrp as prost::Message>::decode(b.as_ref())
                    .expect("the cache decodes the tags it encoded");
                Some(Cow::Owned(holder.metric_tags))
            }
        }
    }

    /// Internal routes and metric tags, when both decoded.
    fn expected(&self) -> Option<(&[String], Tags<'_>)> {
        Some((self.internal.as_deref()?, self.metric_tags()?))
    }
}

fn internal_routes_or_warn(guid: &str, routes: &ProtoRoutes) -> Option<Vec<String>> {
    desired_internal_routes(routes)
        .map_err(|e| {
            tracing::warn!(process_guid = guid, error = %e,
                "failed-getting-internal-routes-from-desired");
        })
        .ok()
}

/// Diego's InternalRoutesFromRoutingInfo: the `internal-router` routes.
fn desired_internal_routes(routes: &ProtoRoutes) -> Result<Vec<String>, String> {
    let Some(data) = routes.routes.get(INTERNAL_ROUTER) else {
        return Ok(Vec::new());
    };
    #[derive(serde::Deserialize)]
    struct Route {
        #[serde(default)]
        hostname: String,
    }
    let routes: Option<Vec<Route>> = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    Ok(routes
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.hostname)
        .collect())
}

/// Diego's LRP convergence rules over the desired LRPs (sorted by process
/// guid) and actual LRP rows (sorted by [`ConvergenceRow::order`]), each
/// seen through its view function. Fills `result` except for the keys
/// that need scheduling infos, returned as [missing cells, stale
/// unclaimed, missing indices, restartable crashed].
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_rules<'a, D, R>(
    known_domains: &BTreeSet<String>,
    desired: &'a [D],
    desired_view: impl Fn(&'a D) -> ConvergenceDesired<'a>,
    rows: &'a [R],
    row_view: impl Fn(&'a R) -> ConvergenceRow<'a>,
    cells: &CellSet,
    fresh_domains: &BTreeSet<String>,
    now: i64,
    result: &mut ConvergenceResult,
) -> [Vec<ActualLrpKey>; 4] {
    debug_assert!(desired
        .windows(2)
        .all(|w| desired_view(&w[0]).process_guid < desired_view(&w[1]).process_guid));
    debug_assert!(rows
        .windows(2)
        .all(|w| row_view(&w[0]).order(&row_view(&w[1])).is_le()));
    let mut pass = Pass {
        known_domains,
        fresh_domains,
        cells: cells.iter().map(String::as_str).collect(),
        any_cells: !cells.is_empty(),
        calc: RestartCalculator::default(),
        now,
        stale_before: now - STALE_UNCLAIMED_ACTUAL_LRP_DURATION_NS,
        out: Lists::default(),
        result,
    };
    let mut desired = desired.iter().map(desired_view).peekable();
    let mut group: Option<Group> = None;
    for row in rows.iter().map(row_view) {
        if group.as_ref().is_none_or(|g| g.guid != row.process_guid) {
            if let Some(g) = group.take() {
                pass.end_group(g);
            }
            // Desired LRPs without any row come before this guid.
            while let Some(d) = desired.next_if(|d| d.process_guid < row.process_guid) {
                pass.instance_counts(&d, &[]);
            }
            let info = desired.next_if(|d| d.process_guid == row.process_guid);
            group = Some(Group::new(row.process_guid, info));
        }
        let g = group.as_mut().expect("a group was just started");
        pass.row(g, &row);
    }
    if let Some(g) = group.take() {
        pass.end_group(g);
    }
    for d in desired {
        pass.instance_counts(&d, &[]);
    }
    pass.finish()
}

/// The rows of one process guid seen so far.
struct Group<'a> {
    guid: &'a str,
    info: Option<ConvergenceDesired<'a>>,
    /// Indices of the ordinary rows (ascending, one per index).
    ordinary: Vec<i32>,
    /// The index being walked, and its RUNNING ordinary + suspect rows per
    /// domain (two of one index: the suspect is retired).
    index: Option<i32>,
    running: Vec<(&'a str, u32)>,
}

impl<'a> Group<'a> {
    fn new(guid: &'a str, info: Option<ConvergenceDesired<'a>>) -> Group<'a> {
        Group {
            guid,
            info,
            ordinary: Vec::new(),
            index: None,
            running: Vec::new(),
        }
    }
}

/// Lists the rules fill besides `result`.
#[derive(Default)]
struct Lists {
    missing_cell_keys: Vec<ActualLrpKey>,
    missing_cells: BTreeSet<String>,
    unstarted_stale: Vec<ActualLrpKey>,
    unstarted_crashed: Vec<ActualLrpKey>,
    missing_keys: Vec<ActualLrpKey>,
    extra: Vec<ActualLrpKey>,
    orphans: Vec<ActualLrpKey>,
    orphan_suspects: Vec<ActualLrpKey>,
    extra_suspects: Vec<ActualLrpKey>,
}

struct Pass<'p> {
    known_domains: &'p BTreeSet<String>,
    fresh_domains: &'p BTreeSet<String>,
    /// The present cells, hashed: looked up for every row.
    cells: FxHashSet<&'p str>,
    any_cells: bool,
    calc: RestartCalculator,
    now: i64,
    stale_before: i64,
    out: Lists,
    result: &'p mut ConvergenceResult,
}

impl Pass<'_> {
    fn row<'a>(&mut self, g: &mut Group<'a>, row: &ConvergenceRow<'a>) {
        let ordinary = Presence::Ordinary as i32;
        let suspect = Presence::Suspect as i32;
        if g.index != Some(row.index) {
            self.end_index(g);
            g.index = Some(row.index);
        }
        if row.presence == ordinary {
            g.ordinary.push(row.index);
        }
        if (row.presence == ordinary || row.presence == suspect) && row.state == RUNNING {
            match g.running.iter_mut().find(|(d, _)| *d == row.domain) {
                Some((_, n)) => *n += 1,
                None => g.running.push((row.domain, 1)),
            }
        }
        let present = |cell: &str| self.any_cells && self.cells.contains(cell);

        // Missing cells: CLAIMED/RUNNING rows of any presence with a desired LRP.
        if let Some(info) = &g.info {
            if (row.state == RUNNING || row.state == CLAIMED)
                && (!self.any_cells || (!present(row.cell_id) && !row.cell_id.is_empty()))
            {
                if row.presence == ordinary {
                    self.out.missing_cell_keys.push(key_of(row, info));
                }
                if !self.out.missing_cells.contains(row.cell_id) {
                    self.out.missing_cells.insert(row.cell_id.to_string());
                }
            }
        }

        if row.presence == ordinary {
            match &g.info {
                Some(info) => {
                    if row.state == UNCLAIMED && row.since < self.stale_before {
                        self.out.unstarted_stale.push(key_of(row, info));
                    }
                    if row.state == CRASHED {
                        let lrp = ActualLrp {
                            state: CRASHED.to_string(),
                            since: row.since,
                            crash_count: row.crash_count,
                            ..Default::default()
                        };
                        if lrp.should_restart_crash(self.now, &self.calc) {
                            self.out.unstarted_crashed.push(key_of(row, info));
                        }
                    }
                    if row.state == RUNNING {
                        if let Some((routes, tags)) = info.drift.expected() {
                            check_drift(row, routes, &tags, self.result);
                        }
                    }
                }
                None => {
                    // Orphans, only in domains that still exist.
                    if self.known_domains.contains(row.domain) {
                        self.out.orphans.push(row.key());
                    }
                }
            }
        } else if row.presence == suspect {
            if g.info.is_none() && self.known_domains.contains(row.domain) {
                self.out.orphan_suspects.push(row.key());
            }
            if present(row.cell_id) {
                self.result.suspect_keys_with_existing_cells.push(row.key());
            }
            if row.state == RUNNING {
                self.result.suspect_running_keys.push(row.key());
            } else if row.state == CLAIMED {
                self.result.suspect_claimed_keys.push(row.key());
            }
        }
    }

    /// An index whose ordinary and suspect rows both run: the suspect goes.
    fn end_index(&mut self, g: &mut Group<'_>) {
        if let Some(index) = g.index {
            for (domain, n) in g.running.drain(..) {
                if n >= 2 {
                    self.out.extra_suspects.push(ActualLrpKey {
                        process_guid: g.guid.to_string(),
                        index,
                        domain: domain.to_string(),
                    });
                }
            }
        }
    }

    fn end_group(&mut self, mut g: Group<'_>) {
        self.end_index(&mut g);
        if let Some(info) = &g.info {
            self.instance_counts(info, &g.ordinary);
        }
    }

    /// A desired LRP's missing and (in fresh domains) extra indices, given
    /// its ordinary rows' indices (ascending, one per index).
    fn instance_counts(&mut self, d: &ConvergenceDesired<'_>, existing: &[i32]) {
        if existing.len() as i64 == i64::from(d.instances) {
            return;
        }
        let key = |index| ActualLrpKey {
            process_guid: d.process_guid.to_string(),
            index,
            domain: d.domain.to_string(),
        };
        for index in 0..d.instances.max(0) {
            if existing.binary_search(&index).is_err() {
                self.out.missing_keys.push(key(index));
            }
        }
        // Destructive only for fresh domains.
        if self.fresh_domains.contains(d.domain) {
            let first_extra = existing.partition_point(|&i| i < d.instances.max(0));
            for &index in &existing[first_extra..] {
                self.out.extra.push(key(index));
            }
        }
    }

    fn finish(self) -> [Vec<ActualLrpKey>; 4] {
        let Lists {
            missing_cell_keys,
            missing_cells,
            unstarted_stale,
            unstarted_crashed,
            missing_keys,
            mut extra,
            orphans,
            orphan_suspects,
            extra_suspects,
        } = self.out;
        let result = self.result;
        result.missing_cell_ids = missing_cells.into_iter().collect();
        // Diego lists the extras before the orphans.
        extra.append(&mut result.keys_to_retire);
        extra.extend(orphans);
        result.keys_to_retire = extra;
        // Suspects to remove: orphans, then those whose ordinary also runs.
        result.suspect_keys_to_retire.extend(orphan_suspects);
        result.suspect_keys_to_retire.extend(extra_suspects);
        [
            missing_cell_keys,
            unstarted_stale,
            missing_keys,
            unstarted_crashed,
        ]
    }
}

/// The key of an instance of a desired LRP (its scheduling info is
/// attached at the end).
fn key_of(row: &ConvergenceRow<'_>, d: &ConvergenceDesired<'_>) -> ActualLrpKey {
    ActualLrpKey {
        process_guid: d.process_guid.to_string(),
        index: row.index,
        domain: d.domain.to_string(),
    }
}

fn check_drift(
    row: &ConvergenceRow<'_>,
    desired_routes: &[String],
    desired_tags: &BTreeMap<String, MetricTagValue>,
    result: &mut ConvergenceResult,
) {
    let instance_key = || ActualLrpInstanceKey {
        instance_guid: row.instance_guid.to_string(),
        cell_id: row.cell_id.to_string(),
    };
    if let Some(actual) = row.internal_routes {
        if !same_routes(actual, desired_routes) {
            result
                .keys_with_internal_route_changes
                .push(KeyWithInternalRoutes {
                    key: row.key(),
                    instance_key: instance_key(),
                    desired_internal_routes: desired_routes
                        .iter()
                        .map(|h| ActualLrpInternalRoute {
                            hostname: h.clone(),
                        })
                        .collect(),
                });
        }
    }
    // Instances that reported no metric tags are left alone (Diego's nil map).
    if let Some(actual) = row.metric_tags.filter(|t| !t.is_empty()) {
        if !metric_tags_match(actual, desired_tags, row.index, row.instance_guid) {
            result.keys_with_metric_tag_changes.push(KeyWithMetricTags {
                key: row.key(),
                instance_key: instance_key(),
                desired_metric_tags: convert_metric_tags(
                    desired_tags,
                    row.index,
                    row.instance_guid,
                ),
            });
        }
    }
}

/// Order-insensitive comparison (Diego's InternalRoutes.Equal).
fn same_routes(actual: &[ActualLrpInternalRoute], desired: &[String]) -> bool {
    if actual.len() != desired.len() {
        return false;
    }
    // Nearly always one route or none: compare in place before building a set.
    if actual
        .iter()
        .zip(desired)
        .all(|(a, d)| a.hostname == d.as_str())
    {
        return true;
    }
    let have: BTreeSet<&str> = actual.iter().map(|r| r.hostname.as_str()).collect();
    desired.iter().all(|h| have.contains(h.as_str()))
}

/// `actual == convert_metric_tags(desired, index, instance_guid)` without
/// building the resolved map (the check runs for every RUNNING instance).
fn metric_tags_match(
    actual: &BTreeMap<String, String>,
    desired: &BTreeMap<String, MetricTagValue>,
    index: i32,
    instance_guid: &str,
) -> bool {
    actual.len() == desired.len()
        && actual.iter().zip(desired).all(|((ak, av), (dk, dv))| {
            ak == dk
                && match dv.dynamic() {
                    DynamicValue::Index => is_decimal(av, index),
                    DynamicValue::InstanceGuid => av == instance_guid,
                    _ => *av == dv.r#static,
                }
        })
}

/// `s == n.to_string()` without allocating.
fn is_decimal(s: &str, n: i32) -> bool {
    use std::io::Write as _;
    let mut buf = [0u8; 12];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{n}").expect("an i32 fits in 12 bytes");
    let len = cursor.position() as usize;
    s.as_bytes() == &buf[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_tags_match_agrees_with_resolving() {
        let s = |v: &str| MetricTagValue {
            r#static: v.into(),
            dynamic: 0,
        };
        let d = |dv: DynamicValue| MetricTagValue {
            r#static: String::new(),
            dynamic: dv as i32,
        };
        let desired: BTreeMap<String, MetricTagValue> = [
            ("app", s("a")),
            ("index", d(DynamicValue::Index)),
            ("guid", d(DynamicValue::InstanceGuid)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let want = convert_metric_tags(&desired, 3, "ig");
        assert!(metric_tags_match(&want, &desired, 3, "ig"));
        for (k, v) in [
            ("app", "b"),
            ("index", "03"),
            ("index", "+3"),
            ("index", " 3"),
            ("guid", "other"),
        ] {
            let mut other = want.clone();
            other.insert(k.into(), v.into());
            assert!(!metric_tags_match(&other, &desired, 3, "ig"), "{k}={v}");
        }
        let mut fewer = want.clone();
        fewer.remove("app");
        assert!(!metric_tags_match(&fewer, &desired, 3, "ig"));
        assert!(!metric_tags_match(&want, &desired, 4, "ig"));
    }

    #[test]
    fn same_routes_ignores_order() {
        let a = |h: &[&str]| {
            h.iter()
                .map(|h| ActualLrpInternalRoute {
                    hostname: h.to_string(),
                })
                .collect::<Vec<_>>()
        };
        let d = |h: &[&str]| h.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        assert!(same_routes(&a(&["x", "y"]), &d(&["y", "x"])));
        assert!(same_routes(&a(&[]), &d(&[])));
        assert!(!same_routes(&a(&["x"]), &d(&["y"])));
        assert!(!same_routes(&a(&["x", "x"]), &d(&["x", "y"])));
    }
}
