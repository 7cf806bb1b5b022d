//! The id shift layers are unpacked with: user-namespaced containers see
//! their files owned by container ids that are other ids on the host. A
//! layer unpacked with host ids already shifted is shared read-only by
//! every container of the same map, so the store keys layers by digest and
//! shift together.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One contiguous range, as in an OCI runtime spec's `uidMappings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// Container ids to host ids. No mappings: ids are kept as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdShift {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
}

impl IdShift {
    /// Ids as the layer has them.
    pub fn none() -> Self {
        Self::default()
    }

    /// Container ids `0..size` to host ids `host_base..host_base+size`,
    /// for uids and gids alike.
    pub fn offset(host_base: u32, size: u32) -> Self {
        let m = vec![IdMapping {
            container_id: 0,
            host_id: host_base,
            size,
        }];
        IdShift {
            uids: m.clone(),
            gids: m,
        }
    }

    pub fn is_none(&self) -> bool {
        let same = |m: &IdMapping| m.container_id == m.host_id;
        self.uids.iter().all(same) && self.gids.iter().all(same)
    }

    /// The host uid of a container uid; None when the map leaves it out.
    pub fn uid(&self, id: u32) -> Option<u32> {
        map(&self.uids, id)
    }

    pub fn gid(&self, id: u32) -> Option<u32> {
        map(&self.gids, id)
    }

    /// Short and stable: part of a layer's key in the store ("" when
    /// there is no shift, so unshifted layers keep plain keys).
    pub fn key(&self) -> String {
        if self.is_none() {
            return String::new();
        }
        let mut h = Sha256::new();
        for (kind, maps) in [("u", &self.uids), ("g", &self.gids)] {
            for m in maps {
                h.update(format!(
                    "{kind}{}:{}:{};",
                    m.container_id, m.host_id, m.size
                ));
            }
        }
        hex(&h.finalize()[..8])
    }
}

fn map(maps: &[IdMapping], id: u32) -> Option<u32> {
    if maps.is_empty() {
        return Some(id);
    }
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id)?;
        (off < m.size).then(|| m.host_id + off)
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_shift_keeps_ids() {
        let s = IdShift::none();
        assert!(s.is_none());
        assert_eq!(s.key(), "");
        assert_eq!((s.uid(0), s.gid(65534)), (Some(0), Some(65534)));
    }

    #[test]
    fn ranges_map_and_leave_out() {
        let s = IdShift::offset(100_000, 65536);
        assert!(!s.is_none());
        assert_eq!(s.uid(0), Some(100_000));
        assert_eq!(s.gid(2000), Some(102_000));
        assert_eq!(s.uid(65535), Some(165_535));
        assert_eq!(s.uid(65536), None);
        // Garden's map: container root to the top of the host's range,
        // every other id to itself.
        let max = u32::MAX - 1;
        let garden = IdShift {
            uids: vec![
                IdMapping {
                    container_id: 0,
                    host_id: max,
                    size: 1,
                },
                IdMapping {
                    container_id: 1,
                    host_id: 1,
                    size: max - 1,
                },
            ],
            gids: vec![],
        };
        assert_eq!((garden.uid(0), garden.uid(2000)), (Some(max), Some(2000)));
        assert_eq!(garden.gid(0), Some(0));
    }

    #[test]
    fn keys_differ_by_map() {
        let a = IdShift::offset(100_000, 65536).key();
        let b = IdShift::offset(200_000, 65536).key();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert_eq!(a, IdShift::offset(100_000, 65536).key());
    }
}
