//! ActualLRP read, lifecycle and evacuation requests.

use super::{Validate, ValidationError};
use crate::{
    ActualLrPsByProcessGuidsRequest, ActualLrPsRequest, ActualLrpGroupByProcessGuidAndIndexRequest,
    ActualLrpGroupsByProcessGuidRequest, ActualLrpGroupsRequest, ActualLrpInstanceKey,
    ActualLrpKey, ActualLrpNetInfo, ClaimActualLrpRequest, CrashActualLrpRequest,
    EvacuateClaimedActualLrpRequest, EvacuateCrashedActualLrpRequest,
    EvacuateRunningActualLrpRequest, EvacuateStoppedActualLrpRequest, FailActualLrpRequest,
    RemoveActualLrpRequest, RemoveEvacuatingActualLrpRequest, RetireActualLrpRequest,
    StartActualLrpRequest,
};

/// A required sub-record: missing is "Invalid field: NAME", present adds its
/// own problems.
fn required<T: Validate>(errs: &mut ValidationError, name: &str, value: Option<&T>) {
    match value {
        None => errs.invalid_field(name),
        Some(v) => errs.absorb(v.validate()),
    }
}

fn lrp_key(errs: &mut ValidationError, key: Option<&ActualLrpKey>) {
    required(errs, "actual_lrp_key", key);
}

fn instance_key(errs: &mut ValidationError, key: Option<&ActualLrpInstanceKey>) {
    required(errs, "actual_lrp_instance_key", key);
}

fn net_info(errs: &mut ValidationError, info: Option<&ActualLrpNetInfo>) {
    required(errs, "actual_lrp_net_info", info);
}

fn process_guid(errs: &mut ValidationError, guid: &str) {
    if guid.is_empty() {
        errs.invalid_field("process_guid");
    }
}

fn index(errs: &mut ValidationError, index: i32) {
    if index < 0 {
        errs.invalid_field("index");
    }
}

fn error_message(errs: &mut ValidationError, message: &str) {
    if message.is_empty() {
        errs.invalid_field("error_message");
    }
}

impl Validate for ActualLrPsRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Validate for ActualLrPsByProcessGuidsRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.process_guids.is_empty() {
            return Err(ValidationError::single("process_guids must not be empty"));
        }
        Ok(())
    }
}

impl Validate for ActualLrpGroupsRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Validate for ActualLrpGroupsByProcessGuidRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        errs.into_result()
    }
}

impl Validate for ActualLrpGroupByProcessGuidAndIndexRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        index(&mut errs, self.index);
        errs.into_result()
    }
}

impl Validate for RemoveActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        index(&mut errs, self.index);
        errs.into_result()
    }
}

impl Validate for ClaimActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        errs.into_result()
    }
}

impl Validate for StartActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        net_info(&mut errs, self.actual_lrp_net_info.as_ref());
        errs.into_result()
    }
}

impl Validate for CrashActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        errs.into_result()
    }
}

impl Validate for FailActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        error_message(&mut errs, &self.error_message);
        errs.into_result()
    }
}

impl Validate for RetireActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        errs.into_result()
    }
}

impl Validate for RemoveEvacuatingActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        errs.into_result()
    }
}

impl Validate for EvacuateClaimedActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        errs.into_result()
    }
}

impl Validate for EvacuateCrashedActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        error_message(&mut errs, &self.error_message);
        errs.into_result()
    }
}

impl Validate for EvacuateStoppedActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        errs.into_result()
    }
}

