//! Event streams over HTTP: names, order, per-connection ids, the cell
//! filter, and a subscriber that stops reading does not stall the server.

mod api_support;

use api_support::*;
use bbs::events::Event;
use bbs_client::events::decode;
use bbs_client::sse::{SseEvent, SseParser};
use futures::StreamExt;
use models::*;
use prost::Message;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Sub {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    parser: SseParser,
    pending: std::collections::VecDeque<SseEvent>,
}

impl Sub {
    async fn open(bbs: &TestBbs, path: &str, body: Vec<u8>) -> Sub {
        let resp = bbs
            .client
            .post(format!("{}{}", bbs.base, path))
            .body(body)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream; charset=utf-8"
        );
        Sub {
            stream: Box::pin(resp.bytes_stream()),
            parser: SseParser::default(),
            pending: Default::default(),
        }
    }

    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return e;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.stream.next())
                .await
                .expect("event within 20s")
                .expect("stream open")
                .unwrap();
            self.pending.extend(self.parser.feed(&chunk));
        }
    }

    async fn names(&mut self, n: usize) -> Vec<String> {
        let mut out = vec![];
        for _ in 0..n {
            out.push(self.next().await.event);
        }
        out
    }
}

async fn desire(bbs: &TestBbs, guid: &str, instances: i32) {
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(desired_lrp(guid, instances)),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
}

