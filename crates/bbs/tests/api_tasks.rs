//! Tasks through their whole life over HTTP, including completion callbacks.

mod api_support;

use api_support::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use bbs::server::Overrides;
use models::task::State as TaskState;
use models::*;
use std::sync::{Arc, Mutex};

async fn task(bbs: &TestBbs, guid: &str) -> TaskResponse {
    bbs.call(
        "/v1/tasks/get_by_task_guid.r3",
        &TaskByGuidRequest {
            task_guid: guid.into(),
        },
    )
    .await
}

async fn desire_task(bbs: &TestBbs, guid: &str, def: TaskDefinition) -> TaskLifecycleResponse {
    bbs.call(
        "/v1/tasks/desire.r2",
        &DesireTaskRequest {
            task_definition: Some(def),
            task_guid: guid.into(),
            domain: "tests".into(),
        },
    )
    .await
}

async fn start_task(bbs: &TestBbs, guid: &str, cell: &str) -> StartTaskResponse {
    bbs.call(
        "/v1/tasks/start",
        &StartTaskRequest {
            task_guid: guid.into(),
            cell_id: cell.into(),
        },
    )
    .await
}

async fn complete(bbs: &TestBbs, guid: &str, cell: &str, failed: bool) -> TaskLifecycleResponse {
    bbs.call(
        "/v1/tasks/complete",
        &CompleteTaskRequest {
            task_guid: guid.into(),
            cell_id: cell.into(),
            failed,
            failure_reason: if failed {
                "exit 1".into()
            } else {
                String::new()
            },
            result: "the result".into(),
        },
    )
    .await
}

async fn guid_call(bbs: &TestBbs, path: &str, guid: &str) -> TaskLifecycleResponse {
    bbs.call(
        path,
        &TaskGuidRequest {
            task_guid: guid.into(),
        },
    )
    .await
}

#[tokio::test]
async fn task_lifecycle_with_illegal_transitions() {
    let (url, rec) = fake_auctioneer().await;
    let bbs = TestBbs::start_with(|c| c.auctioneer_address = url, Overrides::default()).await;

    assert!(desire_task(&bbs, "t1", task_definition())
        .await
        .error
        .is_none());
    let auctions = rec.tasks.lock().unwrap().clone();
    assert_eq!(auctions.len(), 1);
    assert_eq!(auctions[0]["TaskGuid"], "t1");
    assert_eq!(auctions[0]["Domain"], "tests");
    assert_eq!(auctions[0]["MemoryMB"], 64);

    // Same guid again: ResourceExists.
    let r = desire_task(&bbs, "t1", task_definition()).await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceExists));

    let t = task(&bbs, "t1").await.task.unwrap();
    assert_eq!(t.state(), TaskState::Pending);

    // Completing a pending task is an invalid transition; nothing changes.
    let r = complete(&bbs, "t1", "cell-1", false).await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::InvalidStateTransition)
    );
    assert_eq!(task(&bbs, "t1").await.task.unwrap(), t);
    // So is resolving it.
    let r = guid_call(&bbs, "/v1/tasks/resolving", "t1").await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::InvalidStateTransition)
    );
    assert_eq!(
        r.error.unwrap().message,
        "Cannot transition from Pending to Resolving"
    );

    let s = start_task(&bbs, "t1", "cell-1").await;
    assert!(s.error.is_none());
    assert!(s.should_start);
    // Starting again on the same cell: no error, should_start false.
    let s = start_task(&bbs, "t1", "cell-1").await;
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(!s.should_start);
    // On another cell: an error.
    let s = start_task(&bbs, "t1", "cell-2").await;
    assert!(s.error.is_some());

    // Complete from the wrong cell: RunningOnDifferentCell.
    let r = complete(&bbs, "t1", "cell-2", false).await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::RunningOnDifferentCell)
    );
    assert_eq!(
        task(&bbs, "t1").await.task.unwrap().state(),
        TaskState::Running
    );

    assert!(complete(&bbs, "t1", "cell-1", false).await.error.is_none());
    let t = task(&bbs, "t1").await.task.unwrap();
    assert_eq!(t.state(), TaskState::Completed);
    assert_eq!(t.result, "the result");
    assert!(!t.failed);

    // Delete needs Resolving first.
    let r = guid_call(&bbs, "/v1/tasks/delete", "t1").await;
    assert!(r.error.is_some());
    assert!(guid_call(&bbs, "/v1/tasks/resolving", "t1")
        .await
        .error
        .is_none());
    assert!(guid_call(&bbs, "/v1/tasks/delete", "t1")
        .await
        .error
        .is_none());
    let r = task(&bbs, "t1").await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));
}

