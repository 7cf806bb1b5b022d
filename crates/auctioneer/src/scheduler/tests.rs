use super::*;
use models::rep::{PlacementConstraint, Resource, Resources, RootFsProvider};
use proptest::prelude::*;

const ROOTFS: &str = "preloaded:cflinuxfs4";

fn cell(id: &str, zone: &str, mem: i32, disk: i32, containers: i32) -> Cell {
    let mut state = CellState {
        cell_id: id.into(),
        zone: zone.into(),
        total_resources: Resources::new(mem, disk, containers),
        available_resources: Resources::new(mem, disk, containers),
        ..Default::default()
    };
    state.root_fs_providers.insert(
        "preloaded".into(),
        RootFsProvider::fixed_set(["cflinuxfs4"]),
    );
    state
        .root_fs_providers
        .insert("docker".into(), RootFsProvider::Arbitrary);
    Cell::new(id, "", state)
}

fn with_lrp(mut c: Cell, pg: &str, mem: i32, disk: i32) -> Cell {
    let l = lrp(pg, 99, mem, disk);
    c.state.available_resources.subtract(&l.resource);
    c.state.lrps.push(l);
    Cell::new(&c.guid.clone(), "", c.state)
}

fn lrp(pg: &str, index: i32, mem: i32, disk: i32) -> Lrp {
    Lrp::new(
        "",
        &models::ActualLrpKey {
            process_guid: pg.into(),
            index,
            domain: "d".into(),
        },
        Resource::new(mem, disk, 0),
        PlacementConstraint::new(ROOTFS, vec![], vec![]),
    )
}

fn task(guid: &str, mem: i32, disk: i32) -> Task {
    Task::new(
        guid,
        "d",
        Resource::new(mem, disk, 0),
        PlacementConstraint::new(ROOTFS, vec![], vec![]),
    )
}

fn sched(cells: Vec<Cell>, cfg: SchedulerConfig) -> Scheduler {
    Scheduler::new(build_zones(cells, cfg.bin_pack_first_fit_weight), cfg)
}

fn winners(r: &AuctionResults) -> BTreeMap<String, String> {
    r.successful_lrps
        .iter()
        .map(|a| (a.lrp.identifier(), a.winner.clone()))
        .collect()
}

#[test]
fn score_is_diegos_formula() {
    let mut c = with_lrp(cell("a", "z", 1000, 2000, 10), "other", 100, 200);
    c.state.starting_container_count = 2;
    c.state.proxy_memory_allocation_mb = 32;
    c.index = 3;
    // After 100+32 MB / 300 MB / 1 container more: used fractions
    // (1000-100-132)/1000 left → 0.232 used; disk (2000-200-300)/2000 left
    // → 0.25 used; containers 8/10 left → 0.2 used.
    let s = c.score_for_lrp(&lrp("pg", 0, 100, 300), 0.25, 0.5).unwrap();
    let want = (0.232 + 0.25 + 0.2) / 3.0 + 2.0 * 0.25 + 3.0 * 0.5;
    assert!((s - want).abs() < 1e-12, "{s} vs {want}");
    let same = c
        .score_for_lrp(&lrp("other", 1, 100, 300), 0.25, 0.5)
        .unwrap();
    assert!((same - want - 1000.0).abs() < 1e-9);
}

#[test]
fn lrps_spread_across_zones_before_resources() {
    // z1: two roomy cells; z2: one busier cell. Instance 0 takes the best
    // cell overall (z1); instance 1 must go to z2 (fewer instances there)
    // even though the other z1 cell scores better on resources.
    let cells = vec![
        cell("z1-a", "z1", 4000, 4000, 100),
        cell("z1-b", "z1", 4000, 4000, 100),
        with_lrp(cell("z2-a", "z2", 4000, 4000, 100), "busy", 2000, 2000),
    ];
    let mut s = sched(cells, SchedulerConfig::default());
    let r = s.schedule_all(
        vec![
            LrpAuction::new(lrp("pg", 0, 100, 100)),
            LrpAuction::new(lrp("pg", 1, 100, 100)),
        ],
        vec![],
    );
    let w = winners(&r);
    assert_eq!(w["pg.0"], "z1-a");
    assert_eq!(w["pg.1"], "z2-a");
    // A third instance goes back to z1 and avoids z1-a (anti-affinity).
    let r = s.schedule_all(vec![LrpAuction::new(lrp("pg", 2, 100, 100))], vec![]);
    assert_eq!(winners(&r)["pg.2"], "z1-b");
}