#[tokio::test]
async fn lrp_instance_stream_in_order_with_cell_filter() {
    let bbs = TestBbs::start().await;
    let mut all = Sub::open(&bbs, "/v1/events/lrp_instances.r1", vec![]).await;
    let mut cell1 = Sub::open(
        &bbs,
        "/v1/events/lrp_instances.r1",
        EventsByCellId {
            cell_id: "cell-1".into(),
        }
        .encode_to_vec(),
    )
    .await;
    let mut groups = Sub::open(&bbs, "/v1/events/lrp_instances", vec![]).await;

    desire(&bbs, "ev", 2).await;
    let first = all.next().await;
    assert_eq!(first.id, "0");
    assert_eq!(first.event, "desired_lrp_created");
    match decode(&first).unwrap() {
        Event::DesiredLrpCreated(e) => assert_eq!(e.desired_lrp.unwrap().process_guid, "ev"),
        other => panic!("{other:?}"),
    }
    let e1 = all.next().await;
    assert_eq!(e1.id, "1");
    assert_eq!(e1.event, "actual_lrp_instance_created");
    assert_eq!(all.next().await.event, "actual_lrp_instance_created");

    let ik = ActualLrpInstanceKey::new("ig", "cell-1");
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/claim",
            &ClaimActualLrpRequest {
                process_guid: "ev".into(),
                index: 0,
                actual_lrp_instance_key: Some(ik.clone()),
            },
        )
        .await;
    assert!(r.error.is_none());
    let changed = all.next().await;
    assert_eq!(changed.event, "actual_lrp_instance_changed");
    match decode(&changed).unwrap() {
        Event::ActualLrpInstanceChanged(e) => {
            assert_eq!(e.before.unwrap().state, "UNCLAIMED");
            assert_eq!(e.after.unwrap().state, "CLAIMED");
            assert_eq!(e.actual_lrp_instance_key.unwrap(), ik);
        }
        other => panic!("{other:?}"),
    }

    let key = ActualLrpKey::new("ev", 0, "test-domain");
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/start.r1",
            &StartActualLrpRequest {
                actual_lrp_key: Some(key.clone()),
                actual_lrp_instance_key: Some(ik.clone()),
                actual_lrp_net_info: Some(ActualLrpNetInfo {
                    address: "10.0.0.9".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(all.next().await.event, "actual_lrp_instance_changed");

    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/crash",
            &CrashActualLrpRequest {
                actual_lrp_key: Some(key.clone()),
                actual_lrp_instance_key: Some(ik.clone()),
                error_message: "oops".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
    assert_eq!(
        all.names(3).await,
        vec![
            "actual_lrp_crashed",
            "actual_lrp_instance_created",
            "actual_lrp_instance_removed"
        ]
    );

    // The cell-1 stream: desired events, then only cell-1's instance events.
    assert_eq!(
        cell1.names(5).await,
        vec![
            "desired_lrp_created",
            "actual_lrp_instance_changed",
            "actual_lrp_instance_changed",
            "actual_lrp_crashed",
            "actual_lrp_instance_removed",
        ]
    );
    // The deprecated (r0) stream gets the same instance events.
    assert_eq!(groups.next().await.event, "desired_lrp_created");
    assert_eq!(groups.next().await.id, "1");

    // Desired LRP change and removal.
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/remove",
            &RemoveDesiredLrpRequest {
                process_guid: "ev".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
    let mut names = all.names(3).await;
    names.sort();
    assert_eq!(
        names,
        vec![
            "actual_lrp_instance_removed",
            "actual_lrp_instance_removed",
            "desired_lrp_removed"
        ]
    );
}

#[tokio::test]
async fn deprecated_group_stream_and_task_stream() {
    let bbs = TestBbs::start().await;
    let resp = bbs
        .client
        .get(format!("{}/v1/events.r1", bbs.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut groups = Sub {
        stream: Box::pin(resp.bytes_stream()),
        parser: SseParser::default(),
        pending: Default::default(),
    };
    let mut tasks = Sub::open(&bbs, "/v1/events/tasks.r1", vec![]).await;

    desire(&bbs, "grp", 1).await;
    assert_eq!(
        groups.names(2).await,
        vec!["desired_lrp_created", "actual_lrp_created"]
    );

    let r: TaskLifecycleResponse = bbs
        .call(
            "/v1/tasks/desire.r2",
            &DesireTaskRequest {
                task_definition: Some(task_definition()),
                task_guid: "tg".into(),
                domain: "d".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
    let r: TaskLifecycleResponse = bbs
        .call(
            "/v1/tasks/cancel",
            &TaskGuidRequest {
                task_guid: "tg".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
    let created = tasks.next().await;
    assert_eq!(
        (created.id.as_str(), created.event.as_str()),
        ("0", "task_created")
    );
    let changed = tasks.next().await;
    assert_eq!(changed.event, "task_changed");
    match decode(&changed).unwrap() {
        Event::TaskChanged(e) => {
            assert_eq!(e.before.unwrap().state(), task::State::Pending);
            assert!(e.after.unwrap().failed);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_dropped_without_blocking_writes() {
    let bbs = TestBbs::start().await;
    // A raw connection with a tiny receive buffer that never reads.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut slow = sock.connect(bbs.running().addr).await.unwrap();
    slow.write_all(
        b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .unwrap();
    // A subscriber that keeps up.
    let mut fast = Sub::open(&bbs, "/v1/events/lrp_instances.r1", vec![]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Big events first (to fill the socket buffers), then one request
    // emitting far more events than a subscriber may buffer.
    const BIG: i32 = 40;
    const N: i32 = 2500;
    let total = 1 + BIG + 1 + N;
    let started = std::time::Instant::now();
    let fast_reader = tokio::spawn(async move {
        let mut n = 0;
        while n < total {
            fast.next().await;
            n += 1;
        }
        n
    });
    desire(&bbs, "big", 0).await;
    for i in 0..BIG {
        let payload = format!(
            "[{{\"hostnames\":[\"{}\"]}}]",
            "x".repeat(100_000 + i as usize)
        );
        let r: DesiredLrpLifecycleResponse = bbs
            .call(
                "/v1/desired_lrp/update",
                &UpdateDesiredLrpRequest {
                    process_guid: "big".into(),
                    update: Some(DesiredLrpUpdate {
                        routes: Some(ProtoRoutes {
                            routes: [("cf-router".to_string(), payload.into_bytes())]
                                .into_iter()
                                .collect(),
                        }),
                        ..Default::default()
                    }),
                },
            )
            .await;
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    desire(&bbs, "flood", N).await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "writes were not stalled"
    );
    assert_eq!(
        fast_reader.await.unwrap(),
        total,
        "the reading subscriber got everything"
    );
    assert!(bbs.ping().await);

    // The slow subscriber was cut off: its stream ends well before N events.
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), slow.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let received = text.matches("\nevent: ").count();
    assert!(
        received < total as usize,
        "slow subscriber got {received} events"
    );
    assert!(text.ends_with("0\r\n\r\n"), "the stream was ended");

    // And the hub forgot it.
    let metrics = reqwest::get(format!("http://{}/metrics", bbs.running().health_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("bbs_event_subscribers{hub=\"actual_instance\"} 0"),
        "{metrics}"
    );
}
