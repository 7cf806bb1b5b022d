//! Server-sent events, parsed as the HTML standard's event-stream
//! interpretation says: lines end in CRLF, LF or CR (also split across
//! reads); `:` starts a comment; one optional space after the colon is
//! dropped; `data` lines join with `\n`; `id` sets the last event id, which
//! later events keep until another `id` (one holding NUL is ignored);
//! `retry` sets the reconnection delay; a blank line dispatches the event
//! unless it has no data; a leading BOM is skipped; an unfinished event at
//! the end of the stream is dropped. The one parser of the project: the
//! bbs's streams are read with it everywhere.

use std::time::Duration;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The last event id when the event was dispatched.
    pub id: String,
    /// The event type; `message` when the event named none.
    pub event: String,
    pub data: String,
}

/// An incremental parser: feed it bytes as they arrive, take whole events.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last byte was a CR, so an LF right after it ends no new line.
    after_cr: bool,
    at_start: bool,
    data: String,
    event: String,
    last_id: String,
    retry: Option<Duration>,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            event: String::new(),
            last_id: String::new(),
            retry: None,
        }
    }
}

impl SseParser {
    /// Parses `bytes`, appending every event they complete to `out`.
    pub fn feed_into(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.line.extend_from_slice(&bytes[..i]);
                    self.after_cr = bytes[i] == b'\r';
                    self.end_line(out);
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.line.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
        }
    }

    /// Parses `bytes`; the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        self.feed_into(bytes, &mut out);
        out
    }

    /// The reconnection delay the stream asked for, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&raw);
        if std::mem::take(&mut self.at_start) {
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_string().into();
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.last_id = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        out.push(SseEvent {
            id: self.last_id.clone(),
            event: if event.is_empty() {
                "message".to_string()
            } else {
                event
            },
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: id.into(),
            event: event.into(),
            data: data.into(),
        }
    }

    /// Feeds `text` split at every position and in one piece; every split
    /// must give the same events.
    fn parse(text: &[u8]) -> Vec<SseEvent> {
        let whole = SseParser::default().feed(text);
        for cut in 0..=text.len() {
            let mut p = SseParser::default();
            let mut got = p.feed(&text[..cut]);
            got.extend(p.feed(&text[cut..]));
            assert_eq!(got, whole, "split at {cut}");
        }
        whole
    }

    #[test]
    fn the_bbs_wire_form() {
        assert_eq!(
            parse(b"id: 0\nevent: task_created\ndata: AAA=\n\nid: 1\nevent: task_removed\ndata: BBB=\n\n"),
            vec![ev("0", "task_created", "AAA="), ev("1", "task_removed", "BBB=")]
        );
    }

    #[test]
    fn multi_line_data_joins_with_newlines() {
        assert_eq!(
            parse(b"data: a\ndata:b\ndata\ndata:  c\n\n"),
            vec![ev("", "message", "a\nb\n\n c")]
        );
    }

    #[test]
    fn cr_lf_and_lone_cr_end_lines() {
        assert_eq!(
            parse(b"event: x\r\ndata: 1\r\n\r\nevent: y\rdata: 2\r\rdata: 3\n\n"),
            vec![ev("", "x", "1"), ev("", "y", "2"), ev("", "message", "3")]
        );
    }

    #[test]
    fn comments_unknown_fields_and_dataless_events_are_skipped() {
        assert_eq!(
            parse(b": keep-alive\n\nevent: lonely\n\nfoo: bar\nevent: z\ndata: d\n\n"),
            vec![ev("", "z", "d")]
        );
    }

    #[test]
    fn ids_persist_until_changed_and_nul_ids_are_ignored() {
        assert_eq!(
            parse(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\0x\ndata: c\n\nid\ndata: d\n\n"),
            vec![
                ev("7", "message", "a"),
                ev("7", "message", "b"),
                ev("7", "message", "c"),
                ev("", "message", "d")
            ]
        );
    }

    #[test]
    fn retry_bom_and_unfinished_events() {
        let mut p = SseParser::default();
        let out =
            p.feed("\u{feff}retry: 1500\nretry: x\ndata: a\n\ndata: never dispatched".as_bytes());
        assert_eq!(out, vec![ev("", "message", "a")]);
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
    }
}
