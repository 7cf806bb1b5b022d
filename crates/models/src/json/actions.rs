//! Actions (Diego's actions.proto), including `ResourceLimits`' custom form.

use super::codec::{match_field, Cx, GoCodec, ObjWriter};
use super::error::JsonError;
use super::parse::{Kind, Node};
use crate::pb::resource_limits::{OptionalNofile, OptionalNproc};
use crate::pb::*;

go_struct!(Action, "Action", {
    ["download" => download_action, omitempty],
    ["upload" => upload_action, omitempty],
    ["run" => run_action, omitempty],
    ["timeout" => timeout_action, omitempty],
    ["emit_progress" => emit_progress_action, omitempty],
    ["try" => try_action, omitempty],
    ["parallel" => parallel_action, omitempty],
    ["serial" => serial_action, omitempty],
    ["codependent" => codependent_action, omitempty],
});

go_struct!(DownloadAction, "DownloadAction", {
    ["artifact" => artifact, omitempty],
    ["from" => from],
    ["to" => to],
    ["cache_key" => cache_key],
    ["log_source" => log_source, omitempty],
    ["user" => user],
    ["checksum_algorithm" => checksum_algorithm, omitempty],
    ["checksum_value" => checksum_value, omitempty],
});

go_struct!(UploadAction, "UploadAction", {
    ["artifact" => artifact, omitempty],
    ["from" => from],
    ["to" => to],
    ["log_source" => log_source, omitempty],
    ["user" => user],
});

go_struct!(RunAction, "RunAction", {
    ["path" => path],
    ["args" => args, omitempty],
    ["dir" => dir, omitempty],
    ["env" => env, omitempty],
    ["resource_limits" => resource_limits, omitempty],
    ["user" => user],
    ["log_source" => log_source, omitempty],
    ["suppress_log_output" => suppress_log_output],
    // Newer than the reference cfdot: only written when set (see `compat`).
    ["volume_mounted_files" => volume_mounted_files, omitempty],
});

go_struct!(TimeoutAction, "TimeoutAction", {
    ["action" => action, omitempty],
    ["timeout" => deprecated_timeout_ns, omitempty],
    ["log_source" => log_source, omitempty],
    ["timeout_ms" => timeout_ms],
});

go_struct!(EmitProgressAction, "EmitProgressAction", {
    ["action" => action, omitempty],
    ["start_message" => start_message],
    ["success_message" => success_message],
    ["failure_message_prefix" => failure_message_prefix],
    ["log_source" => log_source, omitempty],
});

go_struct!(TryAction, "TryAction", {
    ["action" => action, omitempty],
    ["log_source" => log_source, omitempty],
});

go_struct!(ParallelAction, "ParallelAction", {
    ["actions" => actions, omitempty],
    ["log_source" => log_source, omitempty],
});

go_struct!(SerialAction, "SerialAction", {
    ["actions" => actions, omitempty],
    ["log_source" => log_source, omitempty],
});

go_struct!(CodependentAction, "CodependentAction", {
    ["actions" => actions, omitempty],
    ["log_source" => log_source, omitempty],
});

/// Diego writes `ResourceLimits` as `{"nofile":N,"nproc":N}`, each member
/// present exactly when its oneof is set (even when 0).
impl GoCodec for ResourceLimits {
    fn encode_go(&self, out: &mut String) {
        let mut w = ObjWriter::new(out);
        if let Some(OptionalNofile::Nofile(n)) = self.optional_nofile {
            w.value("nofile", &n);
        }
        if let Some(OptionalNproc::Nproc(n)) = self.optional_nproc {
            w.value("nproc", &n);
        }
        w.finish();
    }
    fn is_go_empty(&self) -> bool {
        false
    }
    fn decode_go(&mut self, v: &Node<'_>, cx: &mut Cx) -> Result<(), JsonError> {
        let members = match &v.kind {
            Kind::Null => return Ok(()),
            Kind::Object(m) => m,
            _ => return Err(cx.mismatch(v, "models.internalResourceLimits")),
        };
        let (mut nofile, mut nproc) = (None, None);
        for (key, val) in members {
            let Some(name) = match_field(&["nofile", "nproc"], key) else {
                continue;
            };
            let slot = if name == "nofile" {
                &mut nofile
            } else {
                &mut nproc
            };
            cx.push("internalResourceLimits", name);
            slot.decode_go(val, cx)?;
            cx.pop();
        }
        if let Some(n) = nofile {
            self.optional_nofile = Some(OptionalNofile::Nofile(n));
        }
        if let Some(n) = nproc {
            self.optional_nproc = Some(OptionalNproc::Nproc(n));
        }
        Ok(())
    }
    fn go_type() -> String {
        "models.ResourceLimits".into()
    }
}
