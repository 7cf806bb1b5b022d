//! `diego dev` leaves the host as it found it: after SIGTERM, and after
//! Ctrl-C (SIGINT), with an app running when the signal came, the host's
//! `nft list ruleset`, `iptables-save`, `ip link`, network namespaces,
//! mounts and loop devices are what they were before it started. With one
//! cell, Ctrl-C stops at once with no error line, and `diego dev` started
//! again on the same data serves the app again.
//!
//! Runs the real binary on `diego dev`'s fixed ports (bbs 8889, router
//! 8080, nats 4222, rep 1800): not alongside another `diego dev` or the
//! dev_push test. Needs root and runc; skipped otherwise.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn skip_reason() -> Option<String> {
    testkit::skip::not_root().or_else(|| {
        testkit::skip::missing_programs(&["runc", "nats-server", "nft", "iptables-save"])
    })
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The host's network and mount state, without counters and timestamps.
fn host_state() -> Vec<String> {
    let mut lines = Vec::new();
    for l in sh("nft list ruleset").lines() {
        let l = match l.find(" counter packets") {
            Some(i) => {
                let rest = &l[i + 1..];
                // "counter packets N bytes M" and what follows it.
                let after: Vec<&str> = rest.split_whitespace().skip(5).collect();
                format!("{} {}", &l[..i], after.join(" "))
            }
            None => l.to_string(),
        };
        lines.push(format!("nft: {}", l.trim_end()));
    }
    for l in sh("iptables-save").lines() {
        if l.starts_with('#') {
            continue;
        }
        // ":CHAIN POLICY [packets:bytes]"
        let l = l.split(" [").next().unwrap_or(l);
        lines.push(format!("iptables: {l}"));
    }
    for l in sh("ip -o link show").lines() {
        let name = l.split(": ").nth(1).unwrap_or("");
        lines.push(format!("link: {}", name.split('@').next().unwrap_or("")));
    }
    for l in sh("ip netns list").lines() {
        lines.push(format!("netns: {l}"));
    }
    for l in sh("cat /proc/self/mountinfo").lines() {
        lines.push(format!("mount: {}", l.split(' ').nth(4).unwrap_or("")));
    }
    for l in sh("losetup -a").lines() {
        lines.push(format!("loop: {l}"));
    }
    lines.sort();
    lines
}

/// The tests share `diego dev`'s fixed ports: one at a time.
static DEV: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn port_busy(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn start_dev(data: &Path) -> Child {
    let deadline = Instant::now() + Duration::from_secs(30);
    while [8889, 8080, 4222, 1800, 9022].into_iter().any(port_busy) {
        assert!(
            Instant::now() < deadline,
            "diego dev's fixed ports are in use: this test cannot run alongside another diego dev"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = std::fs::File::create(data.with_extension("log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["dev", "--data-dir"])
        .arg(data)
        .env_remove("DIEGO_DEV_DATA_DIR")
        // The CLI's token goes here, not into the user's own config.
        .env("DIEGO_CONFIG", data.with_extension("config.json"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn log_of(data: &Path) -> String {
    std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
}

/// Until the rep answers, the router listens and the CLI's token is saved.
fn wait_ready(data: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let saved = || std::fs::read_to_string(data.with_extension("config.json")).is_ok();
    while !(port_busy(1800) && port_busy(8080) && saved()) {
        assert!(
            Instant::now() < deadline,
            "diego dev not ready in 60s:\n{}",
            log_of(data)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn push(data: &Path, name: &str) {
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello");
    // A page of HTML run as it is: busybox, the stack without staging
    // (cflinuxfs4, the default, would want a buildpack to detect it).
    let out = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["push", name, "-p", hello, "-i", "1", "-s", "busybox"])
        .env("DIEGO_CONFIG", data.with_extension("config.json"))
        .env_remove("DIEGO_API")
        .env_remove("DIEGO_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "push: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log_of(data)
    );
}

/// Sends `signal` and waits for a clean exit.
fn stop(mut child: Child, signal: i32, data: &Path) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}:\n{}", log_of(data));
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("diego dev did not stop in 90s:\n{}", log_of(data));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_host_is_as_before_after_sigterm_and_ctrl_c() {
    testkit::skip_if!(skip_reason());
    let _one_at_a_time = DEV.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();

    // A first run takes away whatever an earlier killed one left (the next
    // start sweeps it), so "before" is the host without `diego dev`.
    let data = tmp.path().join("warm-up");
    let dev = start_dev(&data);
    wait_ready(&data);
    stop(dev, libc::SIGTERM, &data);

    for (signal, name) in [(libc::SIGTERM, "term"), (libc::SIGINT, "int")] {
        let before = host_state();
        let data = tmp.path().join(name);
        let dev = start_dev(&data);
        wait_ready(&data);
        push(&data, &format!("app-{name}"));
        let during = host_state();
        assert!(
            during.iter().any(|l| l.contains("garden-gdn")),
            "the cell's firewall tables exist while it runs"
        );
        stop(dev, signal, &data);
        let after = host_state();
        let gained: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
        let lost: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
        assert!(
            gained.is_empty() && lost.is_empty(),
            "after {name}: left {gained:#?}, took {lost:#?}"
        );
    }
}

/// The status line's code of `GET /` on `host` through the dev router.
fn status_via_router(host: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", 8080)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Ctrl-C with one cell stops at once (there is no other cell to evacuate
/// to, so no evacuation to wait out) and logs no error; `diego dev` started
/// again on the same data serves the app again, its instances lost with
/// the last run reported by the cell's first sync and replaced.
#[test]
fn ctrl_c_stops_cleanly_and_a_restart_serves_the_app_again() {
    testkit::skip_if!(skip_reason());
    let _one_at_a_time = DEV.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dev = start_dev(&data);
    wait_ready(&data);
    push(&data, "again");
    assert_eq!(status_via_router("again.localhost"), Some(200));
    let t = Instant::now();
    stop(dev, libc::SIGINT, &data);
    eprintln!("ctrl-c to exit with one cell: {:?}", t.elapsed());
    // Waiting out an evacuation would end in an ERROR line
    // (failed-to-evacuate-before-timeout).
    let log = log_of(&data);
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect();
    assert!(errors.is_empty(), "error lines on Ctrl-C: {errors:#?}");

    let dev = start_dev(&data);
    let t = Instant::now();
    let deadline = t + Duration::from_secs(90);
    while status_via_router("again.localhost") != Some(200) {
        if Instant::now() > deadline {
            let log = log_of(&data);
            stop(dev, libc::SIGTERM, &data);
            panic!("the app did not answer again after a restart:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("restart to the app answering: {:?}", t.elapsed());
    stop(dev, libc::SIGTERM, &data);
}
