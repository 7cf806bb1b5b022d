//! Evacuation between two runc cells (root only): while one cell drains,
//! every poll of the BBS (every 50 ms) shows at least 2 RUNNING copies of
//! a 2-instance LRP whose containers answer HTTP on their host ports, so
//! the app never loses capacity; at the end both instances run on the
//! other cell and no EVACUATING row is left.
//!
//! Both reps share the host's network namespace (the rep has no notion of
//! running inside another one); they differ by backend tag, container
//! subnet and host port range, and both advertise 127.0.0.1.
//! `crates/diego/tests/netns_cells.rs` runs the same handover with each rep
//! a `diego rep` process in a network namespace of its own.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use std::time::{Duration, Instant};
use support::runc_cell::{self, tcp_check};
use support::{eventually, run_action, running, sleeper_lrp, start_world, World};

const PAGE: &str = "served from a runc container\n";

fn cell_of(l: &models::ActualLrp) -> &str {
    &l.actual_lrp_instance_key.as_ref().unwrap().cell_id
}

fn is_evacuating(l: &models::ActualLrp) -> bool {
    l.presence == models::actual_lrp::Presence::Evacuating as i32
}

/// Whether the instance's container answers with the page on its host port.
async fn answers(http: &reqwest::Client, l: &models::ActualLrp) -> bool {
    let Some(net) = l.actual_lrp_net_info.as_ref() else {
        return false;
    };
    let Some(p) = net.ports.first() else {
        return false;
    };
    let url = format!("http://{}:{}/", net.address, p.host_port);
    match http.get(url).send().await {
        Ok(r) => r.text().await.map(|t| t == PAGE).unwrap_or(false),
        Err(_) => false,
    }
}

/// RUNNING rows (ordinary or evacuating) whose containers answer.
async fn serving(world: &World, http: &reqwest::Client) -> (usize, Vec<models::ActualLrp>) {
    let all = world
        .bbs_client()
        .actual_lrps(&ActualLrpFilter::process("pages"))
        .await
        .unwrap_or_default();
    let mut n = 0;
    for l in all
        .iter()
        .filter(|l| l.state == models::actual_lrp_state::RUNNING)
    {
        if answers(http, l).await {
            n += 1;
        }
    }
    (n, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evacuation_keeps_every_instance_serving() {
    testkit::skip_if!(runc_cell::skip_reason());
    let world = start_world().await;
    let a = runc_cell::start(&world, "cell-a", "rea", (251, 11), (19260, 19279)).await;
    let b = runc_cell::start(&world, "cell-b", "reb", (251, 12), (19280, 19299)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    let mut lrp = sleeper_lrp("pages", 2);
    lrp.action = Some(run_action(&format!(
        "mkdir -p www && printf '{}' > www/index.html && exec httpd -f -p 8080 -h www",
        PAGE.replace('\n', "\\n")
    )));
    lrp.ports = vec![8080];
    lrp.memory_mb = 32;
    lrp.start_timeout_ms = 20_000;
    lrp.check_definition = Some(tcp_check(8080));
    world.desire_lrp(lrp).await;
    let before = eventually("2 RUNNING instances, one per cell", 40, || async {
        let r = running(&world, "pages").await;
        (r.len() == 2).then_some(r)
    })
    .await;
    let mut cells: Vec<&str> = before.iter().map(cell_of).collect();
    cells.sort();
    assert_eq!(cells, ["cell-a", "cell-b"], "spread across cells");
    for l in &before {
        assert_eq!(l.crash_count, 0, "started without crashing: {l:?}");
        assert!(answers(&http, l).await, "serving before evacuation: {l:?}");
    }

    let resp = http
        .post(format!("{}/evacuate", a.rep.local_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);

    let started = Instant::now();
    let mut polls = 0;
    let mut saw_evacuating = false;
    let mut rereads = 0;
    loop {
        let (mut n, mut all) = serving(&world, &http).await;
        if n < 2 {
            // The BBS may have moved on between the read and the probes
            // (the replacement ran and the evacuating copy was removed):
            // judge a fresh snapshot before calling it a gap.
            (n, all) = serving(&world, &http).await;
            rereads += 1;
        }
        polls += 1;
        saw_evacuating |= all.iter().any(is_evacuating);
        assert!(
            n >= 2,
            "poll {polls} after {:?}: only {n} serving instance(s): {all:#?}",
            started.elapsed()
        );
        if all.iter().all(|l| cell_of(l) != "cell-a") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "cell-a not drained in 30 s: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "cell-a drained in {:?} ({polls} polls, ≥2 serving at each; {rereads} re-read)",
        started.elapsed()
    );
    assert!(saw_evacuating, "the handover went through EVACUATING");
    assert!(
        tokio::time::timeout(Duration::from_secs(10), a.rep.evacuated())
            .await
            .expect("evacuated in time"),
        "every container handed over"
    );

    let all = world
        .bbs_client()
        .actual_lrps(&ActualLrpFilter::process("pages"))
        .await
        .unwrap();
    assert!(!all.iter().any(is_evacuating), "EVACUATING left: {all:#?}");
    let after = running(&world, "pages").await;
    assert_eq!(after.len(), 2, "{all:#?}");
    for l in &after {
        assert_eq!(cell_of(l), "cell-b");
        assert_eq!(l.crash_count, 0, "handed over, not crashed: {l:?}");
        assert!(answers(&http, l).await, "serving after evacuation: {l:?}");
    }
    assert!(a.rep.executor().list_containers().await.unwrap().is_empty());

    a.rep.shutdown().await;
    b.rep.shutdown().await;
    world.shutdown().await;
}
