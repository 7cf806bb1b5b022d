//! DesiredLRP read and lifecycle requests.

use super::{Validate, ValidationError};
use crate::{
    DesireLrpRequest, DesiredLrPsRequest, DesiredLrpByProcessGuidRequest, RemoveDesiredLrpRequest,
    UpdateDesiredLrpRequest,
};

fn process_guid(errs: &mut ValidationError, guid: &str) {
    if guid.is_empty() {
        errs.invalid_field("process_guid");
    }
}

impl Validate for DesiredLrPsRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Validate for DesiredLrpByProcessGuidRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        errs.into_result()
    }
}

impl Validate for DesireLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        match &self.desired_lrp {
            None => errs.invalid_field("desired_lrp"),
            Some(lrp) => errs.absorb(lrp.validate()),
        }
        errs.into_result()
    }
}

impl Validate for UpdateDesiredLrpRequest {
    /// A missing update is accepted (as by Diego); callers should treat it
    /// as an update that changes nothing.
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        if let Some(update) = &self.update {
            errs.absorb(update.validate());
        }
        errs.into_result()
    }
}

impl Validate for RemoveDesiredLrpRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        process_guid(&mut errs, &self.process_guid);
        errs.into_result()
    }
}
