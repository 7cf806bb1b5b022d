//! Bad input: malformed protobuf, unknown routes, oversized and missing
//! fields, random bytes. Every answer is Diego's, the server keeps serving
//! and the store is unchanged.

mod api_support;

use api_support::*;
use axum::http::StatusCode;
use models::*;
use prost::Message;
use rand::{Rng, SeedableRng};

/// What a client can see of the whole store.
async fn snapshot(bbs: &TestBbs) -> String {
    let d: DesiredLrPsResponse = bbs
        .call("/v1/desired_lrps/list.r3", &DesiredLrPsRequest::default())
        .await;
    let a: ActualLrPsResponse = bbs
        .call("/v1/actual_lrps/list", &ActualLrPsRequest::default())
        .await;
    let t: TasksResponse = bbs
        .call("/v1/tasks/list.r3", &TasksRequest::default())
        .await;
    let dm: DomainsResponse = bbs.call("/v1/domains/list", &()).await;
    format!("{d:?}\n{a:?}\n{t:?}\n{dm:?}")
}

async fn seed(bbs: &TestBbs) {
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(desired_lrp("seed", 2)),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let r: TaskLifecycleResponse = bbs
        .call(
            "/v1/tasks/desire.r2",
            &DesireTaskRequest {
                task_definition: Some(task_definition()),
                task_guid: "seed-task".into(),
                domain: "d".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
}

#[tokio::test]
async fn malformed_protobuf_answers_invalid_request_on_every_route() {
    let bbs = TestBbs::start().await;
    seed(&bbs).await;
    let before = snapshot(&bbs).await;
    // A length-delimited field running past the end of the body.
    let garbage = vec![0x0a, 0xff, 0x01, 0x02];
    for path in message_routes() {
        let (status, body) = bbs.post_raw(path, garbage.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let err = response_error(path, &body).unwrap_or_else(|e| panic!("{path}: {e}"));
        if bodyless_route(path) {
            continue;
        }
        let err = err.unwrap_or_else(|| panic!("{path}: no error"));
        assert_eq!(err.r#type, ErrorType::InvalidRequest as i32, "{path}");
        assert_eq!(err.message, "the request received is invalid", "{path}");
    }
    // Evacuation routes keep the container when the request is unreadable.
    let (_, body) = bbs
        .post_raw("/v1/actual_lrps/evacuate_running.r1", garbage.clone())
        .await;
    assert!(
        EvacuationResponse::decode(body.as_ref())
            .unwrap()
            .keep_container
    );
    let (_, body) = bbs
        .post_raw("/v1/actual_lrps/evacuate_claimed", garbage.clone())
        .await;
    assert!(
        EvacuationResponse::decode(body.as_ref())
            .unwrap()
            .keep_container
    );
    // Unparseable event subscriptions: 500, as Diego.
    let (status, _) = bbs.post_raw("/v1/events/lrp_instances.r1", garbage).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    assert!(bbs.ping().await);
    assert_eq!(snapshot(&bbs).await, before);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let bbs = TestBbs::start().await;
    for path in [
        "/",
        "/v1",
        "/v1/pingg",
        "/v2/ping",
        "/v1/tasks/list.r9",
        "/v1/actual_lrps",
    ] {
        let (status, body) = bbs.post_raw(path, vec![]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(&body[..], b"404 page not found\n", "{path}");
    }
    let resp = bbs
        .client
        .get(format!("{}/v1/ping", bbs.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "Method Not Allowed\n");
    assert!(bbs.ping().await);
}

#[tokio::test]
async fn validation_failures_name_the_fields_and_change_nothing() {
    let bbs = TestBbs::start().await;
    seed(&bbs).await;
    let before = snapshot(&bbs).await;

    // Oversized annotation (> 10 KiB).
    let mut lrp = desired_lrp("big", 1);
    lrp.annotation = "a".repeat(10 * 1024 + 1);
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(lrp),
            },
        )
        .await;
    let e = r.error.unwrap();
    assert_eq!(e.r#type, ErrorType::InvalidRequest as i32);
    assert!(e.message.contains("annotation"), "{}", e.message);

    // Oversized routes (> 128 KiB).
    let mut lrp = desired_lrp("routes", 1);
    lrp.routes = Some(ProtoRoutes {
        routes: [("cf-router".to_string(), vec![b'1'; 129 * 1024])]
            .into_iter()
            .collect(),
    });
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(lrp),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));

    // Missing desired LRP, missing keys, empty guids.
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest { desired_lrp: None },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/claim",
            &ClaimActualLrpRequest {
                process_guid: "seed".into(),
                index: 0,
                actual_lrp_instance_key: None,
            },
        )
        .await;
    let e = r.error.unwrap();
    assert_eq!(e.r#type, ErrorType::InvalidRequest as i32);
    assert!(!e.message.is_empty());
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/start.r1",
            &StartActualLrpRequest {
                actual_lrp_key: None,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));
    let r: TaskLifecycleResponse = bbs
        .call("/v1/tasks/cancel", &TaskGuidRequest::default())
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));
    let r: TaskLifecycleResponse = bbs
        .call(
            "/v1/tasks/desire.r2",
            &DesireTaskRequest {
                task_definition: None,
                task_guid: "x".into(),
                domain: "d".into(),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/update",
            &UpdateDesiredLrpRequest {
                process_guid: "seed".into(),
                update: Some(DesiredLrpUpdate {
                    optional_instances: Some(desired_lrp_update::OptionalInstances::Instances(-1)),
                    ..Default::default()
                }),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));
    let r: UpsertDomainResponse = bbs
        .call("/v1/domains/upsert", &UpsertDomainRequest::default())
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::InvalidRequest));

    assert!(bbs.ping().await);
    assert_eq!(snapshot(&bbs).await, before);
}

#[tokio::test]
async fn random_bytes_on_every_route() {
    let bbs = TestBbs::start().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xD1E60);
    let routes = message_routes();
    for round in 0..25 {
        for path in &routes {
            let len = rng.gen_range(0..256);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let (status, body) = bbs.post_raw(path, bytes.clone()).await;
            assert_eq!(status, StatusCode::OK, "round {round} {path} {bytes:?}");
            response_error(path, &body).unwrap_or_else(|e| {
                panic!("round {round} {path}: undecodable answer {e}: {bytes:?}")
            });
        }
        // Unknown routes with random bytes.
        let (status, _) = bbs.post_raw("/v1/random/route", vec![1, 2, 3]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert!(bbs.ping().await);
}
