//! Where the BBS learns which cells exist. Diego reads cell presences from
//! locket; a locket-backed implementation arrives with locket. Until then
//! the BBS uses [`NoCells`] (an empty list, which is what Diego answers
//! when no cell has registered).

use async_trait::async_trait;
use models::{BbsError, CellPresence};

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
