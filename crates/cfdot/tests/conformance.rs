//! Our cfdot against the reference cfdot's captured exchanges: for every
//! corpus entry, a local server answers with the captured BBS response and
//! we check the request we sent and what we printed and returned.

mod support;

use std::fs;

use prost::Message;
use support::*;

/// The request message on a route, decoded and rendered for comparison.
fn decode_request(path: &str, body: &[u8]) -> String {
    use models::*;
    fn d<M: Message + Default + std::fmt::Debug>(b: &[u8]) -> String {
        format!("{:?}", M::decode(b).expect("request decodes"))
    }
    match path {
        "/v1/domains/upsert" => d::<UpsertDomainRequest>(body),
        "/v1/domains/list" | "/v1/cells/list.r1" => d::<()>(body),
        "/v1/desired_lrp/desire.r2" => d::<DesireLrpRequest>(body),
        "/v1/desired_lrp/update" => d::<UpdateDesiredLrpRequest>(body),
        "/v1/desired_lrp/remove" => d::<RemoveDesiredLrpRequest>(body),
        "/v1/desired_lrps/list.r3" | "/v1/desired_lrp_scheduling_infos/list" => {
            d::<DesiredLrPsRequest>(body)
        }
        "/v1/desired_lrps/get_by_process_guid.r3" => d::<DesiredLrpByProcessGuidRequest>(body),
        "/v1/actual_lrps/list" => d::<ActualLrPsRequest>(body),
        "/v1/tasks/desire.r2" => d::<DesireTaskRequest>(body),
        "/v1/tasks/list.r3" => d::<TasksRequest>(body),
        "/v1/tasks/get_by_task_guid.r3" => d::<TaskByGuidRequest>(body),
        "/v1/tasks/cancel" | "/v1/tasks/resolving" | "/v1/tasks/delete" => {
            d::<TaskGuidRequest>(body)
        }
        other => panic!("no request type known for {other}"),
    }
}

#[test]
fn every_corpus_entry_matches_reference_cfdot() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for entry in entries(&dir) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        let paths: Vec<String> = fs::read_to_string(entry.join("path.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
            .collect();
        let mut responses = vec![Canned::proto(fs::read(entry.join("response.bin")).unwrap())];
        if entry.join("response-2.bin").exists() {
            responses.push(Canned::proto(
                fs::read(entry.join("response-2.bin")).unwrap(),
            ));
        }
        let server = serve(responses);
        let mut args = entry_args(&entry);
        args.push("--bbsURL".into());
        args.push(server.url.clone());
        let out = cfdot(&args);

        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want_stdout = fs::read_to_string(entry.join("cfdot-stdout.txt")).unwrap();
        let want_stderr = fs::read_to_string(entry.join("cfdot-stderr.txt")).unwrap();
        let want_code: i32 = fs::read_to_string(entry.join("cfdot-exit-code.txt"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(stdout, want_stdout, "{name}: stdout");
        assert_eq!(stderr, want_stderr, "{name}: stderr");
        assert_eq!(out.status.code(), Some(want_code), "{name}: exit code");

        let reqs = server.requests.lock().unwrap().clone();
        let got_paths: Vec<String> = reqs.iter().map(|r| r.path.clone()).collect();
        assert_eq!(got_paths, paths, "{name}: request paths");
        for (i, r) in reqs.iter().enumerate() {
            assert_eq!(r.method, "POST", "{name}: method");
            assert_eq!(
                r.header("content-type"),
                Some("application/x-protobuf"),
                "{name}: content type"
            );
            let trace = r.header("x-vcap-request-id").unwrap_or("");
            assert!(
                trace.len() == 32 && trace.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}: trace id {trace:?}"
            );
            let file = if i == 0 {
                "request.bin".to_string()
            } else {
                format!("request-{}.bin", i + 1)
            };
            let want = fs::read(entry.join(&file)).unwrap();
            assert_eq!(
                decode_request(&r.path, &r.body),
                decode_request(&r.path, &want),
                "{name}: {file} decodes differently"
            );
            assert_eq!(r.body, want, "{name}: {file} bytes differ");
        }
        checked += 1;
    }
    assert!(checked >= 24, "only {checked} corpus entries checked");
}
