//! Our Go-JSON forms against what Diego's own cfdot printed for the same
//! BBS responses, and against the requests it built from JSON specs.
//!
//! The corpus lives beside the repository at `shared/conformance/bbs`; the
//! tests are skipped, saying so, when it is not available.

use std::fs;
use std::path::{Path, PathBuf};

use models::json::{from_go_json, GoJson};
use models::*;
use prost::Message;

fn corpus() -> Option<PathBuf> {
    testkit::conformance::corpus_dir()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn lines<T: GoJson>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_go_json_line()).collect()
}

/// What cfdot prints for a response body on a given route, or None for
/// routes whose output is not a list of models.
fn render(route: &str, body: &[u8]) -> Option<String> {
    let out = match route {
        "/v1/domains/list" => lines(DomainsResponse::decode(body).unwrap().domains),
        "/v1/desired_lrps/list.r3" => {
            lines(DesiredLrPsResponse::decode(body).unwrap().desired_lrps)
        }
        "/v1/desired_lrps/get_by_process_guid.r3" => {
            lines(DesiredLrpResponse::decode(body).unwrap().desired_lrp)
        }
        "/v1/desired_lrp_scheduling_infos/list" => lines(
            DesiredLrpSchedulingInfosResponse::decode(body)
                .unwrap()
                .desired_lrp_scheduling_infos,
        ),
        "/v1/actual_lrps/list" => lines(ActualLrPsResponse::decode(body).unwrap().actual_lrps),
        "/v1/tasks/list.r3" => lines(TasksResponse::decode(body).unwrap().tasks),
        "/v1/tasks/get_by_task_guid.r3" => lines(TaskResponse::decode(body).unwrap().task),
        "/v1/cells/list.r1" => lines(CellsResponse::decode(body).unwrap().cells),
        _ => return None,
    };
    Some(out)
}

#[test]
fn cfdot_output_matches_byte_for_byte() {
    let Some(dir) = corpus() else { return };
    let mut checked = Vec::new();
    for entry in entries(&dir) {
        let route = fs::read_to_string(entry.join("path.txt")).unwrap();
        let route = route.lines().next().unwrap_or("").trim().to_string();
        let body = fs::read(entry.join("response.bin")).unwrap();
        let Some(ours) = render(&route, &body) else {
            continue;
        };
        let theirs = fs::read_to_string(entry.join("cfdot-stdout.txt")).unwrap();
        assert_eq!(
            ours,
            theirs,
            "{}: our JSON differs from cfdot's",
            entry.display()
        );
        checked.push(entry.file_name().unwrap().to_string_lossy().to_string());
    }
    for must in [
        "02-", "04-", "05-", "06-", "07-", "09-", "10-", "12-", "16-", "17-",
    ] {
        assert!(
            checked.iter().any(|c| c.starts_with(must)),
            "entry {must}* was not checked (checked: {checked:?})"
        );
    }
}

fn spec(entry: &Path) -> String {
    fs::read_to_string(entry.join("spec.json")).unwrap()
}

fn find(dir: &Path, prefix: &str) -> PathBuf {
    entries(dir)
        .into_iter()
        .find(|e| e.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no corpus entry {prefix}*"))
}

#[test]
fn desired_lrp_specs_decode_to_what_cfdot_sent() {
    let Some(dir) = corpus() else { return };
    for prefix in ["03-", "22-"] {
        let entry = find(&dir, prefix);
        let request_bin = fs::read(entry.join("request.bin")).unwrap();
        let sent = DesireLrpRequest::decode(&request_bin[..]).unwrap();
        let ours: DesiredLrp = from_go_json(&spec(&entry)).unwrap();
        assert_eq!(
            Some(&ours),
            sent.desired_lrp.as_ref(),
            "{}",
            entry.display()
        );
        let ours_req = DesireLrpRequest {
            desired_lrp: Some(ours),
        };
        assert_eq!(ours_req.encode_to_vec(), request_bin, "{}", entry.display());
    }
}

#[test]
fn task_spec_decodes_to_what_cfdot_sent() {
    let Some(dir) = corpus() else { return };
    let entry = find(&dir, "08-");
    let request_bin = fs::read(entry.join("request.bin")).unwrap();
    let sent = DesireTaskRequest::decode(&request_bin[..]).unwrap();
    // cfdot reads the spec as a Task (definition members promoted).
    let task: Task = from_go_json(&spec(&entry)).unwrap();
    let ours = DesireTaskRequest {
        task_definition: task.task_definition,
        task_guid: task.task_guid,
        domain: task.domain,
    };
    assert_eq!(ours, sent);
    assert_eq!(ours.encode_to_vec(), request_bin);
}

#[test]
fn update_spec_decodes_to_what_cfdot_sent() {
    let Some(dir) = corpus() else { return };
    let entry = find(&dir, "15-");
    let request_bin = fs::read(entry.join("request.bin")).unwrap();
    let sent = UpdateDesiredLrpRequest::decode(&request_bin[..]).unwrap();
    let update: DesiredLrpUpdate = from_go_json(&spec(&entry)).unwrap();
    let ours = UpdateDesiredLrpRequest {
        process_guid: "goref-lrp-1".into(),
        update: Some(update),
    };
    assert_eq!(ours, sent);
    assert_eq!(ours.encode_to_vec(), request_bin);
}