#[test]
fn same_process_instances_repel() {
    // a is emptier but already runs pg: b wins despite a worse resource score.
    let a = with_lrp(cell("a", "z", 10000, 10000, 100), "pg", 10, 10);
    let b = with_lrp(cell("b", "z", 10000, 10000, 100), "other", 5000, 5000);
    let mut s = sched(vec![a, b], SchedulerConfig::default());
    let r = s.schedule_all(vec![LrpAuction::new(lrp("pg", 1, 10, 10))], vec![]);
    assert_eq!(winners(&r)["pg.1"], "b");
}

#[test]
fn insufficient_resources_texts() {
    let mut s = sched(
        vec![
            cell("a", "z1", 1024, 4096, 10),
            cell("b", "z2", 1024, 4096, 10),
        ],
        SchedulerConfig::default(),
    );
    let r = s.schedule_all(
        vec![
            LrpAuction::new(lrp("big", 0, 2048, 10)),
            LrpAuction::new(lrp("huge", 0, 2048, 8192)),
        ],
        vec![TaskAuction::new(task("t", 10, 5000))],
    );
    let errs: BTreeMap<String, String> = r
        .failed_lrps
        .iter()
        .map(|a| (a.lrp.identifier(), a.placement_error.clone()))
        .collect();
    assert_eq!(errs["big.0"], "insufficient resources: memory");
    assert_eq!(errs["huge.0"], "insufficient resources: disk, memory");
    assert_eq!(
        r.failed_tasks[0].placement_error,
        "insufficient resources: disk"
    );

    // Only the problems common to every cell are reported.
    let mut s = sched(
        vec![
            cell("a", "z", 100, 5000, 10),
            cell("b", "z", 5000, 100, 10),
            cell("c", "z", 5000, 5000, 0),
        ],
        SchedulerConfig::default(),
    );
    let r = s.schedule_all(vec![LrpAuction::new(lrp("x", 0, 1000, 1000))], vec![]);
    assert_eq!(r.failed_lrps[0].placement_error, "insufficient resources");
    let mut s = sched(
        vec![cell("c", "z", 5000, 5000, 0)],
        SchedulerConfig::default(),
    );
    let r = s.schedule_all(vec![], vec![TaskAuction::new(task("t", 1, 1))]);
    assert_eq!(
        r.failed_tasks[0].placement_error,
        "insufficient resources: containers"
    );
}

#[test]
fn placement_tags() {
    let mut tagged = cell("t", "z1", 1000, 1000, 10);
    tagged.state.placement_tags = vec!["gpu".into()];
    tagged.state.optional_placement_tags = vec!["ssd".into()];
    let plain = cell("p", "z2", 1000, 1000, 10);
    let mut s = sched(vec![tagged, plain], SchedulerConfig::default());
    let mk = |pg: &str, tags: &[&str]| {
        let mut l = lrp(pg, 0, 10, 10);
        l.placement_constraint.placement_tags = tags.iter().map(|t| t.to_string()).collect();
        LrpAuction::new(l)
    };
    let r = s.schedule_all(
        vec![
            mk("gpu", &["gpu"]),
            mk("gpu-ssd", &["gpu", "ssd"]),
            mk("none", &[]),
            mk("ssd", &["ssd"]),
            mk("three", &["a", "b", "c"]),
        ],
        vec![],
    );
    let w = winners(&r);
    assert_eq!(w["gpu.0"], "t");
    assert_eq!(w["gpu-ssd.0"], "t");
    assert_eq!(w["none.0"], "p");
    let errs: BTreeMap<String, String> = r
        .failed_lrps
        .iter()
        .map(|a| (a.lrp.process_guid.clone(), a.placement_error.clone()))
        .collect();
    assert_eq!(
        errs["ssd"],
        "found no compatible cell with placement tag \"ssd\""
    );
    assert_eq!(
        errs["three"],
        "found no compatible cell with placement tags \"a\", \"b\" and \"c\""
    );
    let mut only_tagged = cell("t", "z", 1000, 1000, 10);
    only_tagged.state.placement_tags = vec!["gpu".into()];
    let mut s = sched(vec![only_tagged], SchedulerConfig::default());
    let r = s.schedule_all(vec![mk("none", &[])], vec![]);
    assert_eq!(
        r.failed_lrps[0].placement_error,
        "found no compatible cell with no placement tags"
    );
}

