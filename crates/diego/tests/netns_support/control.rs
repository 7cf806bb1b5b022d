//! The control plane in the test process (testkit's: locket, the BBS on
//! SQLite, the auctioneer), all listening on the host's end of the test
//! bridge only, so the reps in the cells' namespaces reach them and
//! nothing else does.

use std::net::Ipv4Addr;
pub use testkit::control_plane::ControlPlane;

use super::net::HOST_IP;

pub async fn start() -> ControlPlane {
    ControlPlane::builder()
        .listen_ip(HOST_IP.parse::<Ipv4Addr>().unwrap())
        .auctioneer(true)
        .start()
        .await
}
