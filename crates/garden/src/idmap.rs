//! The user namespace map every unprivileged container shares: container
//! ids 0..size are host ids host_base..host_base+size, for uids and gids
//! alike.
//!
//! One map for all containers (as Garden has) lets a rootfs be shifted
//! once and shared: its files are owned by the host ids the container's
//! users map to (see `shifted`). The image store is given the same map, so
//! it unpacks layers with ids already shifted.

use serde::{Deserialize, Serialize};

/// Container ids outside the map are owned, on the host, by what the
/// container's `nobody` maps to (the kernel shows unmapped ids as 65534).
pub const OVERFLOW_ID: u32 = 65534;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdMap {
    /// The host id container id 0 (root) is.
    pub host_base: u32,
    /// How many ids are mapped (container ids 0..size).
    pub size: u32,
}

impl Default for IdMap {
    /// Container root is host uid 2^30; 2^24 ids cover every id images use
    /// (nobody is 65534; some images use ids in the 100000s).
    fn default() -> Self {
        IdMap {
            host_base: 1 << 30,
            size: 1 << 24,
        }
    }
}

impl IdMap {
    /// Whether the map is usable: non-empty, within the 32-bit id space
    /// (u32::MAX is the kernel's "no id"), and covering `nobody`.
    pub fn validate(&self) -> Result<(), String> {
        if self.size <= OVERFLOW_ID {
            return Err(format!(
                "id map size {} must cover id {OVERFLOW_ID} (nobody)",
                self.size
            ));
        }
        if u64::from(self.host_base) + u64::from(self.size) > u64::from(u32::MAX) {
            return Err(format!(
                "id map {}+{} runs past the largest id",
                self.host_base, self.size
            ));
        }
        if self.host_base == 0 {
            return Err("id map must not start at host id 0 (host root)".into());
        }
        Ok(())
    }

    /// The host id of container id `id` (ids outside the map: the host id
    /// of container nobody).
    pub fn to_host(&self, id: u32) -> u32 {
        let id = if id < self.size { id } else { OVERFLOW_ID };
        self.host_base + id
    }

    /// The container id of host id `id`, if the map has it.
    pub fn to_container(&self, id: u32) -> Option<u32> {
        id.checked_sub(self.host_base).filter(|c| *c < self.size)
    }

    /// As the OCI spec's `linux.uidMappings` / `gidMappings` entry.
    pub fn oci(&self) -> oci_spec::runtime::LinuxIdMapping {
        oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(self.host_base)
            .size(self.size)
            .build()
            .expect("every field given")
    }

    /// A short stable name for the map (directories of shifted copies).
    pub fn key(&self) -> String {
        format!("{}-{}", self.host_base, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_shift_both_ways() {
        let m = IdMap {
            host_base: 100_000,
            size: 65_536,
        };
        assert!(m.validate().is_ok());
        assert_eq!(m.to_host(0), 100_000);
        assert_eq!(m.to_host(2000), 102_000);
        assert_eq!(m.to_host(70_000), 100_000 + OVERFLOW_ID);
        assert_eq!(m.to_container(102_000), Some(2000));
        assert_eq!(m.to_container(99_999), None);
        assert_eq!(m.to_container(165_536), None);
        assert_eq!(m.key(), "100000-65536");
    }

    #[test]
    fn bad_maps_are_refused() {
        let small = IdMap {
            host_base: 1000,
            size: 100,
        };
        assert!(small.validate().unwrap_err().contains("nobody"));
        let past = IdMap {
            host_base: u32::MAX - 10,
            size: 65_536,
        };
        assert!(past.validate().is_err());
        let root = IdMap {
            host_base: 0,
            size: 65_536,
        };
        assert!(root.validate().is_err());
        assert!(IdMap::default().validate().is_ok());
    }
}
