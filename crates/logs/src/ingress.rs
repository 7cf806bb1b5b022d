//! `loggregator.v2.Ingress`: envelopes from cells and routers go into the
//! store, to the app's drains and into the metrics.

use crate::Hub;
use logs_client::grpc::ingress_server::Ingress;
use logs_client::pb::{
    BatchSenderResponse, Envelope, EnvelopeBatch, IngressResponse, SendResponse,
};
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

pub struct IngressService {
    pub hub: Arc<Hub>,
}

impl Hub {
    /// Takes in one envelope.
    pub fn accept(&self, env: Envelope) {
        self.metrics.ingress_envelopes.inc();
        self.metrics.observe(&env);
        let env = self.store.put(env);
        self.drains.send(&env);
    }
}

#[tonic::async_trait]
impl Ingress for IngressService {
    async fn sender(
        &self,
        req: Request<Streaming<Envelope>>,
    ) -> Result<Response<IngressResponse>, Status> {
        let mut s = req.into_inner();
        while let Some(env) = s.message().await? {
            self.hub.accept(env);
        }
        Ok(Response::new(IngressResponse {}))
    }

    async fn batch_sender(
        &self,
        req: Request<Streaming<EnvelopeBatch>>,
    ) -> Result<Response<BatchSenderResponse>, Status> {
        let mut s = req.into_inner();
        while let Some(batch) = s.message().await? {
            self.hub.metrics.ingress_batches.inc();
            for env in batch.batch {
                self.hub.accept(env);
            }
        }
        Ok(Response::new(BatchSenderResponse {}))
    }

    async fn send(&self, req: Request<EnvelopeBatch>) -> Result<Response<SendResponse>, Status> {
        self.hub.metrics.ingress_batches.inc();
        for env in req.into_inner().batch {
            self.hub.accept(env);
        }
        Ok(Response::new(SendResponse {}))
    }
}
