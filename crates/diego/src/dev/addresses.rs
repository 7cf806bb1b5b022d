//! Where each component of `diego dev` listens: Diego's usual ports on
//! loopback, so the operator tools' defaults reach them.

use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct DevAddresses {
    pub locket: SocketAddr,
    pub bbs: SocketAddr,
    pub bbs_health: SocketAddr,
    pub auctioneer: SocketAddr,
    pub file_server: SocketAddr,
    pub rep: SocketAddr,
    pub nats: SocketAddr,
    /// Where apps are reached: `http://APP.localhost:PORT`.
    pub router: SocketAddr,
    /// The app lifecycle API (what the app commands talk to).
    pub api: SocketAddr,
    /// The log component's gRPC ingress (Loggregator's agent port) and
    /// HTTP API (reads, streams, drains, /metrics).
    pub logs_ingress: SocketAddr,
    pub logs_api: SocketAddr,
}

impl Default for DevAddresses {
    fn default() -> Self {
        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            locket: at(8891),
            bbs: at(8889),
            bbs_health: at(8890),
            auctioneer: at(9016),
            file_server: at(8084),
            rep: at(1800),
            nats: at(4222),
            router: at(8080),
            api: at(9022),
            logs_ingress: at(3458),
            logs_api: at(8083),
        }
    }
}

impl DevAddresses {
    /// Every address on port 0 (the OS picks): for tests running several
    /// systems side by side.
    #[cfg(test)]
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            locket: any,
            bbs: any,
            bbs_health: any,
            auctioneer: any,
            file_server: any,
            rep: any,
            nats: any,
            router: any,
            api: any,
            logs_ingress: any,
            logs_api: any,
        }
    }
}
