//! What a cell is, as the rep describes it to the auctioneer and locket:
//! identity, zone, rootfs providers, placement tags.

use crate::config::RepConfig;
use models::rep::{RootFsProvider, RootFsProviders};

/// The URL schemes of preloaded rootfses (`preloaded:NAME`) and of
/// preloaded rootfses with one extra layer (`preloaded+layer:NAME?...`).
pub const PRELOADED_SCHEME: &str = "preloaded";
pub const PRELOADED_OCI_SCHEME: &str = "preloaded+layer";

#[derive(Debug, Clone, Default)]
pub struct CellInfo {
    pub cell_id: String,
    pub cell_index: i32,
    pub zone: String,
    /// Where the auctioneer and BBS reach this rep.
    pub rep_url: String,
    /// The rep's plain address (`rep_address` of the presence).
    pub rep_address: String,
    /// Preloaded stack names.
    pub stacks: Vec<String>,
    /// Schemes of which any rootfs runs here (`docker`).
    pub arbitrary_schemes: Vec<String>,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    /// Memory every LRP container gets on top for the envoy proxy.
    pub proxy_memory_allocation_mb: i32,
    pub enable_container_proxy: bool,
}

impl CellInfo {
    pub fn from_config(cfg: &RepConfig, rep_url: &str, rep_address: &str) -> Self {
        Self {
            cell_id: cfg.cell_id.clone(),
            cell_index: cfg.cell_index,
            zone: cfg.zone.clone(),
            rep_url: rep_url.to_string(),
            rep_address: rep_address.to_string(),
            stacks: cfg.stack_names(),
            arbitrary_schemes: cfg.supported_providers.clone(),
            placement_tags: cfg.placement_tags.clone(),
            optional_placement_tags: cfg.optional_placement_tags.clone(),
            proxy_memory_allocation_mb: cfg.proxy_memory_allocation_mb,
            enable_container_proxy: cfg.enable_container_proxy,
        }
    }

    /// Diego's `rootFSProviders`: each supported scheme arbitrary, the
    /// preloaded schemes fixed to the stack names.
    pub fn root_fs_providers(&self) -> RootFsProviders {
        let mut p = RootFsProviders::new();
        for scheme in &self.arbitrary_schemes {
            p.insert(scheme.clone(), RootFsProvider::Arbitrary);
        }
        let stacks = RootFsProvider::fixed_set(self.stacks.iter().cloned());
        p.insert(PRELOADED_SCHEME.into(), stacks.clone());
        p.insert(PRELOADED_OCI_SCHEME.into(), stacks);
        p
    }

    /// Whether the cell can run `rootfs` (Diego's `PathForRootFS` check
    /// when allocating: preloaded stacks must be known here).
    pub fn knows_rootfs(&self, rootfs: &str) -> bool {
        match models::rep::split_rootfs_url(rootfs) {
            Some((scheme, name))
                if scheme == PRELOADED_SCHEME || scheme == PRELOADED_OCI_SCHEME =>
            {
                self.stacks.contains(&name)
            }
            _ => true,
        }
    }

    /// The `CellPresence` the rep keeps in locket (Diego's
    /// `NewCellPresence`: preloaded, preloaded+layer and extra providers,
    /// then one per supported scheme).
    pub fn presence(&self, capacity: models::rep::Resources) -> models::CellPresence {
        let mut rootfs_providers = vec![
            models::Provider {
                name: PRELOADED_SCHEME.into(),
                properties: self.stacks.clone(),
            },
            models::Provider {
                name: PRELOADED_OCI_SCHEME.into(),
                properties: self.stacks.clone(),
            },
            models::Provider {
                name: "extra".into(),
                properties: vec![],
            },
        ];
        rootfs_providers.extend(self.arbitrary_schemes.iter().map(|s| models::Provider {
            name: s.clone(),
            properties: vec![],
        }));
        models::CellPresence {
            cell_id: self.cell_id.clone(),
            rep_address: self.rep_address.clone(),
            zone: self.zone.clone(),
            capacity: Some(models::CellCapacity {
                memory_mb: capacity.memory_mb,
                disk_mb: capacity.disk_mb,
                containers: capacity.containers,
            }),
            rootfs_providers,
            placement_tags: self.placement_tags.clone(),
            optional_placement_tags: self.optional_placement_tags.clone(),
            rep_url: self.rep_url.clone(),
            ..Default::default()
        }
    }
}
