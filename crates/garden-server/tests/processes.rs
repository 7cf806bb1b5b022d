//! Garden's run and attach on the houdini backend (no root needed), with
//! the Go-free client in process_client.

mod process_client;
mod serving;

use garden_server::GardenConfig;
use process_client::{attach, run, Addr};
use serde_json::{json, Value};
use std::time::Duration;

struct Garden {
    addr: Addr,
    serving: serving::Serving,
    _depot: tempfile::TempDir,
}

async fn start(unix: bool) -> Garden {
    let depot = tempfile::tempdir().unwrap();
    let mut cfg = GardenConfig {
        container_backend: "houdini".into(),
        depot_dir: depot.path().display().to_string(),
        listen_address: "127.0.0.1:0".into(),
        ..Default::default()
    };
    if unix {
        cfg.listen_network = "unix".into();
        cfg.listen_address = depot.path().join("garden.sock").display().to_string();
    }
    let serving = serving::serve_configured(cfg).await;
    let addr = if unix {
        Addr::Unix(serving.addr.clone().into())
    } else {
        Addr::Tcp(serving.addr.clone())
    };
    Garden {
        addr,
        serving,
        _depot: depot,
    }
}

impl Garden {
    fn url(&self, path: &str) -> String {
        match &self.addr {
            Addr::Tcp(a) => format!("http://{a}{path}"),
            Addr::Unix(_) => unreachable!("reqwest over TCP only"),
        }
    }

