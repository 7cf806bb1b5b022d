//! The client's own rules on the wire, against a stand-in server that
//! answers what a real BBS never does (router errors, non-protobuf
//! answers, an old BBS without `.r1` routes): Diego's error mapping, the
//! retry rule and the route fallbacks.

use bbs_client::*;
use models::ErrorType;
use std::sync::{Arc, Mutex};

/// Requests a stand-in got: (method, path).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Serves `answer(path)` = (status, content type, router error header).
async fn stand_in(
    answer: impl Fn(&str) -> (u16, &'static str, Option<&'static str>) + Clone + Send + Sync + 'static,
) -> (HttpBbsClient, Seen) {
    use axum::extract::Request;
    use axum::response::IntoResponse;
    let seen: Seen = Default::default();
    let rec = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let answer = answer.clone();
        let rec = rec.clone();
        async move {
            let path = req.uri().path().to_string();
            rec.lock()
                .unwrap()
                .push((req.method().to_string(), path.clone()));
            let (status, ctype, router) = answer(&path);
            let mut resp = (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [(axum::http::header::CONTENT_TYPE, ctype)],
                Vec::<u8>::new(),
            )
                .into_response();
            if let Some(r) = router {
                resp.headers_mut()
                    .insert("X-Cf-Routererror", r.parse().unwrap());
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (HttpBbsClient::plain(&url).unwrap(), seen)
}

fn paths(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(_, p)| p.clone())
        .collect()
}

#[tokio::test]
async fn answers_that_are_not_protobuf_map_to_diegos_errors() {
    let (c, _) = stand_in(|p| match p {
        "/v1/domains/list" => (502, "text/plain", Some("endpoint_failure")),
        "/v1/cells/list.r1" => (503, "text/html", None),
        "/v1/tasks/list.r3" => (404, "text/plain", None),
        _ => (204, "text/plain", None),
    })
    .await;
    let e = c.domains().await.unwrap_err();
    assert!(e.is(ErrorType::RouterError));
    assert_eq!(e.to_string(), "endpoint_failure");
    let e = c.cells().await.unwrap_err();
    assert!(e.is(ErrorType::InvalidResponse));
    assert_eq!(e.to_string(), "Invalid Response with status code: 503");
    let e = c.tasks(&TaskFilter::default()).await.unwrap_err();
    assert!(e.is_endpoint_not_found());
    // A 2xx without protobuf is an empty answer.
    assert!(c
        .actual_lrps(&ActualLrpFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn reads_are_retried_writes_are_not_once_the_bbs_may_have_acted() {
    let (c, seen) = stand_in(|_| (502, "text/plain", None)).await;
    assert!(c.domains().await.is_err());
    let key = models::ActualLrpKey::new("pg", 0, "d");
    let ik = models::ActualLrpInstanceKey::new("ig", "cell");
    assert!(c.claim_actual_lrp(&key, &ik).await.is_err());
    assert_eq!(
        paths(&seen),
        vec![
            "/v1/domains/list",
            "/v1/domains/list",
            "/v1/domains/list",
            "/v1/actual_lrps/claim"
        ]
    );
}

#[tokio::test]
async fn a_bbs_that_was_never_reached_is_tried_three_times_for_any_call() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let c = HttpBbsClient::plain(&url).unwrap();
    let t = std::time::Instant::now();
    let e = c.reject_task("t", "why").await.unwrap_err();
    assert_eq!(
        e,
        Error::Transport(format!(
            "Post \"{url}/v1/tasks/reject\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        ))
    );
    // Three attempts, 500 ms apart.
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    let once = HttpBbsClient::new(&ClientConfig::new(&url).with_retries(1)).unwrap();
    assert!(!once.ping().await);
    // The evacuation defaults when the BBS was not reached.
    let key = models::ActualLrpKey::new("pg", 0, "d");
    let ik = models::ActualLrpInstanceKey::new("ig", "cell");
    assert!(once.evacuate_claimed_actual_lrp(&key, &ik).await.0);
    assert!(!once.evacuate_crashed_actual_lrp(&key, &ik, "x").await.0);
}

#[tokio::test]
async fn an_old_bbs_gets_the_r0_start_and_evacuate_routes() {
    let (c, seen) = stand_in(|p| {
        if p.ends_with(".r1") {
            (404, "text/plain", None)
        } else {
            (200, "application/x-protobuf", None)
        }
    })
    .await;
    let key = models::ActualLrpKey::new("pg", 0, "d");
    let ik = models::ActualLrpInstanceKey::new("ig", "cell");
    c.start_actual_lrp(&key, &ik, &RunningInfo::default())
        .await
        .unwrap();
    let (keep, r) = c
        .evacuate_running_actual_lrp(&key, &ik, &RunningInfo::default())
        .await;
    r.unwrap();
    assert!(!keep, "the (empty) answer's keep_container");
    assert_eq!(
        paths(&seen),
        vec![
            "/v1/actual_lrps/start.r1",
            "/v1/actual_lrps/start",
            "/v1/actual_lrps/evacuate_running.r1",
            "/v1/actual_lrps/evacuate_running"
        ]
    );
}

#[tokio::test]
async fn event_streams_that_cannot_open_say_why() {
    let (c, seen) = stand_in(|_| (403, "text/plain", None)).await;
    let e = c.subscribe_to_task_events().await.err().unwrap();
    assert_eq!(
        e.to_string(),
        "bad response from event source: 403 Forbidden"
    );
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![("POST".to_string(), "/v1/events/tasks.r1".to_string())]
    );
    let (c, seen) = stand_in(|_| (200, "text/event-stream", None)).await;
    let mut s = c.subscribe_to_events("cell").await.unwrap();
    assert!(s.next_event().await.is_none(), "an empty stream ends");
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![("GET".to_string(), "/v1/events.r1".to_string())]
    );
}
