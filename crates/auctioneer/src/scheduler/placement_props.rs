//! Property: after one auction over random cells (capacities, zones,
//! rootfs providers, placement tags, volume drivers, work already
//! running) and random LRP/task start requests, no cell is reserved
//! beyond its capacity and every placed item fits its cell's rootfs,
//! volume drivers and placement tags. Compatibility is re-derived here
//! from Diego's rules rather than through the scheduler's own matchers.

use super::*;
use models::rep::{PlacementConstraint, Resource, Resources, RootFsProvider};
use proptest::prelude::*;
use std::collections::BTreeSet;

const ROOTFSES: &[&str] = &[
    "preloaded:cflinuxfs3",
    "preloaded:cflinuxfs4",
    "docker:///busybox",
    "preloaded:unknown",
];
const TAGS: &[&str] = &["a", "b", "c"];
const DRIVERS: &[&str] = &["v1", "v2"];

fn pick(all: &[&str], mask: u8) -> Vec<String> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}

#[derive(Debug, Clone)]
struct CellSpec {
    zone: u8,
    total: (i32, i32, i32),
    /// bit 0: preloaded cflinuxfs3, bit 1: preloaded cflinuxfs4, bit 2: docker.
    rootfs: u8,
    required: u8,
    optional: u8,
    drivers: u8,
    proxy: i32,
    /// (process, memory, disk) of LRPs already there; kept while they fit.
    existing: Vec<(u8, i32, i32)>,
}

#[derive(Debug, Clone)]
struct Want {
    process: u8,
    index: i32,
    memory: i32,
    disk: i32,
    rootfs: usize,
    tags: u8,
    drivers: u8,
}

fn cell_spec() -> impl Strategy<Value = CellSpec> {
    (
        (0..3u8, 0..4000i32, 0..4000i32, 0..8i32),
        (0..8u8, 0..4u8, 0..8u8, 0..4u8, 0..64i32),
        prop::collection::vec((0..3u8, 0..800i32, 0..800i32), 0..4),
    )
        .prop_map(
            |((zone, m, d, c), (rootfs, required, optional, drivers, proxy), existing)| CellSpec {
                zone,
                total: (m, d, c),
                rootfs,
                // Required tags from {a, b}, optional from {b, c}.
                required,
                optional: optional << 1,
                drivers,
                proxy,
                existing,
            },
        )
}

fn want() -> impl Strategy<Value = Want> {
    (
        0..4u8,
        0..5i32,
        0..1500i32,
        0..1500i32,
        0..ROOTFSES.len(),
        0..8u8,
        0..4u8,
    )
        .prop_map(
            |(process, index, memory, disk, rootfs, tags, drivers)| Want {
                process,
                index,
                memory,
                disk,
                rootfs,
                tags,
                drivers,
            },
        )
}

fn constraint(w: &Want) -> PlacementConstraint {
    PlacementConstraint::new(
        ROOTFSES[w.rootfs],
        pick(TAGS, w.tags),
        pick(DRIVERS, w.drivers),
    )
}

fn build_cell(i: usize, s: &CellSpec) -> Cell {
    let (m, d, c) = s.total;
    let mut state = CellState {
        cell_id: format!("cell-{i}"),
        cell_index: i as i32,
        zone: format!("z{}", s.zone),
        total_resources: Resources::new(m, d, c),
        available_resources: Resources::new(m, d, c),
        placement_tags: pick(TAGS, s.required),
        optional_placement_tags: pick(TAGS, s.optional),
        volume_drivers: pick(DRIVERS, s.drivers),
        proxy_memory_allocation_mb: s.proxy,
        ..Default::default()
    };
    let fixed = pick(&["cflinuxfs3", "cflinuxfs4"], s.rootfs & 3);
    if !fixed.is_empty() {
        state
            .root_fs_providers
            .insert("preloaded".into(), RootFsProvider::fixed_set(fixed));
    }
    if s.rootfs & 4 != 0 {
        state
            .root_fs_providers
            .insert("docker".into(), RootFsProvider::Arbitrary);
    }
    for (n, (p, mem, disk)) in s.existing.iter().enumerate() {
        let l = Lrp::new(
            &format!("existing-{n}"),
            &models::ActualLrpKey {
                process_guid: format!("p{p}"),
                index: 100 + n as i32,
                domain: "d".into(),
            },
            Resource::new(*mem, *disk, 0),
            PlacementConstraint::new("preloaded:cflinuxfs4", vec![], vec![]),
        );
        if state.resource_match(&l.resource).is_ok() {
            state.add_lrp(&l);
        }
    }
    let guid = state.cell_id.clone();
    Cell::new(&guid, "", state)
}

/// Diego's compatibility rules, independently: the rootfs scheme's
/// provider (a fixed set naming the opaque part, or arbitrary), volume
/// drivers a subset of the cell's, and required ⊆ desired ⊆ required ∪
/// optional placement tags.
fn compatible(s: &CellSpec, pc: &PlacementConstraint) -> bool {
    let rootfs_ok = match pc.root_fs.split_once(':') {
        Some(("preloaded", "cflinuxfs3")) => s.rootfs & 1 != 0,
        Some(("preloaded", "cflinuxfs4")) => s.rootfs & 2 != 0,
        Some(("docker", _)) => s.rootfs & 4 != 0,
        _ => false,
    };
    let cell_drivers: BTreeSet<String> = pick(DRIVERS, s.drivers).into_iter().collect();
    let drivers_ok = pc.volume_drivers.iter().all(|d| cell_drivers.contains(d));
    let desired: BTreeSet<String> = pc.placement_tags.iter().cloned().collect();
    let required: BTreeSet<String> = pick(TAGS, s.required).into_iter().collect();
    let mut all = required.clone();
    all.extend(pick(TAGS, s.optional));
    rootfs_ok && drivers_ok && required.is_subset(&desired) && desired.is_subset(&all)
}

