//! The BBS LRP instance event stream: server-sent events whose `data` is
//! base64 of the protobuf event, decoded into what the routing table needs.

use base64::Engine;
use prost::Message;

#[derive(Debug, Clone)]
pub enum LrpEvent {
    DesiredCreated(Box<models::DesiredLrp>),
    DesiredChanged {
        before: Box<models::DesiredLrp>,
        after: Box<models::DesiredLrp>,
    },
    DesiredRemoved(Box<models::DesiredLrp>),
    InstanceCreated(models::ActualLrp),
    InstanceChanged {
        before: Box<models::ActualLrp>,
        after: Box<models::ActualLrp>,
    },
    InstanceRemoved(models::ActualLrp),
}

/// Splits a byte stream into SSE events (`event:` and `data:` lines, a
/// blank line ends one).
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    name: String,
    data: String,
}

impl SseParser {
    /// Feeds bytes; returns the (name, data) of every completed event.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<(String, String)> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.name.is_empty() || !self.data.is_empty() {
                    out.push((
                        std::mem::take(&mut self.name),
                        std::mem::take(&mut self.data),
                    ));
                }
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => self.name = value.to_string(),
                "data" => self.data.push_str(value),
                _ => {}
            }
        }
        out
    }
}

fn actual_from_info(
    key: Option<models::ActualLrpKey>,
    instance_key: Option<models::ActualLrpInstanceKey>,
    info: models::ActualLrpInfo,
) -> models::ActualLrp {
    models::ActualLrp {
        actual_lrp_key: key,
        actual_lrp_instance_key: instance_key,
        actual_lrp_net_info: info.actual_lrp_net_info,
        crash_count: info.crash_count,
        crash_reason: info.crash_reason,
        state: info.state,
        placement_error: info.placement_error,
        since: info.since,
        modification_tag: info.modification_tag,
        presence: info.presence,
        optional_routable: info.optional_routable.map(|r| match r {
            models::actual_lrp_info::OptionalRoutable::Routable(b) => {
                models::actual_lrp::OptionalRoutable::Routable(b)
            }
        }),
        availability_zone: info.availability_zone,
        ..Default::default()
    }
}

/// Decodes one event; `Ok(None)` for events the route-emitter ignores
/// (crashes are also sent as instance changes).
pub fn decode(name: &str, data: &str) -> anyhow::Result<Option<LrpEvent>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim())?;
    let b = bytes.as_slice();
    Ok(Some(match name {
        "desired_lrp_created" => LrpEvent::DesiredCreated(
            models::DesiredLrpCreatedEvent::decode(b)?
                .desired_lrp
                .map(Box::new)
                .unwrap_or_default(),
        ),
        "desired_lrp_changed" => {
            let e = models::DesiredLrpChangedEvent::decode(b)?;
            LrpEvent::DesiredChanged {
                before: Box::new(e.before.unwrap_or_default()),
                after: Box::new(e.after.unwrap_or_default()),
            }
        }
        "desired_lrp_removed" => LrpEvent::DesiredRemoved(
            models::DesiredLrpRemovedEvent::decode(b)?
                .desired_lrp
                .map(Box::new)
                .unwrap_or_default(),
        ),
        "actual_lrp_instance_created" => LrpEvent::InstanceCreated(
            models::ActualLrpInstanceCreatedEvent::decode(b)?
                .actual_lrp
                .unwrap_or_default(),
        ),
        "actual_lrp_instance_changed" => {
            let e = models::ActualLrpInstanceChangedEvent::decode(b)?;
            let (Some(before), Some(after)) = (e.before, e.after) else {
                return Ok(None);
            };
            LrpEvent::InstanceChanged {
                before: Box::new(actual_from_info(
                    e.actual_lrp_key.clone(),
                    e.actual_lrp_instance_key.clone(),
                    before,
                )),
                after: Box::new(actual_from_info(
                    e.actual_lrp_key,
                    e.actual_lrp_instance_key,
                    after,
                )),
            }
        }
        "actual_lrp_instance_removed" => LrpEvent::InstanceRemoved(
            models::ActualLrpInstanceRemovedEvent::decode(b)?
                .actual_lrp
                .unwrap_or_default(),
        ),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.feed(b"id: 0\nevent: desired_lrp_cr").is_empty());
        let out = p.feed(b"eated\ndata: AAAA\n\nid: 1\n");
        assert_eq!(
            out,
            vec![("desired_lrp_created".to_string(), "AAAA".to_string())]
        );
    }

    #[test]
    fn decodes_instance_changed_with_routable() {
        let ev = models::ActualLrpInstanceChangedEvent {
            actual_lrp_key: Some(models::ActualLrpKey::new("pg", 1, "d")),
            actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new("ig", "cell")),
            before: Some(models::ActualLrpInfo {
                state: "CLAIMED".into(),
                ..Default::default()
            }),
            after: Some(models::ActualLrpInfo {
                state: "RUNNING".into(),
                optional_routable: Some(models::actual_lrp_info::OptionalRoutable::Routable(false)),
                ..Default::default()
            }),
            trace_id: String::new(),
        };
        let data = base64::engine::general_purpose::STANDARD.encode(ev.encode_to_vec());
        let Some(LrpEvent::InstanceChanged { before, after }) =
            decode("actual_lrp_instance_changed", &data).unwrap()
        else {
            panic!("not a change");
        };
        assert_eq!(before.state, "CLAIMED");
        assert_eq!(after.routable(), Some(false));
        assert_eq!(after.instance_key().instance_guid, "ig");
    }
}
