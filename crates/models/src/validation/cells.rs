//! Cell presences (what a rep registers in locket).

use super::{Validate, ValidationError};
use crate::{CellCapacity, CellPresence};

impl Validate for CellCapacity {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.memory_mb <= 0 {
            errs.invalid_field("memory_mb");
        }
        if self.disk_mb < 0 {
            errs.invalid_field("disk_mb");
        }
        if self.containers <= 0 {
            errs.invalid_field("containers");
        }
        errs.into_result()
    }
}

impl Validate for CellPresence {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.cell_id.is_empty() {
            errs.invalid_field("cell_id");
        }
        if self.rep_address.is_empty() {
            errs.invalid_field("rep_address");
        }
        if !self.rep_url.is_empty()
            && !self.rep_url.starts_with("http://")
            && !self.rep_url.starts_with("https://")
        {
            errs.invalid_field("rep_url");
        }
        errs.absorb(self.capacity.unwrap_or_default().validate());
        if self
            .annotations
            .iter()
            .any(|(k, v)| k.is_empty() || v.is_empty())
        {
            errs.invalid_field("annotations");
        }
        errs.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let ok = CellPresence {
            cell_id: "cell-1".into(),
            rep_address: "http://10.0.0.1:1800".into(),
            rep_url: "https://cell-1.service:1801".into(),
            capacity: Some(CellCapacity {
                memory_mb: 1024,
                disk_mb: 0,
                containers: 10,
            }),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let mut bad = CellPresence {
            rep_url: "ftp://x".into(),
            ..Default::default()
        };
        bad.annotations.insert("k".into(), String::new());
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "Invalid field: cell_id, Invalid field: rep_address, Invalid field: rep_url, \
             Invalid field: memory_mb, Invalid field: containers, Invalid field: annotations"
        );
        let cap = CellCapacity {
            memory_mb: 1,
            disk_mb: -1,
            containers: 1,
        };
        assert_eq!(
            cap.validate().unwrap_err().to_string(),
            "Invalid field: disk_mb"
        );
    }
}
