//! The BBS calls a rep makes (Diego's `bbs.InternalClient` as the rep uses
//! it): protobuf over HTTP on Diego's routes, errors inside 200 responses.

use anyhow::Context;
use auctioneer::bbs_client::{http_client, ClientTlsFiles};
use models::{ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo};
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

/// Responses carrying a Diego `Error` in field 1.
pub trait Response: Message + Default {
    fn error(&self) -> Option<&models::Error>;
}

macro_rules! response {
    ($($t:ty),*) => {$(
        impl Response for $t {
            fn error(&self) -> Option<&models::Error> {
                self.error.as_ref()
            }
        }
    )*};
}

response!(
    models::ActualLrpLifecycleResponse,
    models::EvacuationResponse,
    models::RemoveEvacuatingActualLrpResponse,
    models::TaskLifecycleResponse,
    models::StartTaskResponse,
    models::ActualLrPsResponse,
    models::TasksResponse,
    models::TaskResponse,
    models::DesiredLrpResponse
);

/// A BBS error answered in a response body.
#[derive(Debug, Clone)]
pub struct BbsError(pub models::Error);

impl std::fmt::Display for BbsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bbs error {}: {}", self.0.r#type, self.0.message)
    }
}

impl std::error::Error for BbsError {}

/// The Diego error type of `e`, when the BBS answered one.
pub fn error_type(e: &anyhow::Error) -> Option<models::ErrorType> {
    e.downcast_ref::<BbsError>()
        .and_then(|b| models::ErrorType::try_from(b.0.r#type).ok())
}

/// What an LRP instance reports when it starts or evacuates while running.
#[derive(Debug, Clone, Default)]
pub struct RunningInfo {
    pub net_info: ActualLrpNetInfo,
    pub internal_routes: Vec<models::ActualLrpInternalRoute>,
    pub metric_tags: BTreeMap<String, String>,
    pub routable: bool,
    pub availability_zone: String,
}

#[derive(Clone)]
pub struct BbsClient {
    base: String,
    http: reqwest::Client,
}

impl BbsClient {
    pub fn new(address: &str, timeout: Duration, tls: &ClientTlsFiles) -> anyhow::Result<Self> {
        Ok(Self {
            base: address.trim_end_matches('/').to_string(),
            http: http_client(timeout, tls)?,
        })
    }

    async fn call<Req: Message, Resp: Response>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<Resp> {
        let resp = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("Content-Type", "application/x-protobuf")
            .header("Accept", "application/x-protobuf")
            .header(
                "X-Vcap-Request-Id",
                uuid::Uuid::new_v4().simple().to_string(),
            )
            .body(req.encode_to_vec())
            .send()
            .await
            .with_context(|| format!("bbs {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            anyhow::bail!("bbs {path}: HTTP {status}");
        }
        let r = Resp::decode(body.as_ref()).with_context(|| format!("bbs {path}: decoding"))?;
        if let Some(e) = r.error() {
            return Err(BbsError(e.clone()).into());
        }
        Ok(r)
    }

    async fn lifecycle<Req: Message>(&self, path: &str, req: &Req) -> anyhow::Result<()> {
        let _: models::ActualLrpLifecycleResponse = self.call(path, req).await?;
        Ok(())
    }

    pub async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> anyhow::Result<()> {
        let req = models::ClaimActualLrpRequest {
            process_guid: key.process_guid.clone(),
            index: key.index,
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.lifecycle("/v1/actual_lrps/claim", &req).await
    }

    pub async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        info: &RunningInfo,
    ) -> anyhow::Result<()> {
        let req = models::StartActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            actual_lrp_net_info: Some(info.net_info.clone()),
            actual_lrp_internal_routes: info.internal_routes.clone(),
            metric_tags: info.metric_tags.clone(),
            optional_routable: Some(
                models::start_actual_lrp_request::OptionalRoutable::Routable(info.routable),
            ),
            availability_zone: info.availability_zone.clone(),
        };
        self.lifecycle("/v1/actual_lrps/start.r1", &req).await
    }

    pub async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> anyhow::Result<()> {
        let req = models::CrashActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            error_message: reason.to_string(),
        };
        self.lifecycle("/v1/actual_lrps/crash", &req).await
    }

    pub async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> anyhow::Result<()> {
        let req = models::RemoveActualLrpRequest {
            process_guid: key.process_guid.clone(),
            index: key.index,
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.lifecycle("/v1/actual_lrps/remove", &req).await
    }

    /// EvacuateRunningActualLRP; Ok(keep_container). On an error the
    /// answer's keep_container still decides, as Diego's rep does.
    pub async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        info: &RunningInfo,
    ) -> (bool, anyhow::Result<()>) {
        let req = models::EvacuateRunningActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            actual_lrp_net_info: Some(info.net_info.clone()),
            actual_lrp_internal_routes: info.internal_routes.clone(),
            metric_tags: info.metric_tags.clone(),
            optional_routable: Some(
                models::evacuate_running_actual_lrp_request::OptionalRoutable::Routable(
                    info.routable,
                ),
            ),
            availability_zone: info.availability_zone.clone(),
        };
        self.evacuation("/v1/actual_lrps/evacuate_running.r1", &req)
            .await
    }

    pub async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> (bool, anyhow::Result<()>) {
        let req = models::EvacuateClaimedActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.evacuation("/v1/actual_lrps/evacuate_claimed", &req)
            .await
    }

    pub async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> (bool, anyhow::Result<()>) {
        let req = models::EvacuateStoppedActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.evacuation("/v1/actual_lrps/evacuate_stopped", &req)
            .await
    }

    pub async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> (bool, anyhow::Result<()>) {
        let req = models::EvacuateCrashedActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            error_message: reason.to_string(),
        };
        self.evacuation("/v1/actual_lrps/evacuate_crashed", &req)
            .await
    }

    async fn evacuation<Req: Message>(&self, path: &str, req: &Req) -> (bool, anyhow::Result<()>) {
        // The answer carries keep_container next to the error, so decode
        // it without turning the error into Err first.
        let resp = async {
            let resp = self
                .http
                .post(format!("{}{}", self.base, path))
                .header("Content-Type", "application/x-protobuf")
                .header("Accept", "application/x-protobuf")
                .body(req.encode_to_vec())
                .send()
                .await
                .with_context(|| format!("bbs {path}"))?;
            if !resp.status().is_success() {
                anyhow::bail!("bbs {path}: HTTP {}", resp.status());
            }
            let body = resp.bytes().await?;
            Ok(models::EvacuationResponse::decode(body.as_ref())?)
        }
        .await;
        match resp {
            Ok(r) => match r.error {
                Some(e) => (r.keep_container, Err(BbsError(e).into())),
                None => (r.keep_container, Ok(())),
            },
            // Unreachable BBS: keep the instance running (Diego's client
            // returns keep_container true with transport errors too).
            Err(e) => (true, Err(e)),
        }
    }

    pub async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> anyhow::Result<()> {
        let req = models::RemoveEvacuatingActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
        };
        let _: models::RemoveEvacuatingActualLrpResponse =
            self.call("/v1/actual_lrps/remove_evacuating", &req).await?;
        Ok(())
    }

    /// The actual LRPs on `cell_id` (ordinary and evacuating).
    pub async fn actual_lrps_by_cell(
        &self,
        cell_id: &str,
    ) -> anyhow::Result<Vec<models::ActualLrp>> {
        let req = models::ActualLrPsRequest {
            cell_id: cell_id.to_string(),
            ..Default::default()
        };
        let r: models::ActualLrPsResponse = self.call("/v1/actual_lrps/list", &req).await?;
        Ok(r.actual_lrps)
    }

    /// Every actual LRP of one process (all cells).
    pub async fn actual_lrps_by_process(
        &self,
        process_guid: &str,
    ) -> anyhow::Result<Vec<models::ActualLrp>> {
        let req = models::ActualLrPsRequest {
            process_guid: process_guid.to_string(),
            ..Default::default()
        };
        let r: models::ActualLrPsResponse = self.call("/v1/actual_lrps/list", &req).await?;
        Ok(r.actual_lrps)
    }

    pub async fn desired_lrp(&self, process_guid: &str) -> anyhow::Result<models::DesiredLrp> {
        let req = models::DesiredLrpByProcessGuidRequest {
            process_guid: process_guid.to_string(),
        };
        let r: models::DesiredLrpResponse = self
            .call("/v1/desired_lrps/get_by_process_guid.r3", &req)
            .await?;
        r.desired_lrp.context("bbs answered no desired lrp")
    }

    /// StartTask; Ok(should_start).
    pub async fn start_task(&self, task_guid: &str, cell_id: &str) -> anyhow::Result<bool> {
        let req = models::StartTaskRequest {
            task_guid: task_guid.to_string(),
            cell_id: cell_id.to_string(),
        };
        let r: models::StartTaskResponse = self.call("/v1/tasks/start", &req).await?;
        Ok(r.should_start)
    }

    pub async fn task(&self, task_guid: &str) -> anyhow::Result<models::Task> {
        let req = models::TaskByGuidRequest {
            task_guid: task_guid.to_string(),
        };
        let r: models::TaskResponse = self.call("/v1/tasks/get_by_task_guid.r3", &req).await?;
        r.task.context("bbs answered no task")
    }

    pub async fn tasks_by_cell(&self, cell_id: &str) -> anyhow::Result<Vec<models::Task>> {
        let req = models::TasksRequest {
            cell_id: cell_id.to_string(),
            ..Default::default()
        };
        let r: models::TasksResponse = self.call("/v1/tasks/list.r3", &req).await?;
        Ok(r.tasks)
    }

    pub async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> anyhow::Result<()> {
        let req = models::CompleteTaskRequest {
            task_guid: task_guid.to_string(),
            cell_id: cell_id.to_string(),
            failed,
            failure_reason: failure_reason.to_string(),
            result: result.to_string(),
        };
        let _: models::TaskLifecycleResponse = self.call("/v1/tasks/complete", &req).await?;
        Ok(())
    }

    pub async fn reject_task(&self, task_guid: &str, reason: &str) -> anyhow::Result<()> {
        let req = models::RejectTaskRequest {
            task_guid: task_guid.to_string(),
            rejection_reason: reason.to_string(),
        };
        let _: models::TaskLifecycleResponse = self.call("/v1/tasks/reject", &req).await?;
        Ok(())
    }
}
