//! The cell's capacity and what reserved containers take from it.

use crate::container::Resource;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorResources {
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub containers: i32,
}

impl ExecutorResources {
    pub fn new(memory_mb: i32, disk_mb: i32, containers: i32) -> Self {
        Self {
            memory_mb,
            disk_mb,
            containers,
        }
    }

    /// From the backend's capacity, capped at `max_containers` (Diego's
    /// default 250) when that is smaller.
    pub fn from_capacity(c: garden::Capacity, max_containers: u64) -> Self {
        const MB: u64 = 1024 * 1024;
        let clamp = |v: u64| v.min(i32::MAX as u64) as i32;
        Self {
            memory_mb: clamp(c.memory_bytes / MB),
            disk_mb: clamp(c.disk_bytes / MB),
            containers: clamp(if c.max_containers == 0 {
                max_containers
            } else {
                c.max_containers.min(max_containers)
            }),
        }
    }

    /// Takes `r` (and one container) if all of it fits; false otherwise.
    pub fn subtract(&mut self, r: &Resource) -> bool {
        if self.memory_mb < r.memory_mb || self.disk_mb < r.disk_mb || self.containers < 1 {
            return false;
        }
        self.memory_mb -= r.memory_mb;
        self.disk_mb -= r.disk_mb;
        self.containers -= 1;
        true
    }

    pub fn add(&mut self, r: &Resource) {
        self.memory_mb += r.memory_mb;
        self.disk_mb += r.disk_mb;
        self.containers += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_refuses_what_does_not_fit() {
        let mut avail = ExecutorResources::new(1024, 2048, 2);
        let r = Resource {
            memory_mb: 512,
            disk_mb: 1024,
            max_pids: 0,
        };
        assert!(avail.subtract(&r));
        assert!(avail.subtract(&r));
        assert_eq!(avail, ExecutorResources::new(0, 0, 0));
        assert!(!avail.subtract(&Resource::default()));
        avail.add(&r);
        assert_eq!(avail, ExecutorResources::new(512, 1024, 1));
    }

    #[test]
    fn capacity_in_megabytes() {
        let c = garden::Capacity {
            memory_bytes: 4 << 30,
            disk_bytes: 10 << 30,
            max_containers: 1000,
        };
        assert_eq!(
            ExecutorResources::from_capacity(c, 250),
            ExecutorResources::new(4096, 10240, 250)
        );
    }
}
