//! The cell's presence in locket: key = cell id, owner = a fresh UUID,
//! value = Diego's `CellPresence` JSON, kept with a `PresenceRunner`
//! (re-asserted every `lock_retry_interval`, TTL `lock_ttl`, retried
//! forever when locket is unreachable).

use crate::cell::CellInfo;
use crate::config::RepConfig;
use locket::client::{LockHandle, PresenceRunner};
use models::json::GoJson;

pub fn start(
    cfg: &RepConfig,
    cell: &CellInfo,
    capacity: models::rep::Resources,
) -> anyhow::Result<Option<LockHandle>> {
    let Some(locket_cfg) = cfg.locket() else {
        return Ok(None);
    };
    let client = locket::client::connect_lazy(&locket_cfg)?;
    let value = cell.presence(capacity).to_go_json();
    let resource =
        locket::client::presence_resource(&cell.cell_id, &uuid::Uuid::new_v4().to_string(), &value);
    let runner = PresenceRunner::new(client, resource)
        .ttl_in_seconds(cfg.lock_ttl.0.as_secs().max(1) as i64)
        .retry_interval(cfg.lock_retry_interval.0);
    Ok(Some(runner.spawn()))
}
