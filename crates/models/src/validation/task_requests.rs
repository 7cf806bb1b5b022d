//! Task requests, plus domain and event-stream requests.

use super::task::{check_task_definition, check_task_guid};
use super::{Validate, ValidationError};
use crate::{
    CompleteTaskRequest, DesireTaskRequest, EventsByCellId, FailTaskRequest, RejectTaskRequest,
    StartTaskRequest, TaskByGuidRequest, TaskGuidRequest, TasksRequest, UpsertDomainRequest,
};

impl Validate for DesireTaskRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_task_guid(&mut errs, &self.task_guid);
        if self.domain.is_empty() {
            errs.invalid_field("domain");
        }
        check_task_definition(&mut errs, self.task_definition.as_ref());
        errs.into_result()
    }
}

impl Validate for StartTaskRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_task_guid(&mut errs, &self.task_guid);
        if self.cell_id.is_empty() {
            errs.invalid_field("cell_id");
        }
        errs.into_result()
    }
}

impl Validate for CompleteTaskRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_task_guid(&mut errs, &self.task_guid);
        if self.cell_id.is_empty() {
            errs.invalid_field("cell_id");
        }
        errs.into_result()
    }
}

impl Validate for FailTaskRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_task_guid(&mut errs, &self.task_guid);
        if self.failure_reason.is_empty() {
            errs.invalid_field("failure_reason");
        }
        errs.into_result()
    }
}

impl Validate for RejectTaskRequest {
    /// Diego names a missing rejection reason "failure_reason".
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_task_guid(&mut errs, &self.task_guid);
        if self.rejection_reason.is_empty() {
            errs.invalid_field("failure_reason");
        }
        errs.into_result()
    }
}

impl Validate for TasksRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Validate for TaskByGuidRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.task_guid.is_empty() {
            return Err(ValidationError::single("Invalid field: task_guid"));
        }
        Ok(())
    }
}

impl Validate for TaskGuidRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.task_guid.is_empty() {
            return Err(ValidationError::single("Invalid field: task_guid"));
        }
        Ok(())
    }
}

impl Validate for UpsertDomainRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.domain.is_empty() {
            return Err(ValidationError::single("Invalid field: domain"));
        }
        Ok(())
    }
}

impl Validate for EventsByCellId {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::task::tests::task_definition;

    fn msg(r: Result<(), ValidationError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn desire_task() {
        let ok = DesireTaskRequest {
            task_definition: Some(task_definition()),
            task_guid: "t-1".into(),
            domain: "d".into(),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(
            msg(DesireTaskRequest::default().validate()),
            "Invalid field: task_guid, Invalid field: domain, Invalid field: task_definition"
        );
        let mut bad_def = ok.clone();
        bad_def.task_definition.as_mut().unwrap().memory_mb = -1;
        assert_eq!(msg(bad_def.validate()), "Invalid field: memory_mb");
    }

    #[test]
    fn task_lifecycle_requests() {
        assert_eq!(
            msg(StartTaskRequest::default().validate()),
            "Invalid field: task_guid, Invalid field: cell_id"
        );
        assert!(StartTaskRequest {
            task_guid: "t".into(),
            cell_id: "c".into()
        }
        .validate()
        .is_ok());
        assert_eq!(
            msg(CompleteTaskRequest::default().validate()),
            "Invalid field: task_guid, Invalid field: cell_id"
        );
        assert!(CompleteTaskRequest {
            task_guid: "t".into(),
            cell_id: "c".into(),
            ..Default::default()
        }
        .validate()
        .is_ok());
        assert_eq!(
            msg(FailTaskRequest::default().validate()),
            "Invalid field: task_guid, Invalid field: failure_reason"
        );
        assert_eq!(
            msg(RejectTaskRequest {
                task_guid: "a.b".into(),
                rejection_reason: String::new()
            }
            .validate()),
            "Invalid field: task_guid, Invalid field: failure_reason"
        );
        assert!(RejectTaskRequest {
            task_guid: "t".into(),
            rejection_reason: "full".into()
        }
        .validate()
        .is_ok());
        assert_eq!(
            msg(TaskGuidRequest::default().validate()),
            "Invalid field: task_guid"
        );
        // Only presence is checked for task-guid lookups.
        assert!(TaskGuidRequest {
            task_guid: "odd guid".into()
        }
        .validate()
        .is_ok());
        assert_eq!(
            msg(TaskByGuidRequest::default().validate()),
            "Invalid field: task_guid"
        );
        assert!(TasksRequest::default().validate().is_ok());
    }

    #[test]
    fn domains_and_events() {
        assert_eq!(
            msg(UpsertDomainRequest::default().validate()),
            "Invalid field: domain"
        );
        assert!(UpsertDomainRequest {
            domain: "cf-apps".into(),
            ttl: 0
        }
        .validate()
        .is_ok());
        assert!(EventsByCellId::default().validate().is_ok());
    }
}
