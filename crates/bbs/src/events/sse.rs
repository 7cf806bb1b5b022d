//! Server-sent event streams as Diego's BBS writes them: per event
//! `id: <n>` (a per-connection counter from 0), `event: <type>`,
//! `data: <base64 of the protobuf payload>`, then a blank line. The data of
//! an event is encoded once for all the streams that write it
//! ([`Published::sse_data`]). Clients read them with `bbs_client`'s parser.

use super::{EventReceiver, Published};
use bytes::Bytes;
use futures::Stream;
use std::sync::Arc;

/// One event in SSE wire form.
pub fn format_event(id: u64, event: &Published) -> String {
    format!(
        "id: {id}\nevent: {}\ndata: {}\n\n",
        event.event_type(),
        event.sse_data()
    )
}

/// What a stream does with each event before writing it: None skips it;
/// an unchanged event is passed on as the same `Arc` (sharing its encoding).
pub type EventMap = Box<dyn Fn(&Arc<Published>) -> Option<Arc<Published>> + Send + Sync>;

struct State {
    sources: Vec<(EventReceiver, EventMap)>,
    next_id: u64,
}

async fn next_from(sources: &mut [(EventReceiver, EventMap)]) -> Option<(Arc<Published>, usize)> {
    let futs = sources
        .iter_mut()
        .enumerate()
        .map(|(i, (rx, _))| Box::pin(async move { (rx.recv().await, i) }));
    let ((ev, i), _, _) = futures::future::select_all(futs).await;
    ev.map(|e| (e, i))
}

/// Merges subscriptions into one SSE byte stream. The stream ends as soon
/// as any subscription ends (hub closed, or this subscriber dropped as too
/// slow), as Diego closes the connection on a source error.
pub fn event_stream(
    sources: Vec<(EventReceiver, EventMap)>,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let state = State {
        sources,
        next_id: 0,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.sources.is_empty() {
            return None;
        }
        loop {
            let (ev, i) = next_from(&mut st.sources).await?;
            let Some(ev) = (st.sources[i].1)(&ev) else {
                continue;
            };
            let chunk = format_event(st.next_id, &ev);
            st.next_id += 1;
            return Some((Ok(Bytes::from(chunk)), st));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, Hub};
    use futures::StreamExt;

    #[tokio::test]
    async fn stream_numbers_events_and_parses_back() {
        let hub = Hub::new("t");
        let rx = hub.subscribe().unwrap();
        let stream = event_stream(vec![(rx, Box::new(|e: &Arc<Published>| Some(e.clone())))]);
        let ev = Event::TaskRemoved(models::TaskRemovedEvent {
            task: Some(models::Task {
                task_guid: "x".into(),
                ..Default::default()
            }),
        });
        hub.emit(ev.clone());
        hub.emit(ev.clone());
        hub.close();
        let chunks: Vec<_> = stream.collect().await;
        let mut p = bbs_client::sse::SseParser::default();
        let mut evs = vec![];
        for c in chunks {
            evs.extend(p.feed(&c.unwrap()));
        }
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].id, "0");
        assert_eq!(evs[1].id, "1");
        assert_eq!(evs[1].event, "task_removed");
        assert_eq!(bbs_client::events::decode(&evs[1]).unwrap(), ev);
    }
}
