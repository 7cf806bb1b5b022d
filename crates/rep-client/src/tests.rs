use super::*;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::Mutex;

fn factory(require_tls: bool, creds: bool) -> RepClientFactory {
    let tls = creds.then(|| tlsconfig::ClientTls {
        ca: Some(tlsconfig::Pem::inline("unused")),
        identity: Some((tlsconfig::Pem::inline("x"), tlsconfig::Pem::inline("y"))),
        skip_verify: false,
    });
    RepClientFactory {
        http: reqwest::Client::new(),
        request_timeout: None,
        state_timeout: None,
        require_tls,
        has_creds: tls.is_some(),
    }
}

#[test]
fn urls_are_picked_as_diegos_pick_url_picks_them() {
    let plain = factory(false, false);
    assert_eq!(plain.pick_url("http://a:1", "").unwrap(), "http://a:1");
    assert_eq!(
        plain.pick_url("http://a:1", "http://u:2").unwrap(),
        "http://u:2"
    );
    assert_eq!(
        plain
            .pick_url("http://a:1", "https://u:2")
            .unwrap_err()
            .to_string(),
        "https scheme not supported since certificates aren't provided"
    );
    let creds = factory(false, true);
    assert_eq!(
        creds.pick_url("http://a:1", "https://u:2").unwrap(),
        "https://u:2"
    );
    assert_eq!(creds.pick_url("http://a:1", "").unwrap(), "http://a:1");
    let strict = factory(true, true);
    assert_eq!(
        strict.pick_url("http://a:1", "HTTPS://u:2").unwrap(),
        "HTTPS://u:2"
    );
    assert_eq!(
        strict
            .pick_url("http://a:1", "http://u:2")
            .unwrap_err()
            .to_string(),
        "https scheme is required but none of the addresses support it"
    );
    assert!(plain.client("", "", "").is_err());
}

/// What a test rep received: (method, path and query, trace header, body).
type Seen = Arc<Mutex<Vec<(String, String, Option<String>, String)>>>;

/// A rep stand-in answering every request with `status` and `body`,
/// recording what it got; v2 updates answer 404 (a rep not yet rolled).
async fn rep(status: u16, body: &'static str) -> (String, Seen) {
    let seen: Seen = Default::default();
    let app = axum::Router::new()
        .fallback(move |State(seen): State<Seen>, req: Request| async move {
            let (parts, b) = req.into_parts();
            let bytes = axum::body::to_bytes(b, 1 << 20).await.unwrap();
            let path = parts.uri.path_and_query().unwrap().to_string();
            let trace = parts
                .headers
                .get("x-vcap-request-id")
                .map(|v| v.to_str().unwrap().to_string());
            seen.lock().unwrap().push((
                parts.method.to_string(),
                path.clone(),
                trace,
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
            let status = if path.starts_with("/v2/") {
                404
            } else {
                status
            };
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        })
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn state_and_work_are_json_on_diegos_routes() {
    let (url, seen) = rep(200, r#"{"cell_id":"c1","LRPs":null,"Zone":"z"}"#).await;
    let f = RepClientFactory::new(&ClientConfig::default()).unwrap();
    let c = f.client(&url, "", "trace-1").unwrap();
    let state = c.state().await.unwrap();
    assert_eq!((state.cell_id.as_str(), state.zone.as_str()), ("c1", "z"));
    // The stand-in answers the state to /work too; unknown members go.
    let failed = c.perform(&Work::default()).await.unwrap();
    assert_eq!(failed.cell_id, "c1");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "GET");
    assert_eq!(seen[0].1, "/state");
    assert_eq!(seen[0].2.as_deref(), Some("trace-1"));
    assert_eq!((seen[1].0.as_str(), seen[1].1.as_str()), ("POST", "/work"));
    assert_eq!(seen[1].3, r#"{"LRPs":[],"Tasks":[]}"#);
}

#[tokio::test]
async fn stops_cancels_and_updates_want_202() {
    let (url, seen) = rep(202, "").await;
    let c = RepClientFactory::new(&ClientConfig::default())
        .unwrap()
        .client_at(&url);
    let key = ActualLrpKey::new("pg/1", 0, "d");
    let ik = ActualLrpInstanceKey::new("ig 1", "cell");
    c.stop_lrp_instance(&key, &ik).await.unwrap();
    c.cancel_task("t-1").await.unwrap();
    // The v2 route answers 404: internal routes go to v1, without tags.
    let update = LrpUpdate {
        instance_guid: "ig".into(),
        process_guid: "pg".into(),
        internal_routes: Some(vec![]),
        metric_tags: Some([("a".to_string(), "b".to_string())].into()),
        ..Default::default()
    };
    c.update_lrp_instance(&update).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let calls: Vec<(&str, &str)> = seen.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
    assert_eq!(
        calls,
        vec![
            ("POST", "/v1/lrps/pg%2F1/instances/ig%201/stop"),
            ("POST", "/v1/tasks/t-1/cancel"),
            ("PUT", "/v2/lrps/pg/instances/ig"),
            ("PUT", "/v1/lrps/pg/instances/ig"),
        ]
    );
    assert_eq!(seen[0].2, None, "no trace id unless given");
    assert!(
        seen[2].3.contains(r#""metric_tags":{"a":"b"}"#),
        "{}",
        seen[2].3
    );
    assert!(seen[3].3.contains(r#""metric_tags":null"#), "{}", seen[3].3);

    let (url, _) = rep(500, "").await;
    let c = RepClientFactory::new(&ClientConfig::default())
        .unwrap()
        .client_at(&url);
    assert_eq!(
        c.cancel_task("t").await.unwrap_err().to_string(),
        "http error: status code 500 (Internal Server Error)"
    );
    assert_eq!(
        c.state().await.unwrap_err().to_string(),
        "unexpected status code: 500"
    );
}

#[tokio::test]
async fn an_unreachable_rep_reads_as_go_reports_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let c = RepClientFactory::new(&ClientConfig::default())
        .unwrap()
        .client_at(&url);
    assert_eq!(
        c.state().await.unwrap_err().to_string(),
        format!("Get \"{url}/state\": dial tcp 127.0.0.1:{port}: connect: connection refused")
    );
}
