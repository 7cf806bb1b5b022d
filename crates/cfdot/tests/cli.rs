//! Validation, error reporting and event streaming, as cfdot does them.

mod support;

use base64::Engine;
use prost::Message;
use support::*;

fn run(args: &[&str]) -> (String, String, i32) {
    let out = cfdot(&strings(args));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn with_server(args: &[&str], server: &Server) -> (String, String, i32) {
    let mut v: Vec<&str> = args.to_vec();
    v.push("--bbsURL");
    v.push(&server.url);
    run(&v)
}

fn empty_ok() -> Server {
    serve(vec![Canned::proto(Vec::new())])
}

#[test]
fn missing_bbs_url_is_a_validation_error() {
    let (out, err, code) = run(&["domains"]);
    assert_eq!(out, "");
    assert!(err.starts_with("Error: BBS URL not set. Please specify one with the '--bbsURL' flag or the 'BBS_URL' environment variable.\nUsage:\n  cfdot domains [flags]\n\nFlags:\n"), "{err}");
    assert!(err.contains("      --bbsURL string"), "{err}");
    assert!(err.contains("  -h, --help "), "{err}");
    assert_eq!(code, 3);
}

#[test]
fn bbs_url_from_environment() {
    let server = empty_ok();
    let out = cfdot_env(&strings(&["domains"]), &[("BBS_URL", &server.url)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.requests.lock().unwrap()[0].path, "/v1/domains/list");
}

#[test]
fn non_https_and_invalid_urls_are_rejected() {
    let (_, err, code) = run(&["domains", "--bbsURL", "ftp://x"]);
    assert!(err.starts_with("Error: The URL 'ftp://x' does not have an 'https' scheme. Please specify one with the '--bbsURL' flag or the 'BBS_URL' environment variable.\n"), "{err}");
    assert_eq!(code, 3);
    let (_, err, code) = run(&["domains", "--bbsURL", "127.0.0.1:8889"]);
    assert!(
        err.starts_with("Error: The value '127.0.0.1:8889' is not a valid BBS URL."),
        "{err}"
    );
    assert_eq!(code, 3);
}

#[test]
fn https_requires_tls_flags() {
    let (_, err, code) = run(&["domains", "--bbsURL", "https://127.0.0.1:1"]);
    assert!(err.starts_with(
        "Error: --caCertFile must be specified if using HTTPS and --skipCertVerify is not set\n"
    ));
    assert_eq!(code, 3);
    let (_, err, code) = run(&[
        "domains",
        "--bbsURL",
        "https://127.0.0.1:1",
        "--skipCertVerify",
    ]);
    assert!(err.starts_with(
        "Error: --clientCertFile and --clientKeyFile must both be specified for TLS connections.\n"
    ));
    assert_eq!(code, 3);
    let (_, err, code) = run(&[
        "domains",
        "--bbsURL",
        "https://127.0.0.1:1",
        "--caCertFile",
        "/nonexistent/ca.crt",
    ]);
    assert!(err.starts_with("Error: CA cert file '/nonexistent/ca.crt' doesn't exist or is not readable: open /nonexistent/ca.crt: no such file or directory\n"), "{err}");
    assert_eq!(code, 3);
    let out = cfdot_env(
        &strings(&["domains", "--bbsURL", "https://127.0.0.1:1"]),
        &[("SKIP_CERT_VERIFY", "maybe")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: The value 'maybe' is not a valid value for SKIP_CERT_VERIFY."),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn argument_count_errors() {
    let server = empty_ok();
    for (args, msg) in [
        (&["desired-lrp"][..], "Missing arguments"),
        (
            &["desired-lrp", "a", "b"][..],
            "Too many arguments specified",
        ),
        (
            &["desired-lrp", ""][..],
            "Process guid should be non empty string",
        ),
        (&["domains", "extra"][..], "Too many arguments specified"),
        (&["task"][..], "Missing arguments"),
        (&["set-domain"][..], "Missing arguments"),
        (&["set-domain", ""][..], "No domain given"),
        (&["retire-actual-lrp", "guid"][..], "Missing arguments"),
        (
            &["retire-actual-lrp", "guid", "x"][..],
            "Index must be a non-negative integer",
        ),
        (&["create-desired-lrp"][..], "missing spec argument"),
        (&["create-task"][..], "missing spec argument"),
        (&["update-desired-lrp", "guid"][..], "Missing arguments"),
        (&["cell"][..], "Missing arguments"),
    ] {
        let (out, err, code) = with_server(args, &server);
        assert_eq!(out, "", "{args:?}");
        let name = args[0];
        assert!(
            err.starts_with(&format!("Error: {msg}\nUsage:\n  cfdot {name}")),
            "{args:?}: {err}"
        );
        assert_eq!(code, 3, "{args:?}");
    }
    assert!(
        server.requests.lock().unwrap().is_empty(),
        "no request may be sent for invalid input"
    );
}

#[test]
fn malformed_specs_are_rejected_before_any_request() {
    let server = empty_ok();
    let (_, err, code) = with_server(&["create-desired-lrp", "{\"process_guid\":"], &server);
    assert!(
        err.starts_with("Error: Invalid JSON: unexpected end of JSON input\n"),
        "{err}"
    );
    assert_eq!(code, 3);
    let (_, err, code) = with_server(&["create-task", "{\"memory_mb\":\"x\"}"], &server);
    assert!(
        err.starts_with("Error: Invalid JSON: json: cannot unmarshal string into Go struct field"),
        "{err}"
    );
    assert_eq!(code, 3);
    let (_, err, code) = with_server(&["create-task", "@/nonexistent/spec.json"], &server);
    assert!(
        err.starts_with("Error: stat /nonexistent/spec.json: no such file or directory\n"),
        "{err}"
    );
    assert_eq!(code, 3);
    let (_, err, code) = with_server(
        &["update-desired-lrp", "guid", "@/nonexistent/spec.json"],
        &server,
    );
    assert!(
        err.starts_with("stat /nonexistent/spec.json: no such file or directory\nError: stat /nonexistent/spec.json: no such file or directory\n"),
        "{err}"
    );
    assert_eq!(code, 3);
    assert!(server.requests.lock().unwrap().is_empty());
}

#[test]
fn flag_errors_follow_pflag() {
    let server = empty_ok();
    let (_, err, code) = with_server(&["set-domain", "d", "--ttl", "abc"], &server);
    assert!(
        err.starts_with(
            "Error: invalid argument \"abc\" for \"-t, --ttl\" flag: time: invalid duration \"abc\"\n"
        ),
        "{err}"
    );
    assert_eq!(code, 3);
    let (_, err, code) = with_server(&["set-domain", "d", "--ttl", "-5s"], &server);
    assert!(err.starts_with("Error: ttl is negative\n"), "{err}");
    assert_eq!(code, 3);
    let (_, err, code) = with_server(&["actual-lrps", "--index", "x"], &server);
    assert!(err.starts_with("Error: invalid argument \"x\" for \"-i, --index\" flag: strconv.ParseInt: parsing \"x\": invalid syntax\n"), "{err}");
    assert_eq!(code, 3);
    let (_, err, code) = with_server(&["domains", "--bogus"], &server);
    assert!(err.starts_with("Error: unknown flag: --bogus\n"), "{err}");
    assert_eq!(code, 255);
    let (_, err, code) = run(&["no-such-command"]);
    assert_eq!(
        err,
        "Error: unknown command \"no-such-command\" for \"cfdot\"\nRun 'cfdot --help' for usage.\n"
    );
    assert_eq!(code, 255);
    let (_, err, code) = with_server(&["tasks", "-d", "a", "--domain", "b"], &server);
    assert!(
        err.starts_with("Error: Only one of -d and --domain should be passed\n"),
        "{err}"
    );
    assert_eq!(code, 3);
    assert!(server.requests.lock().unwrap().is_empty());
}

#[test]
fn set_domain_ttl_and_filters_reach_the_request() {
    let server = empty_ok();
    let (_, err, code) = with_server(&["set-domain", "d1", "-t", "1m30s"], &server);
    assert_eq!((err.as_str(), code), ("", 0));
    let (_, _, code) = with_server(
        &["actual-lrps", "-c", "cell-1", "--index", "0", "-p", "pg"],
        &server,
    );
    assert_eq!(code, 0);
    let reqs = server.requests.lock().unwrap().clone();
    let upsert = models::UpsertDomainRequest::decode(&reqs[0].body[..]).unwrap();
    assert_eq!(upsert.domain, "d1");
    assert_eq!(upsert.ttl, 90);
    let lrps = models::ActualLrPsRequest::decode(&reqs[1].body[..]).unwrap();
    assert_eq!(lrps.cell_id, "cell-1");
    assert_eq!(lrps.process_guid, "pg");
    assert_eq!(
        lrps.optional_index,
        Some(models::actual_lr_ps_request::OptionalIndex::Index(0))
    );
}

#[test]
fn bbs_errors_exit_4_and_transport_errors_exit_5() {
    let resp = models::DesiredLrpResponse {
        error: Some(models::Error {
            r#type: models::ErrorType::ResourceNotFound as i32,
            message: "the requested resource could not be found".into(),
        }),
        desired_lrp: None,
    };
    let server = serve(vec![Canned::proto(resp.encode_to_vec())]);
    let (out, err, code) = with_server(&["retire-actual-lrp", "unknown-guid", "0"], &server);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "Error: BBS error\nType 13: ResourceNotFound\nMessage: the requested resource could not be found\n"
    );
    assert_eq!(code, 4);

    let server = serve(vec![Canned {
        content_type: "text/plain",
        status: 404,
        body: b"nope".to_vec(),
    }]);
    let (_, err, code) = with_server(&["domains"], &server);
    assert_eq!(
        err,
        "Error: BBS error\nType 5: InvalidResponse\nMessage: Invalid Response with status code: 404\n"
    );
    assert_eq!(code, 4);

    let (_, err, code) = run(&["domains", "--bbsURL", "http://127.0.0.1:1"]);
    assert_eq!(
        err,
        "Error: Post \"http://127.0.0.1:1/v1/domains/list\": dial tcp 127.0.0.1:1: connect: connection refused\n"
    );
    assert_eq!(code, 5);
}

#[test]
fn cell_not_found() {
    let resp = models::CellsResponse {
        error: None,
        cells: vec![models::CellPresence {
            cell_id: "cell-1".into(),
            ..Default::default()
        }],
    };
    let server = serve(vec![Canned::proto(resp.encode_to_vec())]);
    let (out, err, code) = with_server(&["cell", "cell-2"], &server);
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("", "Error: Cell not found\n", 5)
    );
    let (out, _, code) = with_server(&["cell", "cell-1"], &server);
    assert!(out.starts_with("{\"cell_id\":\"cell-1\""), "{out}");
    assert_eq!(code, 0);
}

#[test]
fn deprecated_commands_announce_themselves() {
    let server = empty_ok();
    let (_, err, code) = with_server(&["actual-lrp-groups"], &server);
    assert_eq!(
        err,
        "Command \"actual-lrp-groups\" is deprecated, use \"actual-lrps\" instead.\n"
    );
    assert_eq!(code, 0);
    assert_eq!(
        server.requests.lock().unwrap()[0].path,
        "/v1/actual_lrp_groups/list"
    );
}

fn sse_event(id: usize, name: &str, msg: &impl Message) -> String {
    format!(
        "id: {id}\nevent: {name}\ndata: {}\n\n",
        base64::engine::general_purpose::STANDARD.encode(msg.encode_to_vec())
    )
}

#[test]
fn task_events_print_type_and_data_until_the_stream_ends() {
    let task = models::Task {
        task_guid: "t1".into(),
        domain: "d".into(),
        ..Default::default()
    };
    let created = models::TaskCreatedEvent {
        task: Some(task.clone()),
    };
    let removed = models::TaskRemovedEvent { task: Some(task) };
    let body = sse_event(0, "task_created", &created) + &sse_event(1, "task_removed", &removed);
    let server = serve(vec![Canned {
        content_type: "text/event-stream",
        status: 200,
        body: body.into_bytes(),
    }]);
    let (out, err, code) = with_server(&["task-events"], &server);
    assert_eq!((err.as_str(), code), ("", 0));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("{\"type\":\"task_created\",\"data\":{\"task\":{"));
    assert!(lines[1].starts_with("{\"type\":\"task_removed\",\"data\":{\"task\":{"));
    assert!(lines[0].contains("\"task_guid\":\"t1\""));
    let reqs = server.requests.lock().unwrap().clone();
    assert_eq!(reqs[0].path, "/v1/events/tasks.r1");
    assert_eq!(reqs[0].method, "POST");
}

#[test]
fn lrp_events_filter_by_cell_and_warn_about_groups() {
    let ev = models::ActualLrpCrashedEvent {
        actual_lrp_key: Some(models::ActualLrpKey {
            process_guid: "pg".into(),
            index: 1,
            domain: "d".into(),
        }),
        crash_count: 2,
        ..Default::default()
    };
    let server = serve(vec![Canned {
        content_type: "text/event-stream",
        status: 200,
        body: sse_event(0, "actual_lrp_crashed", &ev).into_bytes(),
    }]);
    let (out, err, code) = with_server(&["lrp-events", "-x", "-c", "cell-9"], &server);
    assert_eq!((err.as_str(), code), ("", 0));
    assert!(
        out.starts_with(
            "{\"type\":\"actual_lrp_crashed\",\"data\":{\"process_guid\":\"pg\",\"index\":1,"
        ),
        "{out}"
    );
    let reqs = server.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/events/lrp_instances.r1");
    let filter = models::EventsByCellId::decode(&reqs[0].body[..]).unwrap();
    assert_eq!(filter.cell_id, "cell-9");

    // Without -x cfdot also reads the deprecated stream and says so.
    let server = serve(vec![Canned {
        content_type: "text/event-stream",
        status: 200,
        body: Vec::new(),
    }]);
    let (_, err, code) = with_server(&["lrp-events"], &server);
    assert_eq!(code, 0);
    assert!(
        err.starts_with("Event types \"actual_lrp_created\""),
        "{err}"
    );
    let mut paths: Vec<(String, String)> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            ("GET".to_string(), "/v1/events.r1".to_string()),
            (
                "POST".to_string(),
                "/v1/events/lrp_instances.r1".to_string()
            )
        ]
    );
}