#[tokio::test]
async fn cancel_reject_and_fail() {
    let bbs = TestBbs::start().await;

    assert!(desire_task(&bbs, "c", task_definition())
        .await
        .error
        .is_none());
    assert!(guid_call(&bbs, "/v1/tasks/cancel", "c")
        .await
        .error
        .is_none());
    let t = task(&bbs, "c").await.task.unwrap();
    assert_eq!(t.state(), TaskState::Completed);
    assert!(t.failed);
    assert_eq!(t.failure_reason, "task was cancelled");
    // Cancelling a completed task is refused.
    let r = guid_call(&bbs, "/v1/tasks/cancel", "c").await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::InvalidStateTransition)
    );
    let r = guid_call(&bbs, "/v1/tasks/cancel", "missing").await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));

    // Rejections send the task back to pending; once it had been rejected
    // max_task_retries (3) times, the next rejection fails it (Diego).
    assert!(desire_task(&bbs, "r", task_definition())
        .await
        .error
        .is_none());
    for n in 1..=4 {
        let r: TaskLifecycleResponse = bbs
            .call(
                "/v1/tasks/reject",
                &RejectTaskRequest {
                    task_guid: "r".into(),
                    rejection_reason: "no room".into(),
                },
            )
            .await;
        assert!(r.error.is_none(), "{:?}", r.error);
        let t = task(&bbs, "r").await.task.unwrap();
        if n <= 3 {
            assert_eq!(t.state(), TaskState::Pending, "after {n} rejections");
            assert_eq!(t.rejection_count, n);
        } else {
            assert_eq!(t.state(), TaskState::Completed);
            assert!(t.failed);
            assert_eq!(t.failure_reason, "no room");
        }
    }

    // Deprecated fail.
    assert!(desire_task(&bbs, "f", task_definition())
        .await
        .error
        .is_none());
    let r: TaskLifecycleResponse = bbs
        .call(
            "/v1/tasks/fail",
            &FailTaskRequest {
                task_guid: "f".into(),
                failure_reason: "gave up".into(),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let t = task(&bbs, "f").await.task.unwrap();
    assert!(t.failed);
    assert_eq!(t.failure_reason, "gave up");

    // Lists, filtered by domain and cell.
    let all: TasksResponse = bbs
        .call("/v1/tasks/list.r3", &TasksRequest::default())
        .await;
    assert_eq!(all.tasks.len(), 3);
    let none: TasksResponse = bbs
        .call(
            "/v1/tasks/list.r3",
            &TasksRequest {
                domain: "other".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(none.tasks.is_empty());
    let v2: TasksResponse = bbs
        .call("/v1/tasks/list.r2", &TasksRequest::default())
        .await;
    assert_eq!(v2.tasks.len(), 3);
}

#[derive(Clone, Default)]
struct Callbacks {
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

async fn callback(State(c): State<Callbacks>, body: Bytes) -> StatusCode {
    c.got
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    let status = c.statuses.lock().unwrap().pop().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

async fn callback_server(statuses: Vec<u16>) -> (String, Callbacks) {
    let c = Callbacks::default();
    *c.statuses.lock().unwrap() = statuses;
    let app = Router::new()
        .route("/done", post(callback))
        .with_state(c.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/done"), c)
}

#[tokio::test]
async fn completion_callback_resolves_and_deletes_the_task() {
    let bbs = TestBbs::start().await;
    // The first answer is 503 (retried), the second 200 (task deleted).
    let (url, cb) = callback_server(vec![200, 503]).await;
    let mut def = task_definition();
    def.completion_callback_url = url;
    def.annotation = "some annotation".into();
    assert!(desire_task(&bbs, "cb", def).await.error.is_none());
    assert!(start_task(&bbs, "cb", "cell-1").await.should_start);
    assert!(complete(&bbs, "cb", "cell-1", true).await.error.is_none());

    eventually(|| async {
        let r = task(&bbs, "cb").await;
        (error_type(&r.error) == Some(ErrorType::ResourceNotFound)).then_some(())
    })
    .await;
    let got = cb.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "503 is retried");
    let body = &got[1];
    assert_eq!(body["task_guid"], "cb");
    assert_eq!(body["failed"], true);
    assert_eq!(body["failure_reason"], "exit 1");
    assert_eq!(body["result"], "the result");
    assert_eq!(body["annotation"], "some annotation");
    assert!(body["created_at"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn callback_client_error_still_deletes_and_cancel_calls_back() {
    let bbs = TestBbs::start().await;
    // Diego resolves on any status but 503/504: a 400 deletes the task too.
    let (url, cb) = callback_server(vec![400]).await;
    let mut def = task_definition();
    def.completion_callback_url = url;
    assert!(desire_task(&bbs, "cancel-cb", def).await.error.is_none());
    assert!(guid_call(&bbs, "/v1/tasks/cancel", "cancel-cb")
        .await
        .error
        .is_none());
    eventually(|| async {
        let r = task(&bbs, "cancel-cb").await;
        (error_type(&r.error) == Some(ErrorType::ResourceNotFound)).then_some(())
    })
    .await;
    let got = cb.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["failure_reason"], "task was cancelled");
    assert!(
        got[0].get("annotation").is_none(),
        "empty annotation is omitted"
    );
}

#[tokio::test]
async fn unreachable_callback_leaves_the_task_resolving() {
    let bbs = TestBbs::start().await;
    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/done", l.local_addr().unwrap());
    drop(l);
    let mut def = task_definition();
    def.completion_callback_url = url;
    assert!(desire_task(&bbs, "stuck", def).await.error.is_none());
    assert!(start_task(&bbs, "stuck", "cell-1").await.should_start);
    assert!(complete(&bbs, "stuck", "cell-1", false)
        .await
        .error
        .is_none());
    eventually(|| async {
        let t = task(&bbs, "stuck").await.task?;
        (t.state() == TaskState::Resolving).then_some(())
    })
    .await;
}
