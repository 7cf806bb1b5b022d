//! Free host ports of a backend (addresses are the IPAM plugin's).

#[derive(Debug)]
pub struct Pools {
    ports: std::collections::BTreeSet<u16>,
    next_port: u16,
    port_range: (u16, u16),
}

impl Pools {
    pub fn new(port_range: (u16, u16)) -> Self {
        Pools {
            ports: (port_range.0..=port_range.1).collect(),
            next_port: port_range.0,
            port_range,
        }
    }

    /// Hands out ports round-robin so a port just released is not reused
    /// at once (a client may still hold a connection to it).
    pub fn take_port(&mut self) -> Option<u16> {
        let port = self
            .ports
            .range(self.next_port..)
            .next()
            .or_else(|| self.ports.iter().next())
            .copied()?;
        self.ports.remove(&port);
        self.next_port = if port >= self.port_range.1 {
            self.port_range.0
        } else {
            port + 1
        };
        Some(port)
    }

    /// Claims a specific port; false when it is in the range and taken.
    pub fn claim_port(&mut self, port: u16) -> bool {
        let in_range = (self.port_range.0..=self.port_range.1).contains(&port);
        !in_range || self.ports.remove(&port)
    }

    pub fn release_port(&mut self, port: u16) {
        if (self.port_range.0..=self.port_range.1).contains(&port) {
            self.ports.insert(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_hand_out_and_take_back() {
        let mut p = Pools::new((100, 102));
        assert_eq!(p.take_port(), Some(100));
        assert!(p.claim_port(101));
        assert!(!p.claim_port(101));
        assert!(
            p.claim_port(8080),
            "ports outside the range are the caller's"
        );
        assert_eq!(p.take_port(), Some(102));
        assert_eq!(p.take_port(), None);
        p.release_port(100);
        assert_eq!(p.take_port(), Some(100));
    }
}
