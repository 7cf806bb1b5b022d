//! `diego dev`'s system in a temp data directory: every component answers,
//! and a restart reads back what the first run wrote (same key, same files).

use super::*;
use bbs_client::{BbsClient, HttpBbsClient};
use std::time::Duration;

#[tokio::test]
async fn starts_serves_and_restarts_on_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(&dir.path().join("data")).unwrap();
    std::fs::write(data.static_dir().join("blob.txt"), "bits").unwrap();

    let system = DevSystem::start(&data, &DevAddresses::ephemeral())
        .await
        .unwrap();
    let bbs = HttpBbsClient::plain(&format!("http://{}", system.bbs.addr)).unwrap();
    let r = bbs.upsert_domain("cf-apps", Duration::ZERO).await;
    assert!(r.is_ok(), "{r:?}");
    let blob = reqwest::get(file_server::blob_url(&system.file_server.addr, "blob.txt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(blob, "bits");
    let listed: Vec<_> = system.listening().into_iter().map(|(w, _)| w).collect();
    assert_eq!(
        listed[..5],
        ["locket", "bbs", "bbs /metrics", "auctioneer", "file-server"]
    );
    // The cell and routing start when this machine can run them; otherwise
    // a note says why.
    assert_eq!(
        system.cell.is_some(),
        listed.contains(&"rep"),
        "{:?}",
        system.notes
    );
    if let Some(cell) = &system.cell {
        let body = reqwest::get(format!("http://{}/state", cell.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(state["cell_id"], "dev-cell-0", "{state}");
    } else {
        assert!(system
            .notes
            .iter()
            .any(|n| n.starts_with("cell: not started")));
    }
    assert_eq!(system.routing.is_some(), listed.contains(&"router"));
    system.shutdown().await;

    // Domains list takes no request message.
    // The second run holds the same encryption key, so it reads the data.
    let system = DevSystem::start(&data, &DevAddresses::ephemeral())
        .await
        .unwrap();
    let bbs = HttpBbsClient::plain(&format!("http://{}", system.bbs.addr)).unwrap();
    let r = bbs.domains().await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(r.unwrap(), ["cf-apps"]);
    system.shutdown().await;
}
