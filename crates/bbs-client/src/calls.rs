//! Every call of [`BbsClient`] and [`InternalBbsClient`] over
//! [`HttpBbsClient::request`]: Diego's request message on Diego's route,
//! the answer's `error` field turned into `Err`.

use crate::{
    ActualLrpFilter, BbsClient, DesiredLrpFilter, Error, EventStream, HttpBbsClient,
    InternalBbsClient, Result, RunningInfo, TaskFilter,
};
use async_trait::async_trait;
use models::bbs_routes::{self as routes, Route};
use models::*;
use prost::Message;
use std::time::Duration;

/// Answers whose field 1 is a Diego `Error`.
trait Answer: Message + Default {
    fn take_error(&mut self) -> Option<models::Error>;
}

macro_rules! answers {
    ($($t:ty),* $(,)?) => {$(
        impl Answer for $t {
            fn take_error(&mut self) -> Option<models::Error> {
                self.error.take()
            }
        }
    )*};
}

answers!(
    DomainsResponse,
    UpsertDomainResponse,
    ActualLrPsResponse,
    ActualLrPsByProcessGuidsResponse,
    ActualLrpGroupsResponse,
    ActualLrpGroupResponse,
    ActualLrpLifecycleResponse,
    RemoveEvacuatingActualLrpResponse,
    DesiredLrPsResponse,
    DesiredLrpResponse,
    DesiredLrpSchedulingInfosResponse,
    DesiredLrpSchedulingInfoByProcessGuidResponse,
    DesiredLrpLifecycleResponse,
    TasksResponse,
    TaskResponse,
    TaskLifecycleResponse,
    StartTaskResponse,
    CellsResponse,
);

/// Keep the container when the BBS was not reached (claimed, running).
const KEEP_CONTAINER: bool = true;
const DELETE_CONTAINER: bool = false;

impl HttpBbsClient {
    async fn call<Req: Message, Resp: Answer>(&self, route: &Route, req: &Req) -> Result<Resp> {
        let mut answer: Resp = self.request(route, Some(req)).await?;
        match answer.take_error() {
            Some(e) => Err(Error::Bbs(e)),
            None => Ok(answer),
        }
    }

    /// A call without a request body (ping, domains, cells).
    async fn call_bare<Resp: Answer>(&self, route: &Route) -> Result<Resp> {
        let mut answer: Resp = self.request::<(), Resp>(route, None).await?;
        match answer.take_error() {
            Some(e) => Err(Error::Bbs(e)),
            None => Ok(answer),
        }
    }

    async fn lrp_lifecycle<Req: Message>(&self, route: &Route, req: &Req) -> Result<()> {
        self.call::<_, ActualLrpLifecycleResponse>(route, req)
            .await
            .map(drop)
    }

    async fn desired_lifecycle<Req: Message>(&self, route: &Route, req: &Req) -> Result<()> {
        self.call::<_, DesiredLrpLifecycleResponse>(route, req)
            .await
            .map(drop)
    }

    async fn task_lifecycle<Req: Message>(&self, route: &Route, req: &Req) -> Result<()> {
        self.call::<_, TaskLifecycleResponse>(route, req)
            .await
            .map(drop)
    }

    /// Diego's `doEvacRequest`.
    async fn evacuation<Req: Message>(
        &self,
        route: &Route,
        default_keep: bool,
        req: &Req,
    ) -> (bool, Result<()>) {
        match self
            .request::<_, EvacuationResponse>(route, Some(req))
            .await
        {
            Ok(r) => (
                r.keep_container,
                match r.error {
                    Some(e) => Err(Error::Bbs(e)),
                    None => Ok(()),
                },
            ),
            Err(e) => (default_keep, Err(e)),
        }
    }
}

fn desired_request(filter: &DesiredLrpFilter) -> DesiredLrPsRequest {
    DesiredLrPsRequest {
        domain: filter.domain.clone(),
        process_guids: filter.process_guids.clone(),
        app_guids: filter.app_guids.clone(),
    }
}

#[async_trait]
impl BbsClient for HttpBbsClient {
    async fn ping(&self) -> bool {
        self.request::<(), PingResponse>(&routes::PING, None)
            .await
            .is_ok_and(|r| r.available)
    }

    async fn cells(&self) -> Result<Vec<CellPresence>> {
        let r: CellsResponse = self.call_bare(&routes::CELLS).await?;
        Ok(r.cells)
    }

