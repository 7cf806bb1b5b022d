//! Members of the small shared messages (common.proto in our tree; several
//! `*.proto` files in Diego's).

use super::codec::Named;
use super::enums::{
    DigestAlgorithmName, DynamicValueName, ErrorTypeName, LayerTypeName, MediaTypeName,
};
use crate::pb::*;

go_struct!(Error, "Error", {
    ["type" => r#type as Named<ErrorTypeName>],
    ["message" => message],
});

go_struct!(ModificationTag, "ModificationTag", {
    ["epoch" => epoch],
    ["index" => index],
});

go_struct!(EnvironmentVariable, "EnvironmentVariable", {
    ["name" => name],
    ["value" => value],
});

go_struct!(File, "File", {
    ["path" => path],
    ["content" => content],
});

go_struct!(PingResponse, "PingResponse", {
    ["available" => available],
});

go_struct!(LogRateLimit, "LogRateLimit", {
    ["bytes_per_second" => bytes_per_second, omitempty],
});

go_struct!(CertificateProperties, "CertificateProperties", {
    ["organizational_unit" => organizational_unit, omitempty],
});

go_struct!(Network, "Network", {
    ["properties" => properties, omitempty],
});

go_struct!(PortRange, "PortRange", {
    ["start" => start],
    ["end" => end],
});

go_struct!(IcmpInfo, "ICMPInfo", {
    ["type" => r#type],
    ["code" => code],
});

go_struct!(SecurityGroupRule, "SecurityGroupRule", {
    ["protocol" => protocol, omitempty],
    ["destinations" => destinations, omitempty],
    ["ports" => ports, omitempty],
    ["port_range" => port_range, omitempty],
    ["icmp_info" => icmp_info, omitempty],
    ["log" => log],
    ["annotations" => annotations, omitempty],
});

go_struct!(CachedDependency, "CachedDependency", {
    ["name" => name],
    ["from" => from],
    ["to" => to],
    ["cache_key" => cache_key],
    ["log_source" => log_source],
    ["checksum_algorithm" => checksum_algorithm, omitempty],
    ["checksum_value" => checksum_value, omitempty],
});

go_struct!(SharedDevice, "SharedDevice", {
    ["volume_id" => volume_id],
    ["mount_config" => mount_config],
});

go_struct!(DedicatedDevice, "DedicatedDevice", {
    ["mounter_id" => mounter_id],
    ["mount_config" => mount_config],
    ["device_config" => device_config],
});

go_struct!(VolumeMount, "VolumeMount", {
    ["driver" => driver],
    ["container_dir" => container_dir],
    ["mode" => mode],
    ["shared" => shared],
    // Newer than the reference cfdot: only written when set (see `compat`).
    ["dedicated" => dedicated, omitempty],
});

go_struct!(VolumePlacement, "VolumePlacement", {
    ["driver_names" => driver_names],
});

go_struct!(ImageLayer, "ImageLayer", {
    ["name" => name, omitempty],
    ["url" => url],
    ["destination_path" => destination_path],
    ["layer_type" => layer_type as Named<LayerTypeName>],
    ["media_type" => media_type as Named<MediaTypeName>],
    ["digest_algorithm" => digest_algorithm as Named<DigestAlgorithmName>, omitempty],
    ["digest_value" => digest_value, omitempty],
});

go_struct!(MetricTagValue, "MetricTagValue", {
    ["static" => r#static, omitempty],
    ["dynamic" => dynamic as DynamicValueName, omitempty],
});

go_struct!(CheckDefinition, "CheckDefinition", {
    ["checks" => checks, omitempty],
    ["log_source" => log_source],
    ["readiness_checks" => readiness_checks, omitempty],
});

go_struct!(Check, "Check", {
    ["tcp_check" => tcp_check, omitempty],
    ["http_check" => http_check, omitempty],
});

go_struct!(TcpCheck, "TCPCheck", {
    ["port" => port],
    ["connect_timeout_ms" => connect_timeout_ms, omitempty],
    ["interval_ms" => interval_ms, omitempty],
});

go_struct!(HttpCheck, "HTTPCheck", {
    ["port" => port],
    ["request_timeout_ms" => request_timeout_ms, omitempty],
    ["path" => path],
    ["interval_ms" => interval_ms, omitempty],
});

go_struct!(Sidecar, "Sidecar", {
    ["action" => action, omitempty],
    ["disk_mb" => disk_mb],
    ["memory_mb" => memory_mb],
});