#[test]
fn rootfs_and_volume_driver_filters() {
    let mut nfs = cell("nfs", "z1", 1000, 1000, 10);
    nfs.state.volume_drivers = vec!["nfs".into()];
    let plain = cell("p", "z2", 1000, 1000, 10);
    let mut s = sched(vec![nfs, plain], SchedulerConfig::default());
    let mut bad_rootfs = lrp("r", 0, 1, 1);
    bad_rootfs.placement_constraint.root_fs = "preloaded:cflinuxfs3".into();
    let mut docker = lrp("dock", 0, 1, 1);
    docker.placement_constraint.root_fs = "docker:///busybox".into();
    let mut layered = lrp("layer", 0, 1, 1);
    layered.placement_constraint.root_fs = "preloaded+layer:cflinuxfs4?layer=http://x".into();
    let mut vol = lrp("vol", 0, 1, 1);
    vol.placement_constraint.volume_drivers = vec!["nfs".into()];
    let mut smb = lrp("smb", 0, 1, 1);
    smb.placement_constraint.volume_drivers = vec!["smb".into()];
    let mut t = task("t", 1, 1);
    t.placement_constraint.root_fs = "nope:x".into();
    let r = s.schedule_all(
        [bad_rootfs, docker, layered, vol, smb]
            .into_iter()
            .map(LrpAuction::new)
            .collect(),
        vec![TaskAuction::new(t)],
    );
    let w = winners(&r);
    assert!(w.contains_key("dock.0"));
    assert_eq!(w["vol.0"], "nfs");
    let errs: BTreeMap<String, String> = r
        .failed_lrps
        .iter()
        .map(|a| (a.lrp.process_guid.clone(), a.placement_error.clone()))
        .collect();
    assert_eq!(errs["r"], "found no compatible cell for required rootfs");
    assert_eq!(
        errs["layer"],
        "found no compatible cell for required rootfs"
    );
    assert_eq!(
        errs["smb"],
        "found no compatible cell with required volume drivers"
    );
    assert_eq!(
        r.failed_tasks[0].placement_error,
        "found no compatible cell for required rootfs"
    );
}

#[test]
fn starting_container_weight_prefers_idle_cells() {
    let mut busy = cell("busy", "z", 1000, 1000, 10);
    busy.state.starting_container_count = 1;
    let idle = with_lrp(cell("idle", "z", 1000, 1000, 10), "x", 200, 200);
    // Resource score: busy ≈ 0.0367 + 0.25 starting; idle ≈ 0.17.
    let mut s = sched(vec![busy.clone(), idle.clone()], SchedulerConfig::default());
    let r = s.schedule_all(vec![LrpAuction::new(lrp("pg", 0, 10, 10))], vec![]);
    assert_eq!(winners(&r)["pg.0"], "idle");
    // Without the weight the emptier (busy) cell wins.
    let cfg = SchedulerConfig {
        starting_container_weight: 0.0,
        ..Default::default()
    };
    let mut s = sched(vec![busy, idle], cfg);
    let r = s.schedule_all(vec![LrpAuction::new(lrp("pg", 0, 10, 10))], vec![]);
    assert_eq!(winners(&r)["pg.0"], "busy");
}

#[test]
fn bin_pack_first_fit_prefers_low_indices() {
    let mut a = cell("a", "z", 1000, 1000, 10);
    a.state.cell_index = 7;
    let mut b = with_lrp(cell("b", "z", 1000, 1000, 10), "x", 500, 500);
    b.state.cell_index = 2;
    let cfg = SchedulerConfig {
        bin_pack_first_fit_weight: 1.0,
        ..Default::default()
    };
    let mut s = sched(vec![a, b], cfg);
    // Normalised indices: b → 0, a → 1.
    assert_eq!(
        s.zones()["z"].iter().find(|c| c.guid == "a").unwrap().index,
        1
    );
    let r = s.schedule_all(vec![LrpAuction::new(lrp("pg", 0, 10, 10))], vec![]);
    assert_eq!(winners(&r)["pg.0"], "b");
}

#[test]
fn order_and_inflight_limit() {
    // Limit 3, one already starting: two slots. Order: index 0 (by memory
    // desc), then tasks, then index 1.
    let mut c = cell("a", "z", 100000, 100000, 100);
    c.state.starting_container_count = 1;
    let cfg = SchedulerConfig {
        starting_container_count_maximum: 3,
        ..Default::default()
    };
    let mut s = sched(vec![c], cfg);
    let r = s.schedule_all(
        vec![
            LrpAuction::new(lrp("small", 0, 10, 10)),
            LrpAuction::new(lrp("late", 1, 5000, 10)),
            LrpAuction::new(lrp("large", 0, 20, 10)),
        ],
        vec![TaskAuction::new(task("t", 10, 10))],
    );
    let w = winners(&r);
    assert_eq!(w.len(), 2);
    assert!(w.contains_key("large.0") && w.contains_key("small.0"));
    for a in &r.failed_lrps {
        assert_eq!(
            a.placement_error,
            "waiting to start instance: reached in-flight start limit"
        );
    }
    assert_eq!(
        r.failed_tasks[0].placement_error,
        "waiting to start instance: reached in-flight start limit"
    );
}

