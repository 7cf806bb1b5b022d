//! The BBS's event streams as typed events: [`EventStream`] reads the SSE
//! body with the one [`SseParser`] and decodes each event's base64
//! protobuf payload, with the errors of Diego's `events.EventSource`.
//!
//! A broken connection ends the stream (after an error item) rather than
//! reconnecting behind the caller's back: the BBS numbers events per
//! connection and sends no history, so whoever resubscribes must also
//! resynchronise (as the route-emitter does).

use crate::sse::{SseEvent, SseParser};
use base64::Engine;
use bytes::Bytes;
use futures::Stream;
use models::events::{DecodeError, Event};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why an item of the stream is not an event (Diego's event source
/// errors, with its wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The payload is not base64 of the named protobuf event, or empty.
    #[error("invalid protobuf payload of type {event_type}: {reason}")]
    InvalidPayload { event_type: String, reason: String },
    /// An event name Diego does not know.
    #[error("unrecognized event type")]
    UnrecognizedEventType { event_type: String },
    /// The connection failed; the stream ends after this.
    #[error("raw event source error: {0}")]
    Source(String),
}

/// Decodes one SSE event into a BBS event (Diego's `parseRawEvent`).
pub fn decode(raw: &SseEvent) -> Result<Event, EventError> {
    let invalid = |reason: String| EventError::InvalidPayload {
        event_type: raw.event.clone(),
        reason,
    };
    let payload = match base64::engine::general_purpose::STANDARD.decode(raw.data.as_bytes()) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => return Err(invalid("event with no data".into())),
        Err(_) if raw.data.is_empty() => return Err(invalid("event with no data".into())),
        Err(e) => return Err(invalid(e.to_string())),
    };
    Event::decode(&raw.event, &payload).map_err(|e| match e {
        DecodeError::UnrecognizedEventType => EventError::UnrecognizedEventType {
            event_type: raw.event.clone(),
        },
        DecodeError::Payload(e) => invalid(e.to_string()),
    })
}

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// An open event subscription: a [`Stream`] of events, `None` once the
/// BBS closes the stream. Undecodable events are error items and the
/// stream goes on; a failed connection is a [`EventError::Source`] item
/// and the stream ends.
pub struct EventStream {
    body: Option<Body>,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
}

impl EventStream {
    /// Events from a stream of body chunks (`Err`: the connection failed).
    pub fn new(body: impl Stream<Item = Result<Bytes, String>> + Send + 'static) -> EventStream {
        EventStream {
            body: Some(Box::pin(body)),
            parser: SseParser::default(),
            pending: VecDeque::new(),
        }
    }

    pub(crate) fn from_response(resp: reqwest::Response) -> EventStream {
        use futures::TryStreamExt;
        EventStream::new(resp.bytes_stream().map_err(|e| e.to_string()))
    }

    /// The next item; `None` at the end of the stream.
    pub async fn next_event(&mut self) -> Option<Result<Event, EventError>> {
        futures::StreamExt::next(self).await
    }
}

impl Stream for EventStream {
    type Item = Result<Event, EventError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(raw) = this.pending.pop_front() {
                return Poll::Ready(Some(decode(&raw)));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    let mut out = Vec::new();
                    this.parser.feed_into(&bytes, &mut out);
                    this.pending.extend(out);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(EventError::Source(e))));
                }
                Poll::Ready(None) => {
                    this.body = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use prost::Message;

    fn wire(name: &str, payload: &[u8]) -> String {
        format!(
            "event: {name}\ndata: {}\n\n",
            base64::engine::general_purpose::STANDARD.encode(payload)
        )
    }

    #[tokio::test]
    async fn events_decode_and_bad_ones_are_items_not_the_end() {
        let task = models::TaskRemovedEvent {
            task: Some(models::Task {
                task_guid: "t".into(),
                ..Default::default()
            }),
        };
        let text = wire("task_removed", &task.encode_to_vec())
            + &wire("bogus", b"x")
            + "event: task_created\ndata: !!!\n\n"
            + "event: task_created\ndata:\n\n"
            + &wire("actual_lrp_crashed", &[0xff])
            + &wire("task_removed", &task.encode_to_vec());
        let chunks: Vec<Result<Bytes, String>> = text
            .as_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let items: Vec<_> = EventStream::new(futures::stream::iter(chunks))
            .collect()
            .await;
        assert_eq!(items.len(), 6);
        assert_eq!(items[0], Ok(Event::TaskRemoved(task.clone())));
        assert_eq!(
            items[1].as_ref().unwrap_err().to_string(),
            "unrecognized event type"
        );
        assert!(items[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("invalid protobuf payload of type task_created: "));
        assert_eq!(
            items[3].as_ref().unwrap_err().to_string(),
            "invalid protobuf payload of type task_created: event with no data"
        );
        assert!(items[4]
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("invalid protobuf payload of type actual_lrp_crashed: "));
        assert_eq!(items[5], Ok(Event::TaskRemoved(task)));
    }

    #[tokio::test]
    async fn a_broken_connection_ends_the_stream_after_saying_so() {
        let chunks: Vec<Result<Bytes, String>> = vec![
            Ok(Bytes::from_static(b"event: task_removed\n")),
            Err("connection reset".into()),
            Ok(Bytes::from_static(b"never read")),
        ];
        let items: Vec<_> = EventStream::new(futures::stream::iter(chunks))
            .collect()
            .await;
        assert_eq!(
            items,
            vec![Err(EventError::Source("connection reset".into()))]
        );
        assert_eq!(
            items[0].as_ref().unwrap_err().to_string(),
            "raw event source error: connection reset"
        );
    }
}
