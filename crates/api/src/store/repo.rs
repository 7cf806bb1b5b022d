//! Typed access to the [`Store`](super::Store): records in, records out.

use super::*;

#[derive(Clone)]
pub struct Repo {
    pub store: Arc<dyn Store>,
}

impl Repo {
    pub fn new(store: Arc<dyn Store>) -> Repo {
        Repo { store }
    }

    pub async fn get<R: Record>(&self, guid: &str) -> StoreResult<Option<R>> {
        match self.store.get(R::KIND, guid).await? {
            Some(row) => Ok(Some(R::from_row(&row)?)),
            None => Ok(None),
        }
    }

    pub async fn list<R: Record>(&self, filter: &Filter) -> StoreResult<Vec<R>> {
        self.store
            .list(R::KIND, filter)
            .await?
            .iter()
            .map(R::from_row)
            .collect()
    }

    pub async fn of_app<R: Record>(&self, app_guid: &str) -> StoreResult<Vec<R>> {
        self.list(&Filter::app(app_guid)).await
    }

    pub async fn put<R: Record>(&self, r: &R) -> StoreResult<()> {
        self.store.apply(&[put(r)]).await
    }
}

pub fn put<R: Record>(r: &R) -> Change {
    Change::Put(R::KIND, r.to_row())
}

pub fn delete<R: Record>(r: &R) -> Change {
    Change::Delete(R::KIND, r.guid().to_string())
}
