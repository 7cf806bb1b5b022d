//! Diego's BBS events as one type: the event streams' names
//! ([`Event::event_type`], from [`DiegoEvent`]) and payloads (the protobuf
//! event messages). The bbs writes them, the bbs client reads them.

use crate::json::DiegoEvent;
use crate::pb::*;
use prost::Message;

macro_rules! events {
    ($($variant:ident($msg:ident) => $konst:ident),* $(,)?) => {
        $(pub const $konst: &str = <$msg as DiegoEvent>::EVENT_TYPE;)*

        /// One BBS event: its SSE name is [`Event::event_type`], its SSE
        /// data the base64 of [`Event::encode_payload`].
        /// Events travel as `Arc<Event>`, so the size of the biggest variant is harmless.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($variant($msg),)*
        }

        impl Event {
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $konst,)*
                }
            }

            /// The protobuf bytes of the event message.
            pub fn encode_payload(&self) -> Vec<u8> {
                match self {
                    $(Event::$variant(e) => e.encode_to_vec(),)*
                }
            }

            /// An event from its SSE name and protobuf payload.
            pub fn decode(event_type: &str, payload: &[u8]) -> Result<Event, DecodeError> {
                match event_type {
                    $($konst => Ok(Event::$variant($msg::decode(payload)?)),)*
                    _ => Err(DecodeError::UnrecognizedEventType),
                }
            }
        }
    };
}

events!(
    DesiredLrpCreated(DesiredLrpCreatedEvent) => DESIRED_LRP_CREATED,
    DesiredLrpChanged(DesiredLrpChangedEvent) => DESIRED_LRP_CHANGED,
    DesiredLrpRemoved(DesiredLrpRemovedEvent) => DESIRED_LRP_REMOVED,
    ActualLrpCreated(ActualLrpCreatedEvent) => ACTUAL_LRP_CREATED,
    ActualLrpChanged(ActualLrpChangedEvent) => ACTUAL_LRP_CHANGED,
    ActualLrpRemoved(ActualLrpRemovedEvent) => ACTUAL_LRP_REMOVED,
    ActualLrpCrashed(ActualLrpCrashedEvent) => ACTUAL_LRP_CRASHED,
    ActualLrpInstanceCreated(ActualLrpInstanceCreatedEvent) => ACTUAL_LRP_INSTANCE_CREATED,
    ActualLrpInstanceChanged(ActualLrpInstanceChangedEvent) => ACTUAL_LRP_INSTANCE_CHANGED,
    ActualLrpInstanceRemoved(ActualLrpInstanceRemovedEvent) => ACTUAL_LRP_INSTANCE_REMOVED,
    TaskCreated(TaskCreatedEvent) => TASK_CREATED,
    TaskChanged(TaskChangedEvent) => TASK_CHANGED,
    TaskRemoved(TaskRemovedEvent) => TASK_REMOVED,
);

/// Why bytes are not an event (Diego's `ErrUnrecognizedEventType`, or the
/// protobuf decoder's complaint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unrecognized event type")]
    UnrecognizedEventType,
    #[error("{0}")]
    Payload(#[from] prost::DecodeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_by_name() {
        let e = Event::TaskCreated(TaskCreatedEvent {
            task: Some(Task {
                task_guid: "g".into(),
                ..Default::default()
            }),
        });
        assert_eq!(e.event_type(), "task_created");
        let back = Event::decode(e.event_type(), &e.encode_payload()).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            Event::decode("bogus", &[]).unwrap_err().to_string(),
            "unrecognized event type"
        );
        assert!(matches!(
            Event::decode(ACTUAL_LRP_CRASHED, &[0xff]),
            Err(DecodeError::Payload(_))
        ));
    }
}