fn is_compatibility_error(e: &str) -> bool {
    e.starts_with("found no compatible cell")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn one_auction_never_overcommits_and_places_only_on_fitting_cells(
        specs in prop::collection::vec(cell_spec(), 1..8),
        lrps in prop::collection::vec(want(), 0..30),
        tasks in prop::collection::vec(want(), 0..15),
    ) {
        let cells: Vec<Cell> = specs.iter().enumerate().map(|(i, s)| build_cell(i, s)).collect();
        let before: BTreeMap<String, (Resources, Resources)> = cells
            .iter()
            .map(|c| (c.guid.clone(), (c.state.available_resources, c.state.total_resources)))
            .collect();
        let spec_of: BTreeMap<String, &CellSpec> = cells
            .iter()
            .zip(specs.iter())
            .map(|(c, s)| (c.guid.clone(), s))
            .collect();
        let lrp_auctions: Vec<LrpAuction> = lrps
            .iter()
            .map(|w| {
                LrpAuction::new(Lrp::new(
                    "",
                    &models::ActualLrpKey {
                        process_guid: format!("p{}", w.process),
                        index: w.index,
                        domain: "d".into(),
                    },
                    Resource::new(w.memory, w.disk, 0),
                    constraint(w),
                ))
            })
            .collect();
        let task_auctions: Vec<TaskAuction> = tasks
            .iter()
            .enumerate()
            .map(|(i, w)| {
                TaskAuction::new(Task::new(
                    &format!("t{i}"),
                    "d",
                    Resource::new(w.memory, w.disk, 0),
                    constraint(w),
                ))
            })
            .collect();
        let (lrp_auctions, task_auctions) = dedupe(lrp_auctions, task_auctions);
        let total = lrp_auctions.len() + task_auctions.len();
        let mut s = Scheduler::new(build_zones(cells, 0.0), SchedulerConfig::default());
        let r = s.schedule_all(lrp_auctions, task_auctions);

        // Every request is decided exactly once.
        prop_assert_eq!(
            r.successful_lrps.len() + r.failed_lrps.len()
                + r.successful_tasks.len() + r.failed_tasks.len(),
            total
        );

        // Capacity: what one auction reserves fits what was available, so
        // the cell's work (old and new) stays within its totals.
        for c in s.into_cells() {
            let (avail, totals) = before[&c.guid];
            let mem: i64 = c.work.lrps.iter().map(|l| i64::from(l.resource.memory_mb)).sum::<i64>()
                + c.work.tasks.iter().map(|t| i64::from(t.resource.memory_mb)).sum::<i64>();
            let disk: i64 = c.work.lrps.iter().map(|l| i64::from(l.resource.disk_mb)).sum::<i64>()
                + c.work.tasks.iter().map(|t| i64::from(t.resource.disk_mb)).sum::<i64>();
            let n = (c.work.lrps.len() + c.work.tasks.len()) as i64;
            prop_assert!(mem <= i64::from(avail.memory_mb), "{}: memory {} > {}", c.guid, mem, avail.memory_mb);
            prop_assert!(disk <= i64::from(avail.disk_mb), "{}: disk {} > {}", c.guid, disk, avail.disk_mb);
            prop_assert!(n <= i64::from(avail.containers), "{}: {} containers > {}", c.guid, n, avail.containers);
            let used_mem = i64::from(totals.memory_mb - avail.memory_mb) + mem;
            let used_disk = i64::from(totals.disk_mb - avail.disk_mb) + disk;
            let used_containers = i64::from(totals.containers - avail.containers) + n;
            prop_assert!(used_mem <= i64::from(totals.memory_mb));
            prop_assert!(used_disk <= i64::from(totals.disk_mb));
            prop_assert!(used_containers <= i64::from(totals.containers));
            // Each LRP also fitted with the cell's proxy memory on top.
            let proxy = spec_of[&c.guid].proxy;
            for l in &c.work.lrps {
                prop_assert!(i64::from(l.resource.memory_mb + proxy) <= i64::from(avail.memory_mb));
            }
            for l in &c.work.lrps {
                prop_assert!(compatible(spec_of[&c.guid], &l.placement_constraint), "{} on {}", l.identifier(), c.guid);
            }
            for t in &c.work.tasks {
                prop_assert!(compatible(spec_of[&c.guid], &t.placement_constraint), "{} on {}", t.task_guid, c.guid);
            }
        }

        // Winners match the work handed out, and compatibility failures
        // are real: no cell at all fits the item's constraints.
        for a in &r.successful_lrps {
            prop_assert!(compatible(spec_of[&a.winner], &a.lrp.placement_constraint));
        }
        for a in &r.successful_tasks {
            prop_assert!(compatible(spec_of[&a.winner], &a.task.placement_constraint));
        }
        for a in &r.failed_lrps {
            let any = specs.iter().any(|s| compatible(s, &a.lrp.placement_constraint));
            prop_assert_eq!(is_compatibility_error(&a.placement_error), !any, "{}: {}", a.lrp.identifier(), a.placement_error);
        }
        for a in &r.failed_tasks {
            let any = specs.iter().any(|s| compatible(s, &a.task.placement_constraint));
            prop_assert_eq!(is_compatibility_error(&a.placement_error), !any, "{}: {}", a.task.task_guid, a.placement_error);
        }
    }
}
