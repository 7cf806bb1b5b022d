//! Cell presences (stored in locket as JSON) and domains.

use crate::pb::*;

go_struct!(CellCapacity, "CellCapacity", {
    ["memory_mb" => memory_mb],
    ["disk_mb" => disk_mb],
    ["containers" => containers],
});

go_struct!(Provider, "Provider", {
    ["name" => name],
    ["properties" => properties, omitempty],
});

go_struct!(CellPresence, "CellPresence", {
    ["cell_id" => cell_id],
    ["rep_address" => rep_address],
    ["zone" => zone],
    ["capacity" => capacity, omitempty],
    ["rootfs_provider_list" => rootfs_providers, omitempty],
    ["placement_tags" => placement_tags, omitempty],
    ["optional_placement_tags" => optional_placement_tags, omitempty],
    ["rep_url" => rep_url],
    // Newer than the reference cfdot (whose Diego always writes `{}` here):
    // only written when set (see `compat`).
    ["annotations" => annotations, omitempty],
});

go_struct!(UpsertDomainRequest, "UpsertDomainRequest", {
    ["domain" => domain],
    ["ttl" => ttl],
});
