//! Volume mounts and volume placement.

use super::{Validate, ValidationError};
use crate::{VolumeMount, VolumePlacement};

impl Validate for VolumeMount {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.driver.is_empty() {
            errs.push("invalid volume_mount driver");
        }
        if self.mode != "r" && self.mode != "rw" {
            errs.push("invalid volume_mount mode");
        }
        if self.shared.as_ref().is_some_and(|s| s.volume_id.is_empty()) {
            errs.push("invalid volume_mount volume id");
        }
        if self
            .dedicated
            .as_ref()
            .is_some_and(|d| d.mounter_id.is_empty())
        {
            errs.push("invalid volume_mount mounter id");
        }
        errs.into_result()
    }
}

impl Validate for VolumePlacement {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DedicatedDevice, SharedDevice};

    #[test]
    fn valid_mount() {
        let m = VolumeMount {
            driver: "nfs".into(),
            container_dir: "/data".into(),
            mode: "rw".into(),
            shared: Some(SharedDevice {
                volume_id: "vol".into(),
                mount_config: String::new(),
            }),
            dedicated: None,
        };
        assert!(m.validate().is_ok());
        assert!(VolumePlacement::default().validate().is_ok());
    }

    #[test]
    fn invalid_mount() {
        let m = VolumeMount {
            mode: "x".into(),
            shared: Some(SharedDevice::default()),
            dedicated: Some(DedicatedDevice::default()),
            ..Default::default()
        };
        assert_eq!(
            m.validate().unwrap_err().to_string(),
            "invalid volume_mount driver, invalid volume_mount mode, \
             invalid volume_mount volume id, invalid volume_mount mounter id"
        );
    }
}