#[test]
fn tasks_avoid_cells_with_tasks_and_failed_work_fails() {
    let mut s = sched(
        vec![
            cell("a", "z", 1000, 1000, 10),
            cell("b", "z", 1000, 1000, 10),
        ],
        SchedulerConfig::default(),
    );
    let scheduled = s.schedule(
        vec![],
        vec![
            TaskAuction::new(task("t1", 10, 10)),
            TaskAuction::new(task("t2", 10, 10)),
        ],
    );
    let cells: Vec<Cell> = s.into_cells().collect();
    assert!(cells.iter().all(|c| c.work.tasks.len() == 1));
    let refused = cells[0].work.clone();
    let r = scheduled.finish(vec![refused]);
    assert_eq!(r.successful_tasks.len(), 1);
    assert_eq!(r.failed_tasks.len(), 1);
    assert_eq!(r.failed_tasks[0].attempts, 1);
}

#[test]
fn no_cells_is_a_communication_error() {
    let mut s = sched(vec![], SchedulerConfig::default());
    let r = s.schedule_all(vec![LrpAuction::new(lrp("pg", 0, 1, 1))], vec![]);
    assert_eq!(
        r.failed_lrps[0].placement_error,
        "unable to communicate to compatible cells"
    );
}

#[test]
fn dedupe_keeps_first() {
    let (l, t) = dedupe(
        vec![
            LrpAuction::new(lrp("a", 0, 1, 1)),
            LrpAuction::new(lrp("a", 0, 2, 2)),
            LrpAuction::new(lrp("a", 1, 1, 1)),
        ],
        vec![
            TaskAuction::new(task("t", 1, 1)),
            TaskAuction::new(task("t", 2, 2)),
        ],
    );
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].lrp.resource.memory_mb, 1);
    assert_eq!(t.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn no_cell_is_overcommitted(
        cells in prop::collection::vec((1..4usize, 0..3000i32, 0..3000i32, 0..6i32, 0..64i32), 1..8),
        lrps in prop::collection::vec((0..5usize, 0..4i32, 0..1200i32, 0..1200i32), 0..40),
        tasks in prop::collection::vec((0..1200i32, 0..1200i32), 0..20),
        proxy in 0..64i32,
    ) {
        let cells: Vec<Cell> = cells
            .iter()
            .enumerate()
            .map(|(i, (z, mem, disk, containers, _))| {
                let mut c = cell(&format!("c{i}"), &format!("z{z}"), *mem, *disk, *containers);
                c.state.proxy_memory_allocation_mb = proxy;
                c
            })
            .collect();
        let initial: BTreeMap<String, Resources> = cells
            .iter()
            .map(|c| (c.guid.clone(), c.state.available_resources))
            .collect();
        let lrps: Vec<LrpAuction> = lrps
            .iter()
            .map(|(p, i, m, d)| LrpAuction::new(lrp(&format!("p{p}"), *i, *m, *d)))
            .collect();
        let tasks: Vec<TaskAuction> = tasks
            .iter()
            .enumerate()
            .map(|(i, (m, d))| TaskAuction::new(task(&format!("t{i}"), *m, *d)))
            .collect();
        let (lrps, tasks) = dedupe(lrps, tasks);
        let total = lrps.len() + tasks.len();
        let mut s = sched(cells, SchedulerConfig::default());
        let r = s.schedule_all(lrps, tasks);
        prop_assert_eq!(
            r.successful_lrps.len() + r.failed_lrps.len() + r.successful_tasks.len() + r.failed_tasks.len(),
            total
        );
        for c in s.into_cells() {
            let avail = initial[&c.guid];
            let mem: i32 = c.work.lrps.iter().map(|l| l.resource.memory_mb + proxy).sum::<i32>()
                + c.work.tasks.iter().map(|t| t.resource.memory_mb).sum::<i32>();
            let disk: i32 = c.work.lrps.iter().map(|l| l.resource.disk_mb).sum::<i32>()
                + c.work.tasks.iter().map(|t| t.resource.disk_mb).sum::<i32>();
            let n = (c.work.lrps.len() + c.work.tasks.len()) as i32;
            // LRPs were fitted with the cell's proxy memory on top, but
            // reserved without it: the sum with it may exceed memory only
            // by the proxies of instances reserved before.
            prop_assert!(mem - proxy * c.work.lrps.len() as i32 <= avail.memory_mb);
            prop_assert!(disk <= avail.disk_mb, "disk {} > {}", disk, avail.disk_mb);
            prop_assert!(n <= avail.containers);
            prop_assert!(c.state.available_resources.memory_mb >= 0);
            prop_assert!(c.state.available_resources.disk_mb >= 0);
            prop_assert!(c.state.available_resources.containers >= 0);
        }
    }
}
