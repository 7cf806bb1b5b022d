//! The gRPC `models.Locket` service: request validation and the mapping to
//! the store, as Diego's locket handler does it.

use crate::db::{self, LockDb};
use crate::errors::LocketError;
use crate::expiration::LockPick;
use crate::proto::locket_server::Locket;
use crate::proto::{
    FetchAllRequest, FetchAllResponse, FetchRequest, FetchResponse, LockRequest, LockResponse,
    ReleaseRequest, ReleaseResponse, Resource, TypeCode,
};
use std::future::Future;
use std::time::Duration;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct LocketHandler {
    db: LockDb,
    pick: LockPick,
    op_timeout: Duration,
}

impl LocketHandler {
    pub fn new(db: LockDb, pick: LockPick, op_timeout: Duration) -> LocketHandler {
        LocketHandler {
            db,
            pick,
            op_timeout,
        }
    }

    async fn run<T>(
        &self,
        f: impl Future<Output = Result<T, LocketError>>,
    ) -> Result<T, LocketError> {
        match tokio::time::timeout(self.op_timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(LocketError::Database("context deadline exceeded".into())),
        }
    }
}

/// The type code must be one of LOCK / PRESENCE (an unset or unknown code
/// is `invalid-type`, whatever the deprecated string says).
fn validate_type_code(code: i32) -> Result<(), LocketError> {
    match TypeCode::try_from(code) {
        Ok(TypeCode::Lock) | Ok(TypeCode::Presence) => Ok(()),
        _ => Err(LocketError::InvalidType),
    }
}

fn request_id<T>(req: &Request<T>) -> String {
    req.metadata()
        .get("uuid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn log_outcome<T>(op: &str, key: &str, owner: &str, uuid: &str, r: &Result<T, LocketError>) {
    match r {
        Ok(_) | Err(LocketError::LockCollision) => {
            tracing::debug!(
                request_type = op,
                key,
                owner,
                request_id = uuid,
                "request-complete"
            )
        }
        Err(e) => tracing::error!(
            request_type = op,
            key,
            owner,
            request_id = uuid,
            error = %e,
            "request-failed"
        ),
    }
}

#[tonic::async_trait]
impl Locket for LocketHandler {
    async fn lock(&self, req: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        let uuid = request_id(&req);
        let req = req.into_inner();
        let resource = req.resource.unwrap_or_default();
        let ttl = req.ttl_in_seconds;
        let result = async {
            validate_type_code(resource.type_code)?;
            if ttl <= 0 {
                return Err(LocketError::InvalidTtl);
            }
            if resource.owner.is_empty() {
                return Err(LocketError::InvalidOwner);
            }
            let lock = self.run(self.db.lock(&resource, ttl)).await?;
            if lock.modified_index == 1 {
                tracing::info!(key = %lock.resource.key, owner = %lock.resource.owner, "acquired-lock");
            }
            self.pick.register_ttl(&lock);
            Ok(LockResponse {})
        }
        .await;
        log_outcome("Lock", &resource.key, &resource.owner, &uuid, &result);
        Ok(Response::new(result?))
    }

    async fn fetch(&self, req: Request<FetchRequest>) -> Result<Response<FetchResponse>, Status> {
        let uuid = request_id(&req);
        let key = req.into_inner().key;
        let result = self.run(self.db.fetch(&key)).await;
        log_outcome("Fetch", &key, "", &uuid, &result);
        Ok(Response::new(FetchResponse {
            resource: Some(result?.resource),
        }))
    }

    async fn release(
        &self,
        req: Request<ReleaseRequest>,
    ) -> Result<Response<ReleaseResponse>, Status> {
        let uuid = request_id(&req);
        let resource = req.into_inner().resource.unwrap_or_default();
        let result = self.run(self.db.release(&resource)).await;
        if result.is_ok() {
            tracing::info!(key = %resource.key, owner = %resource.owner, "released-lock");
        }
        log_outcome("Release", &resource.key, &resource.owner, &uuid, &result);
        result?;
        Ok(Response::new(ReleaseResponse {}))
    }

    async fn fetch_all(
        &self,
        req: Request<FetchAllRequest>,
    ) -> Result<Response<FetchAllResponse>, Status> {
        let uuid = request_id(&req);
        let req = req.into_inner();
        let result = async {
            validate_type_code(req.type_code)?;
            let type_name = db::type_name(&Resource {
                type_code: req.type_code,
                ..Default::default()
            });
            self.run(self.db.fetch_all(&type_name)).await
        }
        .await;
        log_outcome("FetchAll", "", "", &uuid, &result);
        Ok(Response::new(FetchAllResponse {
            resources: result?.into_iter().map(|l| l.resource).collect(),
        }))
    }
}
