//! ActualLRP records and their keys.

use super::{Validate, ValidationError};
use crate::actual_lrp::Presence;
use crate::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use crate::{ActualLrp, ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo};

impl Validate for ActualLrpKey {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.process_guid.is_empty() {
            errs.invalid_field("process_guid");
        }
        if self.index < 0 {
            errs.invalid_field("index");
        }
        if self.domain.is_empty() {
            errs.invalid_field("domain");
        }
        errs.into_result()
    }
}

impl Validate for ActualLrpInstanceKey {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.cell_id.is_empty() {
            errs.invalid_field("cell_id");
        }
        if self.instance_guid.is_empty() {
            errs.invalid_field("instance_guid");
        }
        errs.into_result()
    }
}

impl Validate for ActualLrpNetInfo {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.address.is_empty() {
            return Err(ValidationError::single("Invalid field: address"));
        }
        Ok(())
    }
}

/// Diego's "empty net info": no address, no ports, preferred address UNKNOWN.
fn net_info_is_empty(info: Option<&ActualLrpNetInfo>) -> bool {
    info.is_none_or(|i| i.address.is_empty() && i.ports.is_empty() && i.preferred_address == 0)
}

fn instance_key_is_empty(key: Option<&ActualLrpInstanceKey>) -> bool {
    key.is_none_or(|k| k.instance_guid.is_empty() && k.cell_id.is_empty())
}

impl Validate for ActualLrp {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        errs.absorb(self.actual_lrp_key.clone().unwrap_or_default().validate());
        if self.since == 0 {
            errs.invalid_field("since");
        }
        let instance_key = self.actual_lrp_instance_key.as_ref();
        let net_info = self.actual_lrp_net_info.as_ref();
        let has_placement_error = !self.placement_error.trim().is_empty();
        match self.state.as_str() {
            UNCLAIMED => {
                if !instance_key_is_empty(instance_key) {
                    errs.push("instance key cannot be set when state is unclaimed");
                }
                if !net_info_is_empty(net_info) {
                    errs.push("net info cannot be set when state is unclaimed");
                }
                if self.presence != Presence::Ordinary as i32 {
                    errs.push("presence cannot be set when state is unclaimed");
                }
            }
            CLAIMED => {
                errs.absorb(instance_key.cloned().unwrap_or_default().validate());
                if !net_info_is_empty(net_info) {
                    errs.push("net info cannot be set when state is claimed");
                }
                if has_placement_error {
                    errs.push("placement error cannot be set when state is claimed");
                }
            }
            RUNNING => {
                errs.absorb(instance_key.cloned().unwrap_or_default().validate());
                errs.absorb(net_info.cloned().unwrap_or_default().validate());
                if has_placement_error {
                    errs.push("placement error cannot be set when state is running");
                }
            }
            CRASHED => {
                if !instance_key_is_empty(instance_key) {
                    errs.push("instance key cannot be set when state is crashed");
                }
                if !net_info_is_empty(net_info) {
                    errs.push("net info cannot be set when state is crashed");
                }
                if has_placement_error {
                    errs.push("placement error cannot be set when state is crashed");
                }
            }
            _ => errs.invalid_field("state"),
        }
        errs.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PortMapping;

    fn key() -> ActualLrpKey {
        ActualLrpKey {
            process_guid: "pg".into(),
            index: 0,
            domain: "d".into(),
        }
    }

    fn ikey() -> ActualLrpInstanceKey {
        ActualLrpInstanceKey {
            instance_guid: "ig".into(),
            cell_id: "cell".into(),
        }
    }

    fn net() -> ActualLrpNetInfo {
        ActualLrpNetInfo {
            address: "10.0.0.1".into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61000,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn lrp(state: &str) -> ActualLrp {
        ActualLrp {
            actual_lrp_key: Some(key()),
            state: state.into(),
            since: 1,
            ..Default::default()
        }
    }

    fn msg(l: &ActualLrp) -> String {
        l.validate().unwrap_err().to_string()
    }

    #[test]
    fn keys() {
        assert!(key().validate().is_ok());
        let bad = ActualLrpKey {
            index: -1,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "Invalid field: process_guid, Invalid field: index, Invalid field: domain"
        );
        assert!(ikey().validate().is_ok());
        assert_eq!(
            ActualLrpInstanceKey::default()
                .validate()
                .unwrap_err()
                .to_string(),
            "Invalid field: cell_id, Invalid field: instance_guid"
        );
        assert!(net().validate().is_ok());
        assert_eq!(
            ActualLrpNetInfo::default()
                .validate()
                .unwrap_err()
                .to_string(),
            "Invalid field: address"
        );
    }

    #[test]
    fn valid_states() {
        assert!(lrp(UNCLAIMED).validate().is_ok());
        let mut l = lrp(UNCLAIMED);
        l.placement_error = "no cells".into();
        assert!(l.validate().is_ok());
        let mut l = lrp(CLAIMED);
        l.actual_lrp_instance_key = Some(ikey());
        assert!(l.validate().is_ok());
        let mut l = lrp(RUNNING);
        l.actual_lrp_instance_key = Some(ikey());
        l.actual_lrp_net_info = Some(net());
        assert!(l.validate().is_ok());
        let mut l = lrp(CRASHED);
        l.crash_reason = "boom".into();
        assert!(l.validate().is_ok());
    }

    #[test]
    fn invalid_states() {
        let mut l = lrp("BOGUS");
        l.since = 0;
        l.actual_lrp_key = None;
        assert_eq!(
            msg(&l),
            "Invalid field: process_guid, Invalid field: domain, Invalid field: since, \
             Invalid field: state"
        );
        let mut l = lrp(UNCLAIMED);
        l.actual_lrp_instance_key = Some(ikey());
        l.actual_lrp_net_info = Some(net());
        l.presence = Presence::Evacuating as i32;
        assert_eq!(
            msg(&l),
            "instance key cannot be set when state is unclaimed, \
             net info cannot be set when state is unclaimed, \
             presence cannot be set when state is unclaimed"
        );
        let mut l = lrp(CLAIMED);
        l.actual_lrp_net_info = Some(net());
        l.placement_error = "x".into();
        assert_eq!(
            msg(&l),
            "Invalid field: cell_id, Invalid field: instance_guid, \
             net info cannot be set when state is claimed, \
             placement error cannot be set when state is claimed"
        );
        let mut l = lrp(RUNNING);
        l.placement_error = "x".into();
        assert_eq!(
            msg(&l),
            "Invalid field: cell_id, Invalid field: instance_guid, Invalid field: address, \
             placement error cannot be set when state is running"
        );
        let mut l = lrp(CRASHED);
        l.actual_lrp_instance_key = Some(ikey());
        l.actual_lrp_net_info = Some(ActualLrpNetInfo {
            preferred_address: 2,
            ..Default::default()
        });
        l.placement_error = "x".into();
        assert_eq!(
            msg(&l),
            "instance key cannot be set when state is crashed, \
             net info cannot be set when state is crashed, \
             placement error cannot be set when state is crashed"
        );
    }
}
