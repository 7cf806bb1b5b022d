//! Waiting for an app: its build staged (its staging output streamed),
//! its instances running ("k/N running" as it changes, with each new
//! crash or placement error), or a deployment finishing.

use anyhow::Context as _;
use api_client::ApiClient;
use models::capi::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(500);

/// The app's current web process (the newest).
pub async fn web(c: &ApiClient, app: &str) -> anyhow::Result<Process> {
    c.processes(app)
        .await?
        .into_iter()
        .rfind(|p| p.kind == WEB)
        .context("the app has no web process")
}

/// How many instances run, and one line per instance not running that
/// says why.
pub fn summarize(stats: &[InstanceStats], desired: i32) -> (usize, Vec<String>) {
    let running = stats
        .iter()
        .filter(|s| s.index < desired && s.state == instance_state::RUNNING)
        .count();
    let mut problems = Vec::new();
    for s in stats {
        if !s.placement_error.is_empty() {
            problems.push(format!(
                "instance {}: not placed: {}",
                s.index, s.placement_error
            ));
        }
        if s.crash_count > 0 && !s.crash_reason.is_empty() {
            problems.push(format!(
                "instance {}: crashed ({} times): {}",
                s.index, s.crash_count, s.crash_reason
            ));
        }
    }
    (running, problems)
}

pub async fn wait_running(c: &ApiClient, app: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    let mut seen = BTreeSet::new();
    loop {
        let p = web(c, app).await?;
        let stats = c.stats(&p.guid).await?;
        let (n, problems) = summarize(&stats, p.instances);
        let line = format!("{n}/{} running", p.instances);
        if line != last {
            println!("  {line}");
            last = line;
        }
        for pr in problems {
            if seen.insert(pr.clone()) {
                println!("  {pr}");
            }
        }
        if n as i32 >= p.instances {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not all {} instances running within {timeout:?} (the app stays as pushed)",
            p.instances
        );
        tokio::time::sleep(POLL).await;
    }
}

/// How long staging may take at most (Cloud Controller's default staging
/// timeout is 15 minutes; the Task itself is cut there).
const STAGING_TIMEOUT: Duration = Duration::from_secs(16 * 60);

/// Waits for `build` to stage, printing its staging output as it comes;
/// the droplet's guid, or the staging error (Cloud Controller's words).
pub async fn staged(c: &ApiClient, mut build: Build, app: &str) -> anyhow::Result<String> {
    let logs = (build.state == build_state::STAGING).then(|| {
        println!("Staging {app}...");
        tokio::spawn(stream_staging_output(c.clone(), build.guid.clone()))
    });
    let deadline = Instant::now() + STAGING_TIMEOUT;
    while build.state == build_state::STAGING {
        anyhow::ensure!(
            Instant::now() < deadline,
            "staging {app} did not finish within {STAGING_TIMEOUT:?}"
        );
        tokio::time::sleep(POLL).await;
        build = c.build(&build.guid).await?;
    }
    if let Some(logs) = logs {
        // The output's last lines come as the Task's container goes.
        let _ = tokio::time::timeout(Duration::from_secs(3), logs).await;
    }
    match (build.state.as_str(), build.droplet_guid) {
        (build_state::STAGED, Some(d)) => Ok(d),
        _ => anyhow::bail!(
            "staging {app} failed: {}",
            build.error.unwrap_or_else(|| "no droplet".into())
        ),
    }
}

/// The staging Task's output, once a cell runs it, until it ends.
async fn stream_staging_output(c: ApiClient, build: String) {
    use futures::StreamExt;
    use std::io::Write;
    let deadline = Instant::now() + STAGING_TIMEOUT;
    while Instant::now() < deadline {
        match c.build_logs(&build, true).await {
            Ok(s) => {
                let mut s = Box::pin(s);
                while let Some(Ok(chunk)) = s.next().await {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&chunk);
                    let _ = out.flush();
                }
                return;
            }
            Err(_) => {
                // Not placed yet, or done already.
                match c.build(&build).await {
                    Ok(b) if b.state == build_state::STAGING => {}
                    _ => return,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Until the deployment is DEPLOYED (or paused, for a canary).
pub async fn wait_deployment(c: &ApiClient, guid: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let d = c.deployment(guid).await?;
        let mut line = format!(
            "  {} {}: {}/{} new instances routable",
            d.status.value, d.status.reason, d.new_instances_routable, d.instances_wanted
        );
        if !d.status.details.is_empty() {
            line.push_str(&format!(" ({})", d.status.details));
        }
        if line != last {
            println!("{line}");
            last = line;
        }
        match (d.status.value.as_str(), d.status.reason.as_str()) {
            (FINALIZED, status_reason::DEPLOYED) => return Ok(()),
            (FINALIZED, why) => anyhow::bail!("the deployment ended {why}"),
            (_, status_reason::PAUSED) => {
                println!(
                    "  paused after the canary: `diego continue-deployment APP` to go on, \
                     `diego cancel-deployment APP` to go back"
                );
                return Ok(());
            }
            _ => {}
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the deployment did not finish within {timeout:?}; the old instances keep serving \
             (`diego cancel-deployment APP` gives up on it){}",
            if d.status.details.is_empty() {
                String::new()
            } else {
                format!(": {}", d.status.details)
            }
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(index: i32, state: &str) -> InstanceStats {
        InstanceStats {
            index,
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn counts_running_instances_and_says_why_others_do_not_run() {
        let mut crashed = stat(1, "CRASHED");
        crashed.crash_count = 2;
        crashed.crash_reason = "APP/PROC/WEB: Exited with status 1".into();
        let mut unplaced = stat(2, "STARTING");
        unplaced.placement_error = "found no compatible cell".into();
        let stats = vec![stat(0, "RUNNING"), crashed, unplaced, stat(5, "RUNNING")];
        let (n, problems) = summarize(&stats, 3);
        assert_eq!(n, 1);
        assert_eq!(
            problems,
            vec![
                "instance 1: crashed (2 times): APP/PROC/WEB: Exited with status 1",
                "instance 2: not placed: found no compatible cell"
            ]
        );
    }
}
