//! Where the BBS learns which cells exist. With locket configured the BBS
//! uses [`LocketCells`]: every PRESENCE resource whose value decodes as a
//! `CellPresence` (Diego's JSON) is a cell; values that do not decode are
//! logged and skipped, as Diego's service client does. Without locket it
//! uses [`NoCells`] (an empty list, which is what Diego answers when no
//! cell has registered).

use async_trait::async_trait;
use locket::client::LocketClient;
use locket::proto::{FetchAllRequest, FetchRequest, Resource, TypeCode};
use models::json::from_go_json;
use models::{BbsError, CellPresence, ErrorType};
use std::time::Duration;

#[async_trait]
pub trait CellPresences: Send + Sync + 'static {
    async fn cells(&self) -> Result<Vec<CellPresence>, BbsError>;

    /// ResourceNotFound when the cell has no presence.
    async fn cell_by_id(&self, cell_id: &str) -> Result<CellPresence, BbsError> {
        self.cells()
            .await?
            .into_iter()
            .find(|c| c.cell_id == cell_id)
            .ok_or_else(BbsError::resource_not_found)
    }
}

/// No cells registered.
#[derive(Debug, Default, Clone)]
pub struct NoCells;

#[async_trait]
impl CellPresences for NoCells {
    async fn cells(&self) -> Result<Vec<CellPresence>, BbsError> {
        Ok(Vec::new())
    }
}

/// A fixed set of cells (for embedding and tests that run their own reps).
#[derive(Debug, Default, Clone)]
pub struct StaticCells(pub Vec<CellPresence>);

#[async_trait]
impl CellPresences for StaticCells {
    async fn cells(&self) -> Result<Vec<CellPresence>, BbsError> {
        Ok(self.0.clone())
    }
}

/// Cells from locket presences (Diego's `serviceclient`).
#[derive(Clone)]
pub struct LocketCells {
    client: LocketClient,
    timeout: Duration,
}

impl LocketCells {
    /// `timeout` bounds each locket call.
    pub fn new(client: LocketClient, timeout: Duration) -> Self {
        LocketCells { client, timeout }
    }
}

/// A locket failure as the BBS reports it (Diego converts a non-BBS error
/// into an UnknownError carrying its message).
fn locket_error(what: &str, e: impl std::fmt::Display) -> BbsError {
    tracing::error!(error = %e, "{what}");
    BbsError::new(ErrorType::UnknownError, e.to_string())
}

fn decode_presence(r: &Resource) -> Result<CellPresence, models::json::JsonError> {
    from_go_json::<CellPresence>(&r.value)
}

#[async_trait]
impl CellPresences for LocketCells {
    async fn cells(&self) -> Result<Vec<CellPresence>, BbsError> {
        #[allow(deprecated)]
        let req = FetchAllRequest {
            r#type: locket::db::PRESENCE_TYPE.into(),
            type_code: TypeCode::Presence as i32,
        };
        let mut client = self.client.clone();
        let resp = match tokio::time::timeout(
            self.timeout,
            client.fetch_all(locket::client::with_request_uuid(req)),
        )
        .await
        {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(status)) => {
                return Err(locket_error(
                    "failed-to-fetch-cells-from-locket",
                    status.message(),
                ))
            }
            Err(_) => {
                return Err(locket_error(
                    "failed-to-fetch-cells-from-locket",
                    "context deadline exceeded",
                ))
            }
        };
        // Diego collects them into a set keyed by cell id.
        let mut cells = std::collections::BTreeMap::new();
        for r in &resp.resources {
            match decode_presence(r) {
                Ok(p) => {
                    cells.insert(p.cell_id.clone(), p);
                }
                Err(e) => {
                    tracing::warn!(key = %r.key, error = %e, "failed-to-unmarshal-presence");
                }
            }
        }
        Ok(cells.into_values().collect())
    }

    async fn cell_by_id(&self, cell_id: &str) -> Result<CellPresence, BbsError> {
        let mut client = self.client.clone();
        let req = FetchRequest {
            key: cell_id.to_string(),
        };
        let resp = match tokio::time::timeout(
            self.timeout,
            client.fetch(locket::client::with_request_uuid(req)),
        )
        .await
        {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(status)) if status.code() == tonic::Code::NotFound => {
                return Err(BbsError::resource_not_found())
            }
            Ok(Err(status)) => {
                return Err(locket_error(
                    "failed-to-fetch-presence-from-locket",
                    status.message(),
                ))
            }
            Err(_) => {
                return Err(locket_error(
                    "failed-to-fetch-presence-from-locket",
                    "context deadline exceeded",
                ))
            }
        };
        let resource = resp.resource.unwrap_or_default();
        decode_presence(&resource).map_err(|e| locket_error("failed-to-unmarshal-presence", e))
    }
}