    async fn domains(&self) -> Result<Vec<String>> {
        let r: DomainsResponse = self.call_bare(&routes::DOMAINS).await?;
        Ok(r.domains)
    }

    async fn upsert_domain(&self, domain: &str, ttl: Duration) -> Result<()> {
        let req = UpsertDomainRequest {
            domain: domain.to_string(),
            ttl: u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX),
        };
        self.call::<_, UpsertDomainResponse>(&routes::UPSERT_DOMAIN, &req)
            .await
            .map(drop)
    }

    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrp>> {
        let req = ActualLrPsRequest {
            domain: filter.domain.clone(),
            cell_id: filter.cell_id.clone(),
            process_guid: filter.process_guid.clone(),
            optional_index: filter.index.map(actual_lr_ps_request::OptionalIndex::Index),
        };
        let r: ActualLrPsResponse = self.call(&routes::ACTUAL_LRPS, &req).await?;
        Ok(r.actual_lrps)
    }

    async fn actual_lrps_by_process_guids(
        &self,
        process_guids: &[String],
    ) -> Result<Vec<ActualLrp>> {
        let req = ActualLrPsByProcessGuidsRequest {
            process_guids: process_guids.to_vec(),
        };
        let r: ActualLrPsByProcessGuidsResponse = self
            .call(&routes::ACTUAL_LRPS_BY_PROCESS_GUIDS, &req)
            .await?;
        Ok(r.actual_lrps)
    }

    async fn actual_lrp_groups(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrpGroup>> {
        let req = ActualLrpGroupsRequest {
            domain: filter.domain.clone(),
            cell_id: filter.cell_id.clone(),
        };
        let r: ActualLrpGroupsResponse = self.call(&routes::ACTUAL_LRP_GROUPS, &req).await?;
        Ok(r.actual_lrp_groups)
    }

    async fn actual_lrp_groups_by_process_guid(
        &self,
        process_guid: &str,
    ) -> Result<Vec<ActualLrpGroup>> {
        let req = ActualLrpGroupsByProcessGuidRequest {
            process_guid: process_guid.to_string(),
        };
        let r: ActualLrpGroupsResponse = self
            .call(&routes::ACTUAL_LRP_GROUPS_BY_PROCESS_GUID, &req)
            .await?;
        Ok(r.actual_lrp_groups)
    }

    async fn actual_lrp_group_by_process_guid_and_index(
        &self,
        process_guid: &str,
        index: i32,
    ) -> Result<Option<ActualLrpGroup>> {
        let req = ActualLrpGroupByProcessGuidAndIndexRequest {
            process_guid: process_guid.to_string(),
            index,
        };
        let r: ActualLrpGroupResponse = self
            .call(&routes::ACTUAL_LRP_GROUP_BY_PROCESS_GUID_AND_INDEX, &req)
            .await?;
        Ok(r.actual_lrp_group)
    }

    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<()> {
        let req = RetireActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
        };
        self.lrp_lifecycle(&routes::RETIRE_ACTUAL_LRP, &req).await
    }

    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> Result<Vec<DesiredLrp>> {
        let r: DesiredLrPsResponse = self
            .call(&routes::DESIRED_LRPS, &desired_request(filter))
            .await?;
        Ok(r.desired_lrps)
    }

    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<Option<DesiredLrp>> {
        let req = DesiredLrpByProcessGuidRequest {
            process_guid: process_guid.to_string(),
        };
        let r: DesiredLrpResponse = self
            .call(&routes::DESIRED_LRP_BY_PROCESS_GUID, &req)
            .await?;
        Ok(r.desired_lrp)
    }

    async fn desired_lrp_scheduling_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> Result<Vec<DesiredLrpSchedulingInfo>> {
        let r: DesiredLrpSchedulingInfosResponse = self
            .call(
                &routes::DESIRED_LRP_SCHEDULING_INFOS,
                &desired_request(filter),
            )
            .await?;
        Ok(r.desired_lrp_scheduling_infos)
    }

    async fn desired_lrp_scheduling_info_by_process_guid(
        &self,
        process_guid: &str,
    ) -> Result<Option<DesiredLrpSchedulingInfo>> {
        let req = DesiredLrpByProcessGuidRequest {
            process_guid: process_guid.to_string(),
        };
        let r: DesiredLrpSchedulingInfoByProcessGuidResponse = self
            .call(&routes::DESIRED_LRP_SCHEDULING_INFO_BY_PROCESS_GUID, &req)
            .await?;
        Ok(r.desired_lrp_scheduling_info)
    }

    async fn desired_lrp_routing_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> Result<Vec<DesiredLrp>> {
        let r: DesiredLrPsResponse = self
            .call(&routes::DESIRED_LRP_ROUTING_INFOS, &desired_request(filter))
            .await?;
        Ok(r.desired_lrps)
    }

    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<()> {
        let req = DesireLrpRequest {
            desired_lrp: Some(lrp),
        };
        self.desired_lifecycle(&routes::DESIRE_DESIRED_LRP, &req)
            .await
    }

    async fn update_desired_lrp(&self, process_guid: &str, update: DesiredLrpUpdate) -> Result<()> {
        let req = UpdateDesiredLrpRequest {
            process_guid: process_guid.to_string(),
            update: Some(update),
        };
        self.desired_lifecycle(&routes::UPDATE_DESIRED_LRP, &req)
            .await
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<()> {
        let req = RemoveDesiredLrpRequest {
            process_guid: process_guid.to_string(),
        };
        self.desired_lifecycle(&routes::REMOVE_DESIRED_LRP, &req)
            .await
    }

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let req = TasksRequest {
            domain: filter.domain.clone(),
            cell_id: filter.cell_id.clone(),
        };
        let r: TasksResponse = self.call(&routes::TASKS, &req).await?;
        Ok(r.tasks)
    }

    async fn task_by_guid(&self, task_guid: &str) -> Result<Option<Task>> {
        let req = TaskByGuidRequest {
            task_guid: task_guid.to_string(),
        };
        let r: TaskResponse = self.call(&routes::TASK_BY_GUID, &req).await?;
        Ok(r.task)
    }

    async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: Option<TaskDefinition>,
    ) -> Result<()> {
        let req = DesireTaskRequest {
            task_definition: definition,
            task_guid: task_guid.to_string(),
            domain: domain.to_string(),
        };
        self.task_lifecycle(&routes::DESIRE_TASK, &req).await
    }

    async fn cancel_task(&self, task_guid: &str) -> Result<()> {
        let req = TaskGuidRequest {
            task_guid: task_guid.to_string(),
        };
        self.task_lifecycle(&routes::CANCEL_TASK, &req).await
    }

    async fn resolving_task(&self, task_guid: &str) -> Result<()> {
        let req = TaskGuidRequest {
            task_guid: task_guid.to_string(),
        };
        self.task_lifecycle(&routes::RESOLVING_TASK, &req).await
    }

    async fn delete_task(&self, task_guid: &str) -> Result<()> {
        let req = TaskGuidRequest {
            task_guid: task_guid.to_string(),
        };
        self.task_lifecycle(&routes::DELETE_TASK, &req).await
    }

    async fn subscribe_to_instance_events(&self, cell_id: &str) -> Result<EventStream> {
        self.subscribe(&routes::LRP_INSTANCE_EVENT_STREAM, cell_id)
            .await
    }

    async fn subscribe_to_task_events(&self) -> Result<EventStream> {
        self.subscribe(&routes::TASK_EVENT_STREAM, "").await
    }

    async fn subscribe_to_events(&self, cell_id: &str) -> Result<EventStream> {
        self.subscribe(&routes::LRP_GROUP_EVENT_STREAM, cell_id)
            .await
    }
}

