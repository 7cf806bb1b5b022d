//! Server-sent events as the BBS streams them (`id:`, `event:`, `data:`
//! lines, a blank line ends an event; `data` is base64 of the protobuf
//! event), and the JSON cfdot prints for each: `{"type":...,"data":...}`.

use base64::Engine;
use prost::Message;

use models::json::{go_quote, DiegoEvent, GoJson};

/// One raw event off the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawEvent {
    pub id: String,
    pub name: String,
    pub data: String,
}

/// Incremental SSE parser: feed bytes, take complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    current: RawEvent,
    has_data: bool,
}

impl SseParser {
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<RawEvent>) {
        self.buf.extend_from_slice(bytes);
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line(&String::from_utf8_lossy(&line), out);
        }
    }

    fn line(&mut self, line: &str, out: &mut Vec<RawEvent>) {
        if line.is_empty() {
            if self.has_data || !self.current.name.is_empty() {
                out.push(std::mem::take(&mut self.current));
            }
            self.current = RawEvent::default();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match field {
            "id" => self.current.id = value.to_string(),
            "event" => self.current.name = value.to_string(),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

/// An open event stream.
pub struct SseStream {
    resp: reqwest::Response,
    parser: SseParser,
    pending: std::collections::VecDeque<RawEvent>,
}

/// Why a stream stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    Eof,
    Error(String),
}

impl SseStream {
    pub fn new(resp: reqwest::Response) -> Self {
        SseStream {
            resp,
            parser: SseParser::default(),
            pending: Default::default(),
        }
    }

    /// The next raw event, or why there is none.
    pub async fn next(&mut self) -> Result<RawEvent, StreamEnd> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => {
                    let mut out = Vec::new();
                    self.parser.feed(&bytes, &mut out);
                    self.pending.extend(out);
                }
                Ok(None) => return Err(StreamEnd::Eof),
                Err(e) => return Err(StreamEnd::Error(format!("raw event source error: {e}"))),
            }
        }
    }
}

fn decode<E: Message + Default + GoJson + DiegoEvent>(
    name: &str,
    data: &[u8],
) -> Result<String, String> {
    let ev =
        E::decode(data).map_err(|e| format!("invalid protobuf payload of type {name}: {e}"))?;
    Ok(format!(
        "{{\"type\":{},\"data\":{}}}\n",
        go_quote(E::EVENT_TYPE),
        ev.to_go_json()
    ))
}

/// The line cfdot prints for an event (`{"type":T,"data":EVENT}` + `\n`),
/// or the error Diego's event source gives for it.
pub fn event_line(raw: &RawEvent) -> Result<String, String> {
    use models::*;
    let name = raw.name.as_str();
    if raw.data.is_empty() {
        return Err(format!(
            "invalid protobuf payload of type {name}: event with no data"
        ));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(raw.data.as_bytes())
        .map_err(|e| format!("invalid protobuf payload of type {name}: {e}"))?;
    match name {
        "desired_lrp_created" => decode::<DesiredLrpCreatedEvent>(name, &data),
        "desired_lrp_changed" => decode::<DesiredLrpChangedEvent>(name, &data),
        "desired_lrp_removed" => decode::<DesiredLrpRemovedEvent>(name, &data),
        "actual_lrp_created" => decode::<ActualLrpCreatedEvent>(name, &data),
        "actual_lrp_changed" => decode::<ActualLrpChangedEvent>(name, &data),
        "actual_lrp_removed" => decode::<ActualLrpRemovedEvent>(name, &data),
        "actual_lrp_crashed" => decode::<ActualLrpCrashedEvent>(name, &data),
        "actual_lrp_instance_created" => decode::<ActualLrpInstanceCreatedEvent>(name, &data),
        "actual_lrp_instance_changed" => decode::<ActualLrpInstanceChangedEvent>(name, &data),
        "actual_lrp_instance_removed" => decode::<ActualLrpInstanceRemovedEvent>(name, &data),
        "task_created" => decode::<TaskCreatedEvent>(name, &data),
        "task_changed" => decode::<TaskChangedEvent>(name, &data),
        "task_removed" => decode::<TaskRemovedEvent>(name, &data),
        _ => Err("unrecognized event type".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks() {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        p.feed(b"id: 0\nevent: task_cre", &mut out);
        assert!(out.is_empty());
        p.feed(
            b"ated\ndata: AAA=\n\nid: 1\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\n",
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                RawEvent {
                    id: "0".into(),
                    name: "task_created".into(),
                    data: "AAA=".into()
                },
                RawEvent {
                    id: "1".into(),
                    name: "x".into(),
                    data: "a\nb".into()
                }
            ]
        );
    }

    #[test]
    fn renders_task_event_like_cfdot() {
        let ev = models::TaskRemovedEvent {
            task: Some(models::Task {
                task_guid: "g".into(),
                ..Default::default()
            }),
        };
        let raw = RawEvent {
            id: "0".into(),
            name: "task_removed".into(),
            data: base64::engine::general_purpose::STANDARD.encode(ev.encode_to_vec()),
        };
        let line = event_line(&raw).unwrap();
        assert!(line.starts_with("{\"type\":\"task_removed\",\"data\":{\"task\":{"));
        assert!(line.ends_with("}}\n"));
        assert_eq!(
            event_line(&RawEvent {
                name: "bogus".into(),
                data: "AA==".into(),
                ..Default::default()
            }),
            Err("unrecognized event type".into())
        );
    }
}