impl Validate for EvacuateRunningActualLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        lrp_key(&mut errs, self.actual_lrp_key.as_ref());
        instance_key(&mut errs, self.actual_lrp_instance_key.as_ref());
        net_info(&mut errs, self.actual_lrp_net_info.as_ref());
        errs.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Option<ActualLrpKey> {
        Some(ActualLrpKey {
            process_guid: "pg".into(),
            index: 1,
            domain: "d".into(),
        })
    }

    fn ikey() -> Option<ActualLrpInstanceKey> {
        Some(ActualLrpInstanceKey {
            instance_guid: "ig".into(),
            cell_id: "c".into(),
        })
    }

    fn net() -> Option<ActualLrpNetInfo> {
        Some(ActualLrpNetInfo {
            address: "1.2.3.4".into(),
            ..Default::default()
        })
    }

    fn msg(r: Result<(), ValidationError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn reads() {
        assert!(ActualLrPsRequest::default().validate().is_ok());
        assert!(ActualLrpGroupsRequest::default().validate().is_ok());
        assert_eq!(
            msg(ActualLrPsByProcessGuidsRequest::default().validate()),
            "process_guids must not be empty"
        );
        assert!(ActualLrPsByProcessGuidsRequest {
            process_guids: vec!["a".into()]
        }
        .validate()
        .is_ok());
        assert_eq!(
            msg(ActualLrpGroupsByProcessGuidRequest::default().validate()),
            "Invalid field: process_guid"
        );
        assert_eq!(
            msg(ActualLrpGroupByProcessGuidAndIndexRequest {
                process_guid: String::new(),
                index: -1
            }
            .validate()),
            "Invalid field: process_guid, Invalid field: index"
        );
    }

    #[test]
    fn claim_and_remove() {
        assert_eq!(
            msg(ClaimActualLrpRequest::default().validate()),
            "Invalid field: process_guid, Invalid field: actual_lrp_instance_key"
        );
        let claim = ClaimActualLrpRequest {
            process_guid: "pg".into(),
            index: 0,
            actual_lrp_instance_key: Some(ActualLrpInstanceKey::default()),
        };
        assert_eq!(
            msg(claim.validate()),
            "Invalid field: cell_id, Invalid field: instance_guid"
        );
        assert_eq!(
            msg(RemoveActualLrpRequest {
                index: -1,
                ..Default::default()
            }
            .validate()),
            "Invalid field: process_guid, Invalid field: index"
        );
        assert!(RemoveActualLrpRequest {
            process_guid: "pg".into(),
            ..Default::default()
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn start_crash_fail_retire() {
        assert_eq!(
            msg(StartActualLrpRequest::default().validate()),
            "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key, \
             Invalid field: actual_lrp_net_info"
        );
        let start = StartActualLrpRequest {
            actual_lrp_key: key(),
            actual_lrp_instance_key: ikey(),
            actual_lrp_net_info: Some(ActualLrpNetInfo::default()),
            ..Default::default()
        };
        assert_eq!(msg(start.validate()), "Invalid field: address");
        let start = StartActualLrpRequest {
            actual_lrp_net_info: net(),
            ..start
        };
        assert!(start.validate().is_ok());
        assert_eq!(
            msg(CrashActualLrpRequest::default().validate()),
            "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key"
        );
        assert!(CrashActualLrpRequest {
            actual_lrp_key: key(),
            actual_lrp_instance_key: ikey(),
            error_message: String::new(),
        }
        .validate()
        .is_ok());
        assert_eq!(
            msg(FailActualLrpRequest {
                actual_lrp_key: Some(ActualLrpKey::default()),
                error_message: String::new(),
            }
            .validate()),
            "Invalid field: process_guid, Invalid field: domain, Invalid field: error_message"
        );
        assert_eq!(
            msg(RetireActualLrpRequest::default().validate()),
            "Invalid field: actual_lrp_key"
        );
        assert!(RetireActualLrpRequest {
            actual_lrp_key: key()
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn evacuation() {
        let both = "Invalid field: actual_lrp_key, Invalid field: actual_lrp_instance_key";
        assert_eq!(
            msg(RemoveEvacuatingActualLrpRequest::default().validate()),
            both
        );
        assert_eq!(
            msg(EvacuateClaimedActualLrpRequest::default().validate()),
            both
        );
        assert_eq!(
            msg(EvacuateStoppedActualLrpRequest::default().validate()),
            both
        );
        assert_eq!(
            msg(EvacuateCrashedActualLrpRequest::default().validate()),
            format!("{both}, Invalid field: error_message")
        );
        assert_eq!(
            msg(EvacuateRunningActualLrpRequest::default().validate()),
            format!("{both}, Invalid field: actual_lrp_net_info")
        );
        assert!(EvacuateRunningActualLrpRequest {
            actual_lrp_key: key(),
            actual_lrp_instance_key: ikey(),
            actual_lrp_net_info: net(),
            ..Default::default()
        }
        .validate()
        .is_ok());
        assert!(EvacuateCrashedActualLrpRequest {
            actual_lrp_key: key(),
            actual_lrp_instance_key: ikey(),
            error_message: "boom".into(),
        }
        .validate()
        .is_ok());
        assert!(EvacuateClaimedActualLrpRequest {
            actual_lrp_key: key(),
            actual_lrp_instance_key: ikey(),
        }
        .validate()
        .is_ok());
    }
}