fn start_request(
    key: &ActualLrpKey,
    instance: &ActualLrpInstanceKey,
    info: &RunningInfo,
) -> StartActualLrpRequest {
    StartActualLrpRequest {
        actual_lrp_key: Some(key.clone()),
        actual_lrp_instance_key: Some(instance.clone()),
        actual_lrp_net_info: Some(info.net_info.clone()),
        actual_lrp_internal_routes: info.internal_routes.clone(),
        metric_tags: info.metric_tags.clone(),
        optional_routable: Some(start_actual_lrp_request::OptionalRoutable::Routable(
            info.routable,
        )),
        availability_zone: info.availability_zone.clone(),
    }
}

#[async_trait]
impl InternalBbsClient for HttpBbsClient {
    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()> {
        let req = ClaimActualLrpRequest {
            process_guid: key.process_guid.clone(),
            index: key.index,
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.lrp_lifecycle(&routes::CLAIM_ACTUAL_LRP, &req).await
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        info: &RunningInfo,
    ) -> Result<()> {
        let r = self
            .lrp_lifecycle(
                &routes::START_ACTUAL_LRP,
                &start_request(key, instance, info),
            )
            .await;
        match r {
            Err(e) if e.is_endpoint_not_found() => {
                let req = StartActualLrpRequest {
                    actual_lrp_key: Some(key.clone()),
                    actual_lrp_instance_key: Some(instance.clone()),
                    actual_lrp_net_info: Some(info.net_info.clone()),
                    ..Default::default()
                };
                self.lrp_lifecycle(&routes::START_ACTUAL_LRP_R0, &req).await
            }
            r => r,
        }
    }

    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<()> {
        let req = CrashActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            error_message: reason.to_string(),
        };
        self.lrp_lifecycle(&routes::CRASH_ACTUAL_LRP, &req).await
    }

