//! Wire conformance: replays the exchanges captured between Diego's BBS and
//! cfdot (`shared/conformance/bbs`, beside the repository) against our BBS
//! and compares the decoded answers after blanking volatile fields (epochs,
//! timestamps). Skipped, saying so, when the corpus is absent.
//!
//! Decoding with our own types would drop, silently, any field Diego sent
//! that our `.proto` files lack; so every recorded request and answer is
//! first read against our schema with its unknown fields kept
//! (`testkit::conformance::unknown_fields`), and a field we do not know
//! fails the replay.

mod api_support;

use api_support::TestBbs;
use axum::http::StatusCode;
use models::*;
use prost::Message;
use std::path::PathBuf;

trait Normalize {
    fn normalize(&mut self);
}

fn tag(t: &mut Option<ModificationTag>) {
    if let Some(t) = t {
        t.epoch.clear();
    }
}

impl Normalize for ActualLrp {
    fn normalize(&mut self) {
        self.since = 0;
        tag(&mut self.modification_tag);
        if let Some(ik) = &mut self.actual_lrp_instance_key {
            ik.instance_guid.clear();
        }
    }
}

impl Normalize for DesiredLrp {
    fn normalize(&mut self) {
        tag(&mut self.modification_tag);
    }
}

impl Normalize for DesiredLrpSchedulingInfo {
    fn normalize(&mut self) {
        tag(&mut self.modification_tag);
    }
}

impl Normalize for Task {
    fn normalize(&mut self) {
        self.created_at = 0;
        self.updated_at = 0;
        self.first_completed_at = 0;
    }
}

fn all<T: Normalize>(v: &mut [T]) {
    v.iter_mut().for_each(Normalize::normalize);
}

/// The protobuf message names of `path`'s request and answer (our
/// `.proto` names, which are Diego's); None: no body.
fn message_types(path: &str) -> (Option<&'static str>, &'static str) {
    match path {
        "/v1/domains/upsert" => (
            Some("models.UpsertDomainRequest"),
            "models.UpsertDomainResponse",
        ),
        "/v1/domains/list" => (None, "models.DomainsResponse"),
        "/v1/desired_lrp/desire.r2" => (
            Some("models.DesireLRPRequest"),
            "models.DesiredLRPLifecycleResponse",
        ),
        "/v1/desired_lrp/update" => (
            Some("models.UpdateDesiredLRPRequest"),
            "models.DesiredLRPLifecycleResponse",
        ),
        "/v1/desired_lrp/remove" => (
            Some("models.RemoveDesiredLRPRequest"),
            "models.DesiredLRPLifecycleResponse",
        ),
        "/v1/desired_lrps/list.r3" => (
            Some("models.DesiredLRPsRequest"),
            "models.DesiredLRPsResponse",
        ),
        "/v1/desired_lrps/get_by_process_guid.r3" => (
            Some("models.DesiredLRPByProcessGuidRequest"),
            "models.DesiredLRPResponse",
        ),
        "/v1/desired_lrp_scheduling_infos/list" => (
            Some("models.DesiredLRPsRequest"),
            "models.DesiredLRPSchedulingInfosResponse",
        ),
        "/v1/actual_lrps/list" => (
            Some("models.ActualLRPsRequest"),
            "models.ActualLRPsResponse",
        ),
        "/v1/tasks/desire.r2" => (
            Some("models.DesireTaskRequest"),
            "models.TaskLifecycleResponse",
        ),
        "/v1/tasks/cancel" | "/v1/tasks/resolving" | "/v1/tasks/delete" => (
            Some("models.TaskGuidRequest"),
            "models.TaskLifecycleResponse",
        ),
        "/v1/tasks/list.r3" => (Some("models.TasksRequest"), "models.TasksResponse"),
        "/v1/tasks/get_by_task_guid.r3" => {
            (Some("models.TaskByGuidRequest"), "models.TaskResponse")
        }
        "/v1/cells/list.r1" => (None, "models.CellsResponse"),
        other => panic!("no message types known for {other}"),
    }
}

/// The fields of Diego's recorded bytes that our schema lacks.
fn unknown_in(message: &str, bytes: &[u8]) -> Vec<String> {
    testkit::conformance::unknown_fields(models::FILE_DESCRIPTOR_SET, message, bytes)
        .unwrap_or_else(|e| panic!("{message}: {e}"))
}

