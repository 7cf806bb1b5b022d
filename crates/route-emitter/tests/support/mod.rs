//! Test support: real nats-server, real BBS, and a NATS subscriber that
//! keeps the routing view a router would build from what it hears.
#![allow(dead_code, unused_imports)]

pub mod bbs;
pub mod nats;
pub mod router_view;

pub use self::bbs::{desired_lrp, routes, TestBbs};
pub use self::nats::NatsServer;
pub use self::router_view::RouterView;

use std::time::Duration;

pub fn emitter_config(bbs_url: &str, nats_url: &str) -> route_emitter::RouteEmitterConfig {
    route_emitter::RouteEmitterConfig {
        bbs_address: bbs_url.into(),
        nats_addresses: nats_url.into(),
        healthcheck_address: "127.0.0.1:0".into(),
        sync_interval: route_emitter::go_duration::GoDuration(Duration::from_secs(60)),
        register_interval: route_emitter::go_duration::GoDuration(Duration::from_secs(60)),
        ..Default::default()
    }
}

/// Polls `f` until true, for up to 10 s.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10s: {what}");
}
