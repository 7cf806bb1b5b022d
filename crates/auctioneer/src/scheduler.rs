//! Diego's auction scheduler (`auction/auctionrunner`): places a batch of
//! LRP instances and tasks on cells, one at a time, against an in-memory
//! copy of the cells' states so that every decision sees the earlier ones.
//!
//! - Order: LRPs by index ascending then memory descending, tasks by
//!   memory descending; index-0 LRPs first, then tasks, then the other LRPs.
//! - A cell is a candidate when it provides the rootfs, has every volume
//!   driver and its placement tags fit (required ⊆ desired ⊆ required ∪
//!   optional); then it must have the disk, memory (LRPs: plus the cell's
//!   proxy memory) and one container free.
//! - Score, lower wins: resource score (mean used fraction after placing) +
//!   `starting_container_weight` × starting containers + 1000 × instances
//!   of the same process on the cell (tasks: tasks on the cell) +
//!   `bin_pack_first_fit_weight` × cell index (LRPs).
//! - LRPs are balanced across zones: zones are tried in ascending order of
//!   this process's instance count; the first group of equally-loaded zones
//!   that has a fitting cell wins.
//! - `starting_container_count_maximum` (> 0) caps containers starting at
//!   once across all cells.
//!
//! Zones are kept in name order (Diego iterates a Go map, i.e. at random).

use models::rep::{CellState, InsufficientResources, Lrp, PlacementConstraint, Task, Work};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// FNV-1a: process guids are hashed once per cell per auction, so a cheap
/// hash matters (no DoS concern: the keys come from the BBS).
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Added to a cell's score per instance of the same process (tasks: per
/// task) already on it.
pub const LOCALITY_OFFSET: f64 = 1000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerConfig {
    pub bin_pack_first_fit_weight: f64,
    pub starting_container_weight: f64,
    /// <= 0: no limit.
    pub starting_container_count_maximum: i32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            bin_pack_first_fit_weight: 0.0,
            starting_container_weight: 0.25,
            starting_container_count_maximum: 0,
        }
    }
}

/// Why something was not placed; `Display` gives Diego's exact text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    CellMismatch,
    VolumeDriverMismatch,
    PlacementTagMismatch(Vec<String>),
    InsufficientResources(InsufficientResources),
    CellCommunication,
    ExceededInflightCreation,
}

impl std::fmt::Display for PlacementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlacementError::CellMismatch => {
                write!(f, "found no compatible cell for required rootfs")
            }
            PlacementError::VolumeDriverMismatch => {
                write!(f, "found no compatible cell with required volume drivers")
            }
            PlacementError::PlacementTagMismatch(tags) => match tags.as_slice() {
                [] => write!(f, "found no compatible cell with no placement tags"),
                [one] => write!(f, "found no compatible cell with placement tag \"{one}\""),
                [init @ .., last] => {
                    let quoted: Vec<String> = init.iter().map(|t| format!("\"{t}\"")).collect();
                    write!(
                        f,
                        "found no compatible cell with placement tags {} and \"{last}\"",
                        quoted.join(", ")
                    )
                }
            },
            PlacementError::InsufficientResources(p) => write!(f, "{p}"),
            PlacementError::CellCommunication => {
                write!(f, "unable to communicate to compatible cells")
            }
            PlacementError::ExceededInflightCreation => {
                write!(
                    f,
                    "waiting to start instance: reached in-flight start limit"
                )
            }
        }
    }
}

impl std::error::Error for PlacementError {}

/// One LRP instance being auctioned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LrpAuction {
    pub lrp: Lrp,
    pub winner: String,
    pub attempts: u32,
    pub placement_error: String,
}

/// One task being auctioned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskAuction {
    pub task: Task,
    pub winner: String,
    pub attempts: u32,
    pub placement_error: String,
}

impl LrpAuction {
    pub fn new(lrp: Lrp) -> Self {
        Self {
            lrp,
            ..Default::default()
        }
    }
}