    async fn fail_actual_lrp(&self, key: &ActualLrpKey, reason: &str) -> Result<()> {
        let req = FailActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            error_message: reason.to_string(),
        };
        self.lrp_lifecycle(&routes::FAIL_ACTUAL_LRP, &req).await
    }

    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()> {
        let req = RemoveActualLrpRequest {
            process_guid: key.process_guid.clone(),
            index: key.index,
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.lrp_lifecycle(&routes::REMOVE_ACTUAL_LRP, &req).await
    }

    async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> (bool, Result<()>) {
        let req = EvacuateClaimedActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.evacuation(&routes::EVACUATE_CLAIMED_ACTUAL_LRP, KEEP_CONTAINER, &req)
            .await
    }

    async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        info: &RunningInfo,
    ) -> (bool, Result<()>) {
        let req = EvacuateRunningActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            actual_lrp_net_info: Some(info.net_info.clone()),
            actual_lrp_internal_routes: info.internal_routes.clone(),
            metric_tags: info.metric_tags.clone(),
            optional_routable: Some(
                evacuate_running_actual_lrp_request::OptionalRoutable::Routable(info.routable),
            ),
            availability_zone: info.availability_zone.clone(),
        };
        let r = self
            .evacuation(&routes::EVACUATE_RUNNING_ACTUAL_LRP, KEEP_CONTAINER, &req)
            .await;
        match r {
            (_, Err(e)) if e.is_endpoint_not_found() => {
                let req = EvacuateRunningActualLrpRequest {
                    actual_lrp_key: Some(key.clone()),
                    actual_lrp_instance_key: Some(instance.clone()),
                    actual_lrp_net_info: Some(info.net_info.clone()),
                    ..Default::default()
                };
                self.evacuation(
                    &routes::EVACUATE_RUNNING_ACTUAL_LRP_R0,
                    KEEP_CONTAINER,
                    &req,
                )
                .await
            }
            r => r,
        }
    }

    async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> (bool, Result<()>) {
        let req = EvacuateStoppedActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.evacuation(&routes::EVACUATE_STOPPED_ACTUAL_LRP, DELETE_CONTAINER, &req)
            .await
    }

    async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> (bool, Result<()>) {
        let req = EvacuateCrashedActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            error_message: reason.to_string(),
        };
        self.evacuation(&routes::EVACUATE_CRASHED_ACTUAL_LRP, DELETE_CONTAINER, &req)
            .await
    }

    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()> {
        let req = RemoveEvacuatingActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
        };
        self.call::<_, RemoveEvacuatingActualLrpResponse>(
            &routes::REMOVE_EVACUATING_ACTUAL_LRP,
            &req,
        )
        .await
        .map(drop)
    }

    async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool> {
        let req = StartTaskRequest {
            task_guid: task_guid.to_string(),
            cell_id: cell_id.to_string(),
        };
        let r: StartTaskResponse = self.call(&routes::START_TASK, &req).await?;
        Ok(r.should_start)
    }

    async fn fail_task(&self, task_guid: &str, reason: &str) -> Result<()> {
        let req = FailTaskRequest {
            task_guid: task_guid.to_string(),
            failure_reason: reason.to_string(),
        };
        self.task_lifecycle(&routes::FAIL_TASK, &req).await
    }

    async fn reject_task(&self, task_guid: &str, reason: &str) -> Result<()> {
        let req = RejectTaskRequest {
            task_guid: task_guid.to_string(),
            rejection_reason: reason.to_string(),
        };
        self.task_lifecycle(&routes::REJECT_TASK, &req).await
    }

    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<()> {
        let req = CompleteTaskRequest {
            task_guid: task_guid.to_string(),
            cell_id: cell_id.to_string(),
            failed,
            failure_reason: failure_reason.to_string(),
            result: result.to_string(),
        };
        self.task_lifecycle(&routes::COMPLETE_TASK, &req).await
    }
}