/// Decodes `bytes` as the response type of `path`, normalized, in Debug form.
fn decode_normalized(path: &str, bytes: &[u8]) -> String {
    macro_rules! plain {
        ($t:ty) => {{
            let m = <$t>::decode(bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
            format!("{m:#?}")
        }};
    }
    match path {
        "/v1/domains/upsert" => plain!(UpsertDomainResponse),
        "/v1/domains/list" => plain!(DomainsResponse),
        "/v1/desired_lrp/desire.r2" | "/v1/desired_lrp/update" | "/v1/desired_lrp/remove" => {
            plain!(DesiredLrpLifecycleResponse)
        }
        "/v1/desired_lrps/list.r3" => {
            let mut m = DesiredLrPsResponse::decode(bytes).unwrap();
            all(&mut m.desired_lrps);
            format!("{m:#?}")
        }
        "/v1/desired_lrps/get_by_process_guid.r3" => {
            let mut m = DesiredLrpResponse::decode(bytes).unwrap();
            if let Some(d) = &mut m.desired_lrp {
                d.normalize();
            }
            format!("{m:#?}")
        }
        "/v1/desired_lrp_scheduling_infos/list" => {
            let mut m = DesiredLrpSchedulingInfosResponse::decode(bytes).unwrap();
            all(&mut m.desired_lrp_scheduling_infos);
            format!("{m:#?}")
        }
        "/v1/actual_lrps/list" => {
            let mut m = ActualLrPsResponse::decode(bytes).unwrap();
            all(&mut m.actual_lrps);
            m.actual_lrps.sort_by_key(|l| (l.index(), l.presence));
            format!("{m:#?}")
        }
        "/v1/tasks/desire.r2" | "/v1/tasks/cancel" | "/v1/tasks/resolving" | "/v1/tasks/delete" => {
            plain!(TaskLifecycleResponse)
        }
        "/v1/tasks/list.r3" => {
            let mut m = TasksResponse::decode(bytes).unwrap();
            all(&mut m.tasks);
            format!("{m:#?}")
        }
        "/v1/tasks/get_by_task_guid.r3" => {
            let mut m = TaskResponse::decode(bytes).unwrap();
            if let Some(t) = &mut m.task {
                t.normalize();
            }
            format!("{m:#?}")
        }
        "/v1/cells/list.r1" => plain!(CellsResponse),
        other => panic!("no response type known for {other}"),
    }
}

#[tokio::test]
async fn replay_diego_conformance_corpus() {
    let Some(dir) = testkit::conformance::corpus_dir() else {
        return;
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "empty corpus");

    let bbs = TestBbs::start().await;
    let mut checked = 0;
    let mut failures: Vec<String> = Vec::new();
    for entry in &entries {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        let paths = std::fs::read_to_string(entry.join("path.txt")).unwrap();
        for (i, path) in paths.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let suffix = if i == 0 {
                String::new()
            } else {
                format!("-{}", i + 1)
            };
            let request =
                std::fs::read(entry.join(format!("request{suffix}.bin"))).unwrap_or_default();
            let expected = std::fs::read(entry.join(format!("response{suffix}.bin"))).unwrap();
            let (request_type, response_type) = message_types(path.trim());
            let mut unknown = unknown_in(response_type, &expected);
            if let Some(t) = request_type {
                unknown.extend(unknown_in(t, &request));
            }
            if !unknown.is_empty() {
                failures.push(format!(
                    "{name}: {path}: Diego's bytes hold fields our schema lacks:\n{}",
                    unknown.join("\n")
                ));
            }
            let (status, body) = bbs.post_raw(path.trim(), request).await;
            assert_eq!(status, StatusCode::OK, "{name}: {path}");
            let ours = decode_normalized(path.trim(), &body);
            let theirs = decode_normalized(path.trim(), &expected);
            if ours != theirs {
                failures.push(format!("{name}: {path}: ours:\n{ours}\nDiego's:\n{theirs}"));
            } else if expected.is_empty() && !body.is_empty() {
                failures.push(format!(
                    "{name}: {path}: Diego answered zero bytes, we {}",
                    body.len()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} exchanges differ from Diego's:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{checked} exchanges from {} entries match", entries.len());
}
