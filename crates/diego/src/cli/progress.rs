//! Waiting for an app's instances: prints "k/N running" as it changes, and
//! each new placement error or crash reason, until all N run or time runs
//! out.

use super::bbs::Bbs;
use models::actual_lrp::Presence;
use models::actual_lrp_state::RUNNING;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(500);

/// How many of the instances `0..desired` run (an evacuating copy counts
/// while its replacement starts).
pub fn running(lrps: &[models::ActualLrp], desired: i32) -> usize {
    let mut indexes = BTreeSet::new();
    for l in lrps {
        let index = l.actual_lrp_key.as_ref().map_or(-1, |k| k.index);
        if l.state == RUNNING && (0..desired).contains(&index) {
            indexes.insert(index);
        }
    }
    indexes.len()
}

/// One line per instance not (yet) running that says why, if it says.
pub fn problems(lrps: &[models::ActualLrp]) -> Vec<String> {
    let mut out = Vec::new();
    for l in lrps {
        if l.presence == Presence::Evacuating as i32 {
            continue;
        }
        let index = l.actual_lrp_key.as_ref().map_or(-1, |k| k.index);
        if !l.placement_error.is_empty() {
            out.push(format!(
                "instance {index}: not placed: {}",
                l.placement_error
            ));
        }
        if !l.crash_reason.is_empty() {
            out.push(format!(
                "instance {index}: crashed ({} times): {}",
                l.crash_count, l.crash_reason
            ));
        }
    }
    out
}

/// Polls until `desired` instances run; `Ok(false)` on timeout.
pub async fn wait_running(
    bbs: &Bbs,
    guid: &str,
    desired: i32,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut last_line = String::new();
    let mut seen = BTreeSet::new();
    loop {
        let lrps = bbs.actual_lrps(guid).await?;
        let n = running(&lrps, desired);
        let states: BTreeSet<&str> = lrps.iter().map(|l| l.state.as_str()).collect();
        let line = format!(
            "{n}/{desired} running ({})",
            states.into_iter().collect::<Vec<_>>().join(", ")
        );
        if line != last_line {
            println!("  {line}");
            last_line = line;
        }
        for p in problems(&lrps) {
            if seen.insert(p.clone()) {
                println!("  {p}");
            }
        }
        if n as i32 >= desired {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lrp(index: i32, state: &str) -> models::ActualLrp {
        models::ActualLrp {
            actual_lrp_key: Some(models::ActualLrpKey {
                process_guid: "hello".into(),
                index,
                domain: "diego-dev".into(),
            }),
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn counts_distinct_running_indexes_below_the_desired_count() {
        let mut evacuating = lrp(0, "RUNNING");
        evacuating.presence = Presence::Evacuating as i32;
        let lrps = vec![
            lrp(0, "RUNNING"),
            evacuating,
            lrp(1, "CLAIMED"),
            lrp(2, "RUNNING"),
            lrp(5, "RUNNING"),
        ];
        assert_eq!(running(&lrps, 3), 2);
        assert_eq!(running(&lrps, 1), 1);
    }

    #[test]
    fn reports_placement_errors_and_crashes() {
        let mut a = lrp(0, "UNCLAIMED");
        a.placement_error = "found no compatible cell".into();
        let mut b = lrp(1, "CRASHED");
        b.crash_reason = "APP/PROC/WEB: Exited with status 1".into();
        b.crash_count = 2;
        assert_eq!(
            problems(&[a, b]),
            vec![
                "instance 0: not placed: found no compatible cell",
                "instance 1: crashed (2 times): APP/PROC/WEB: Exited with status 1"
            ]
        );
    }
}