    async fn create(&self, handle: &str) {
        let r = reqwest::Client::new()
            .post(self.url("/containers"))
            .json(&json!({"handle": handle}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn info(&self, handle: &str) -> Value {
        let r = reqwest::get(self.url(&format!("/containers/{handle}/info")))
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    async fn stop(self) {
        self.serving.stop().await;
    }
}

fn sh(script: &str) -> Value {
    json!({"path": "sh", "args": ["-c", script]})
}

#[tokio::test]
async fn run_streams_stdio_and_reports_the_exit_status() {
    let g = start(false).await;
    g.create("c1").await;
    let mut p = run(
        &g.addr,
        "c1",
        sh("echo out; echo err >&2; read x; echo got $x; exit 3"),
    )
    .await
    .unwrap();
    // The bytes Go's server flushes on Hijack after WriteHeader(201).
    assert_eq!(p.head.status_line, "HTTP/1.1 201 Created");
    assert_eq!(p.head.header("content-type"), Some("application/json"));
    assert_eq!(p.head.header("transfer-encoding"), Some("chunked"));
    assert!(p.head.header("date").unwrap().ends_with(" GMT"));
    // Garden makes an id when the spec has none (guardian: a UUID).
    assert_eq!(p.process_id.len(), 36, "{}", p.process_id);
    assert!(!p.stream_id.is_empty());

    let stdout = p.output("stdout").await;
    let stderr = p.output("stderr").await;
    p.stdin("hel").await;
    p.stdin("lo\n").await;
    p.close_stdin().await;
    let id = p.process_id.clone();
    assert_eq!(p.wait().await, json!({"process_id": id, "exit_status": 3}));
    let (head, out) = stdout.await.unwrap();
    assert_eq!(head.status_line, "HTTP/1.1 200 OK");
    assert_eq!(head.header("content-type"), None);
    assert_eq!(String::from_utf8(out).unwrap(), "out\ngot hello\n");
    let (_, err) = stderr.await.unwrap();
    assert_eq!(String::from_utf8(err).unwrap(), "err\n");
    g.stop().await;
}

#[tokio::test]
async fn output_written_before_the_streams_connect_is_kept() {
    let g = start(false).await;
    g.create("c2").await;
    let p = run(
        &g.addr,
        "c2",
        sh("echo early; echo early-err >&2; i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"),
    )
    .await
    .unwrap();
    // The process has ended and its connection closed before either output
    // stream is asked for; they still carry all of it (within the grace).
    let (handle_pid, sid) = (p.process_id.clone(), p.stream_id.clone());
    let attached = process_client::StreamRef {
        handle: "c2".into(),
        process_id: handle_pid,
        stream_id: sid,
    };
    assert_eq!(p.wait().await["exit_status"], 0);
    let (_, out) = attached.output(&g.addr, "stdout").await;
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("early\nline0\n"), "{out:.40}");
    assert!(out.ends_with("line1999\n"));
    assert_eq!(out.lines().count(), 2001);
    let (_, err) = attached.output(&g.addr, "stderr").await;
    assert_eq!(String::from_utf8(err).unwrap(), "early-err\n");
    // A stream is read once: a second request finds nothing.
    let (head, again) = attached.output(&g.addr, "stdout").await;
    assert_eq!((head.status, again.len()), (200, 0));
    g.stop().await;
}

#[tokio::test]
async fn attach_after_the_run_connection_closed_gets_the_exit_status() {
    let g = start(false).await;
    g.create("c3").await;
    let mut spec = sh("sleep 1; echo late; exit 7");
    spec["id"] = json!("proc-1");
    let p = run(&g.addr, "c3", spec.clone()).await.unwrap();
    assert_eq!(p.process_id, "proc-1");
    drop(p);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(g.info("c3").await["ProcessIDs"], json!(["proc-1"]));
    // The same id again while it runs is refused, as guardian does.
    let (status, e) = run(&g.addr, "c3", spec).await.err().unwrap();
    assert_eq!(status, 500);
    assert_eq!(e["Message"], "process ID 'proc-1' already in use");

    let a = attach(&g.addr, "c3", "proc-1").await.unwrap();
    assert_eq!(a.head.status_line, "HTTP/1.1 200 OK");
    assert_eq!(a.head.header("content-type"), Some("application/json"));
    assert_eq!(a.process_id, "proc-1");
    let stdout = a.output("stdout").await;
    assert_eq!(
        a.wait().await,
        json!({"process_id": "proc-1", "exit_status": 7})
    );
    assert_eq!(stdout.await.unwrap().1, b"late\n");
    assert_eq!(g.info("c3").await["ProcessIDs"], json!([]));
    // An exited process still answers attach with its exit status.
    let again = attach(&g.addr, "c3", "proc-1").await.unwrap();
    assert_eq!(again.wait().await["exit_status"], 7);
    g.stop().await;
}

#[tokio::test]
async fn signals_terminate_and_kill() {
    let g = start(false).await;
    g.create("c4").await;
    let mut p = run(&g.addr, "c4", json!({"path": "sleep", "args": ["1000"]}))
        .await
        .unwrap();
    p.signal(0).await;
    let exit = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("terminated");
    assert_eq!(exit["exit_status"], 128 + 15);
    let mut p = run(&g.addr, "c4", sh("trap '' TERM; sleep 1000"))
        .await
        .unwrap();
    p.signal(1).await;
    let exit = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("killed");
    assert_eq!(exit["exit_status"], 128 + 9);
    g.stop().await;
}

#[tokio::test]
async fn unknown_processes_and_containers_answer_garden_errors() {
    let g = start(false).await;
    g.create("c5").await;
    let (status, e) = attach(&g.addr, "c5", "nope").await.err().unwrap();
    assert_eq!(status, 404);
    assert_eq!(
        e,
        json!({"Type": "ProcessNotFoundError", "Message": "unknown process: nope",
               "Handle": "", "ProcessID": "nope"})
    );
    let (status, e) = attach(&g.addr, "ghost", "p").await.err().unwrap();
    assert_eq!(
        (status, &e["Type"]),
        (404, &json!("ContainerNotFoundError"))
    );
    let (status, e) = run(&g.addr, "ghost", sh("true")).await.err().unwrap();
    assert_eq!((status, &e["Handle"]), (404, &json!("ghost")));
    // A body that does not decode: Go's readRequest error, a 500.
    let (status, _) = run(&g.addr, "c5", json!({"args": "not-a-list"}))
        .await
        .err()
        .unwrap();
    assert_eq!(status, 500);
    // The other routes still answer on the same server.
    let r = reqwest::get(g.url("/ping")).await.unwrap();
    assert_eq!(r.status(), 200);
    g.stop().await;
}

#[tokio::test]
async fn run_and_attach_over_a_unix_socket() {
    let g = start(true).await;
    // Create over the socket with a plain request first.
    let (status, _) =
        process_client::call(&g.addr, "POST", "/containers", &json!({"handle": "u1"})).await;
    assert_eq!(status, 200);
    let mut p = run(&g.addr, "u1", sh("read x; echo $x-back"))
        .await
        .unwrap();
    let stdout = p.output("stdout").await;
    p.stdin("ping\n").await;
    assert_eq!(p.wait().await["exit_status"], 0);
    assert_eq!(stdout.await.unwrap().1, b"ping-back\n");
    g.stop().await;
}

/// Houdini has no rootfs to give a process of its own: a process with an
/// image (a pea, Diego's sidecars) is refused, saying why.
#[tokio::test]
async fn houdini_refuses_processes_with_an_image_of_their_own() {
    let g = start(false).await;
    g.create("c-pea").await;
    let mut spec = sh("true");
    spec["image"] = json!({"uri": "preloaded:cflinuxfs4"});
    let (status, e) = run(&g.addr, "c-pea", spec).await.err().unwrap();
    assert_eq!(status, 500, "{e}");
    assert!(e["Message"].as_str().unwrap().contains("peas"), "{e}");
    g.stop().await;
}