impl TaskAuction {
    pub fn new(task: Task) -> Self {
        Self {
            task,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuctionResults {
    pub successful_lrps: Vec<LrpAuction>,
    pub successful_tasks: Vec<TaskAuction>,
    pub failed_lrps: Vec<LrpAuction>,
    pub failed_tasks: Vec<TaskAuction>,
}

/// A cell in the auction: its state (updated as work is reserved) and the
/// work to send it.
#[derive(Debug, Clone)]
pub struct Cell {
    pub guid: String,
    /// Where to send the work (the rep's URL); not used by the scheduler.
    pub rep_url: String,
    pub state: CellState,
    /// The cell index the bin-pack term uses (normalised per zone when
    /// `bin_pack_first_fit_weight` > 0).
    pub index: i32,
    pub work: Work,
    process_counts: FnvMap<String, u32>,
}

impl Cell {
    pub fn new(guid: &str, rep_url: &str, state: CellState) -> Self {
        let mut process_counts: FnvMap<String, u32> = FnvMap::default();
        for l in &state.lrps {
            *process_counts.entry(l.process_guid.clone()).or_default() += 1;
        }
        Self {
            guid: guid.to_string(),
            rep_url: rep_url.to_string(),
            index: state.cell_index,
            work: Work {
                cell_id: guid.to_string(),
                ..Default::default()
            },
            state,
            process_counts,
        }
    }

    /// Instances of `process_guid` on this cell (reported and reserved).
    pub fn instances_of(&self, process_guid: &str) -> u32 {
        self.process_counts.get(process_guid).copied().unwrap_or(0)
    }

    fn filter(
        &self,
        lrp_or_task: &models::rep::PlacementConstraint,
        rootfs: Option<&(String, String)>,
    ) -> FilterStage {
        if !self.state.match_root_fs_parts(rootfs) {
            FilterStage::RootFs
        } else if !self.state.match_volume_drivers(&lrp_or_task.volume_drivers) {
            FilterStage::VolumeDrivers
        } else if !self.state.match_placement_tags(&lrp_or_task.placement_tags) {
            FilterStage::PlacementTags
        } else {
            FilterStage::Pass
        }
    }

    pub fn score_for_lrp(
        &self,
        lrp: &Lrp,
        starting_container_weight: f64,
        bin_pack_first_fit_weight: f64,
    ) -> Result<f64, InsufficientResources> {
        let mut proxied = lrp.resource;
        proxied.memory_mb += self.state.proxy_memory_allocation_mb;
        self.state.resource_match(&proxied)?;
        let locality = LOCALITY_OFFSET * f64::from(self.instances_of(&lrp.process_guid));
        let resource = self
            .state
            .compute_score(&proxied, starting_container_weight);
        let index = f64::from(self.index) * bin_pack_first_fit_weight;
        Ok(resource + locality + index)
    }

    pub fn score_for_task(
        &self,
        task: &Task,
        starting_container_weight: f64,
    ) -> Result<f64, InsufficientResources> {
        self.state.resource_match(&task.resource)?;
        let locality = LOCALITY_OFFSET * self.state.tasks.len() as f64;
        Ok(self
            .state
            .compute_score(&task.resource, starting_container_weight)
            + locality)
    }

    /// Reserves `lrp` here (checked against its own resources, as Diego).
    pub fn reserve_lrp(&mut self, lrp: &Lrp) -> Result<(), InsufficientResources> {
        self.state.resource_match(&lrp.resource)?;
        self.state.add_lrp(lrp);
        *self
            .process_counts
            .entry(lrp.process_guid.clone())
            .or_default() += 1;
        self.work.lrps.push(lrp.clone());
        Ok(())
    }

    pub fn reserve_task(&mut self, task: &Task) -> Result<(), InsufficientResources> {
        self.state.resource_match(&task.resource)?;
        self.state.add_task(task);
        self.work.tasks.push(task.clone());
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterStage {
    RootFs,
    VolumeDrivers,
    PlacementTags,
    Pass,
}

/// Cells by zone name.
pub type Zones = BTreeMap<String, Vec<Cell>>;

/// Groups cells by zone; with `bin_pack_first_fit_weight` > 0 each zone's
/// cells are sorted by cell index and re-indexed 0, 1, 2, ...
pub fn build_zones(cells: Vec<Cell>, bin_pack_first_fit_weight: f64) -> Zones {
    let mut zones = Zones::new();
    for c in cells {
        zones.entry(c.state.zone.clone()).or_default().push(c);
    }
    if bin_pack_first_fit_weight > 0.0 {
        for cells in zones.values_mut() {
            cells.sort_by_key(|c| c.state.cell_index);
            for (i, c) in cells.iter_mut().enumerate() {
                c.index = i as i32;
            }
        }
    }
    zones
}

/// Diego's filterCells for one zone: the passing cells' positions, or the
/// furthest stage any cell got to as an error.
fn filter_zone(
    cells: &[Cell],
    pc: &models::rep::PlacementConstraint,
) -> Result<Vec<usize>, PlacementError> {
    let mut passing = Vec::new();
    let mut furthest = FilterStage::RootFs;
    let rootfs = models::rep::split_rootfs_url(&pc.root_fs);
    for (i, c) in cells.iter().enumerate() {
        let stage = c.filter(pc, rootfs.as_ref());
        furthest = match (furthest, stage) {
            (FilterStage::Pass, _) | (_, FilterStage::Pass) => FilterStage::Pass,
            (FilterStage::PlacementTags, _) | (_, FilterStage::PlacementTags) => {
                FilterStage::PlacementTags
            }
            (FilterStage::VolumeDrivers, _) | (_, FilterStage::VolumeDrivers) => {
                FilterStage::VolumeDrivers
            }
            _ => FilterStage::RootFs,
        };
        if stage == FilterStage::Pass {
            passing.push(i);
        }
    }
    match furthest {
        FilterStage::Pass => Ok(passing),
        // No cell provides the rootfs.
        FilterStage::RootFs => Err(PlacementError::CellMismatch),
        // Some cell provides the rootfs but none has the drivers.
        FilterStage::VolumeDrivers => Err(PlacementError::VolumeDriverMismatch),
        FilterStage::PlacementTags => Err(PlacementError::PlacementTagMismatch(
            pc.placement_tags.clone(),
        )),
    }
}

/// Diego's choice of error across zones: the most specific one seen.
fn merge_zone_error(current: Option<PlacementError>, err: PlacementError) -> PlacementError {
    match current {
        None
        | Some(PlacementError::CellMismatch)
        | Some(PlacementError::PlacementTagMismatch(_)) => err,
        Some(PlacementError::VolumeDriverMismatch) => match err {
            PlacementError::PlacementTagMismatch(_) => err,
            _ => PlacementError::VolumeDriverMismatch,
        },
        Some(other) => other,
    }
}

/// Per zone (by position in name order): the cells passing a filter.
type Filtered = Result<Vec<(usize, Vec<usize>)>, PlacementError>;

/// One auction's scheduler over a set of zones.
pub struct Scheduler {
    cfg: SchedulerConfig,
    zones: Zones,
    zone_names: Vec<String>,
    /// Filter results per placement constraint (what the filters look at
    /// does not change while scheduling).
    filters: HashMap<PlacementConstraint, Arc<Filtered>>,
    /// Instances per zone (positions as `zone_names`) per process guid,
    /// kept up to date as instances are reserved.
    zone_counts: FnvMap<String, Vec<u32>>,
}

/// What [`Scheduler::schedule`] decided before the work was sent.
#[derive(Debug, Default)]
pub struct Scheduled {
    successful_lrps: BTreeMap<String, LrpAuction>,
    successful_tasks: BTreeMap<String, TaskAuction>,
    lrp_lookup: HashMap<String, LrpAuction>,
    task_lookup: HashMap<String, TaskAuction>,
    failed_lrps: Vec<LrpAuction>,
    failed_tasks: Vec<TaskAuction>,
}

impl Scheduled {
    /// Placements before any cell refused work.
    pub fn placed(&self) -> (usize, usize) {
        (self.successful_lrps.len(), self.successful_tasks.len())
    }

    /// The results once the cells have answered: what a cell returned as
    /// failed work becomes a failure (its placement error left empty, as
    /// Diego does).
    pub fn finish(mut self, failed_works: Vec<Work>) -> AuctionResults {
        for w in failed_works {
            for l in w.lrps {
                let id = l.identifier();
                self.successful_lrps.remove(&id);
                if let Some(a) = self.lrp_lookup.get(&id) {
                    self.failed_lrps.push(a.clone());
                }
            }
            for t in w.tasks {
                self.successful_tasks.remove(&t.task_guid);
                if let Some(a) = self.task_lookup.get(&t.task_guid) {
                    self.failed_tasks.push(a.clone());
                }
            }
        }
        let mut r = AuctionResults {
            successful_lrps: self.successful_lrps.into_values().collect(),
            successful_tasks: self.successful_tasks.into_values().collect(),
            failed_lrps: self.failed_lrps,
            failed_tasks: self.failed_tasks,
        };
        mark_attempts(&mut r);
        r
    }
}

fn mark_attempts(r: &mut AuctionResults) {
    r.successful_lrps.iter_mut().for_each(|a| a.attempts += 1);
    r.failed_lrps.iter_mut().for_each(|a| a.attempts += 1);
    r.successful_tasks.iter_mut().for_each(|a| a.attempts += 1);
    r.failed_tasks.iter_mut().for_each(|a| a.attempts += 1);
}

impl Scheduler {
    pub fn new(zones: Zones, cfg: SchedulerConfig) -> Self {
        Self {
            cfg,
            zone_names: zones.keys().cloned().collect(),
            zones,
            filters: HashMap::new(),
            zone_counts: FnvMap::default(),
        }
    }

    fn filtered(&mut self, pc: &PlacementConstraint) -> Arc<Filtered> {
        if let Some(f) = self.filters.get(pc) {
            return f.clone();
        }
        let mut candidates = Vec::new();
        let mut zone_error: Option<PlacementError> = None;
        for (zi, name) in self.zone_names.iter().enumerate() {
            match filter_zone(&self.zones[name], pc) {
                Ok(passing) => candidates.push((zi, passing)),
                Err(e) => zone_error = Some(merge_zone_error(zone_error, e)),
            }
        }
        let f = Arc::new(if candidates.is_empty() {
            Err(zone_error.unwrap_or(PlacementError::CellMismatch))
        } else {
            Ok(candidates)
        });
        self.filters.insert(pc.clone(), f.clone());
        f
    }

    fn zone_counts(&mut self, process_guid: &str) -> &mut Vec<u32> {
        if !self.zone_counts.contains_key(process_guid) {
            let counts = self
                .zone_names
                .iter()
                .map(|n| {
                    self.zones[n]
                        .iter()
                        .map(|c| c.instances_of(process_guid))
                        .sum()
                })
                .collect();
            self.zone_counts.insert(process_guid.to_string(), counts);
        }
        self.zone_counts
            .get_mut(process_guid)
            .expect("just inserted")
    }

    pub fn zones(&self) -> &Zones {
        &self.zones
    }

    /// The cells with the work reserved on them.
    pub fn into_cells(self) -> impl Iterator<Item = Cell> {
        self.zones.into_values().flatten()
    }

    /// Schedules and finishes at once, as if every cell took its work.
    pub fn schedule_all(
        &mut self,
        lrps: Vec<LrpAuction>,
        tasks: Vec<TaskAuction>,
    ) -> AuctionResults {
        self.schedule(lrps, tasks).finish(Vec::new())
    }

    /// Places the batch (reserving in the in-memory cell states); the work
    /// per cell is then in each [`Cell::work`].
    pub fn schedule(
        &mut self,
        mut lrps: Vec<LrpAuction>,
        mut tasks: Vec<TaskAuction>,
    ) -> Scheduled {
        let mut out = Scheduled::default();
        if self.zones.is_empty() {
            let msg = PlacementError::CellCommunication.to_string();
            for mut a in lrps {
                a.placement_error = msg.clone();
                out.failed_lrps.push(a);
            }
            for mut a in tasks {
                a.placement_error = msg.clone();
                out.failed_tasks.push(a);
            }
            return out;
        }

        let mut inflight: i64 = self
            .zones
            .values()
            .flatten()
            .map(|c| i64::from(c.state.starting_container_count))
            .sum();

        // Stable sorts (Go's sort.Sort is not stable; ties are unordered
        // there, arrival order here).
        lrps.sort_by(|a, b| {
            a.lrp
                .index
                .cmp(&b.lrp.index)
                .then(b.lrp.resource.memory_mb.cmp(&a.lrp.resource.memory_mb))
        });
        tasks.sort_by_key(|a| std::cmp::Reverse(a.task.resource.memory_mb));
        let split = lrps
            .iter()
            .position(|a| a.lrp.index > 0)
            .unwrap_or(lrps.len());
        let after: Vec<LrpAuction> = lrps.split_off(split);

        self.auction_lrps(lrps, &mut inflight, &mut out);
        for mut a in tasks {
            out.task_lookup.insert(a.task.task_guid.clone(), a.clone());
            if self.exceeded(inflight) {
                a.placement_error = PlacementError::ExceededInflightCreation.to_string();
                out.failed_tasks.push(a);
                continue;
            }
            match self.schedule_task(&a.task) {
                Ok(winner) => {
                    a.winner = winner;
                    out.successful_tasks.insert(a.task.task_guid.clone(), a);
                    inflight += 1;
                }
                Err(e) => {
                    a.placement_error = e.to_string();
                    out.failed_tasks.push(a);
                }
            }
        }
        self.auction_lrps(after, &mut inflight, &mut out);
        out
    }

    fn exceeded(&self, inflight: i64) -> bool {
        self.cfg.starting_container_count_maximum > 0
            && inflight >= i64::from(self.cfg.starting_container_count_maximum)
    }

    fn auction_lrps(&mut self, lrps: Vec<LrpAuction>, inflight: &mut i64, out: &mut Scheduled) {
        for mut a in lrps {
            let id = a.lrp.identifier();
            out.lrp_lookup.insert(id.clone(), a.clone());
            if self.exceeded(*inflight) {
                a.placement_error = PlacementError::ExceededInflightCreation.to_string();
                out.failed_lrps.push(a);
                continue;
            }
            match self.schedule_lrp(&a.lrp) {
                Ok(winner) => {
                    a.winner = winner;
                    out.successful_lrps.insert(id, a);
                    *inflight += 1;
                }
                Err(e) => {
                    a.placement_error = e.to_string();
                    out.failed_lrps.push(a);
                }
            }
        }
    }

    /// Places one LRP instance; returns the winning cell's guid.
    pub fn schedule_lrp(&mut self, lrp: &Lrp) -> Result<String, PlacementError> {
        let filtered = self.filtered(&lrp.placement_constraint);
        let filtered = match filtered.as_ref() {
            Ok(f) => f,
            Err(e) => return Err(e.clone()),
        };
        let counts = self.zone_counts(&lrp.process_guid).clone();
        // (instances of this process in the zone, zone position, passing cells)
        let mut candidates: Vec<(u32, usize, &Vec<usize>)> = filtered
            .iter()
            .map(|(zi, passing)| (counts[*zi], *zi, passing))
            .collect();
        candidates.sort_by_key(|(n, _, _)| *n);

        let mut problems = InsufficientResources::all();
        let mut winner: Option<(usize, usize)> = None;
        let mut winner_score = 1e20;
        for (k, (instances, zi, passing)) in candidates.iter().enumerate() {
            let cells = &self.zones[&self.zone_names[*zi]];
            for &ci in passing.iter() {
                match cells[ci].score_for_lrp(
                    lrp,
                    self.cfg.starting_container_weight,
                    self.cfg.bin_pack_first_fit_weight,
                ) {
                    Ok(score) => {
                        if score < winner_score {
                            winner_score = score;
                            winner = Some((*zi, ci));
                        }
                    }
                    Err(p) => problems.intersect(&p),
                }
            }
            if k + 1 < candidates.len() && *instances == candidates[k + 1].0 {
                continue;
            }
            if winner.is_some() {
                break;
            }
        }
        let Some((zi, ci)) = winner else {
            return Err(PlacementError::InsufficientResources(problems));
        };
        let zone = &self.zone_names[zi];
        let cell = &mut self.zones.get_mut(zone).expect("zone exists")[ci];
        cell.reserve_lrp(lrp)
            .map_err(PlacementError::InsufficientResources)?;
        let guid = cell.guid.clone();
        self.zone_counts(&lrp.process_guid)[zi] += 1;
        Ok(guid)
    }

    /// Places one task (no zone balancing); returns the winning cell's guid.
    pub fn schedule_task(&mut self, task: &Task) -> Result<String, PlacementError> {
        let filtered = self.filtered(&task.placement_constraint);
        let filtered = match filtered.as_ref() {
            Ok(f) => f,
            Err(e) => return Err(e.clone()),
        };
        let mut problems = InsufficientResources::all();
        let mut winner: Option<(usize, usize)> = None;
        let mut winner_score = 1e20;
        for (zi, passing) in filtered {
            let cells = &self.zones[&self.zone_names[*zi]];
            for &ci in passing {
                match cells[ci].score_for_task(task, self.cfg.starting_container_weight) {
                    Ok(score) => {
                        if score < winner_score {
                            winner_score = score;
                            winner = Some((*zi, ci));
                        }
                    }
                    Err(p) => problems.intersect(&p),
                }
            }
        }
        let Some((zi, ci)) = winner else {
            return Err(PlacementError::InsufficientResources(problems));
        };
        let zone = &self.zone_names[zi];
        let cell = &mut self.zones.get_mut(zone).expect("zone exists")[ci];
        cell.reserve_task(task)
            .map_err(PlacementError::InsufficientResources)?;
        Ok(cell.guid.clone())
    }
}

/// Drops repeated LRP instances (`process_guid.index`) and tasks (guid),
/// keeping the first of each, as Diego's batch does.
pub fn dedupe(
    lrps: Vec<LrpAuction>,
    tasks: Vec<TaskAuction>,
) -> (Vec<LrpAuction>, Vec<TaskAuction>) {
    let mut seen = std::collections::HashSet::new();
    let lrps = lrps
        .into_iter()
        .filter(|a| seen.insert(a.lrp.identifier()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let tasks = tasks
        .into_iter()
        .filter(|a| seen.insert(a.task.task_guid.clone()))
        .collect();
    (lrps, tasks)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod placement_props;
