//! List answers sent as they are produced, so that no list is held whole
//! twice (records and their encoding) and large ones never whole at all.
//!
//! Every list response of Diego's is `{ Error error = 1; repeated T x = 2; }`
//! and a success leaves `error` unset, so its encoding is the elements of
//! field 2, each as key + length + bytes, one after the other: exactly
//! what prost writes for the whole message. Elements can therefore be
//! encoded and sent in pieces with the same bytes on the wire.
//!
//! Paged lists read their first page before answering: a failure there
//! is the usual error response. A failure after the first byte cannot be
//! an error response any more; the body is aborted (the connection closes
//! before the end of the chunked body) so that Diego's client gets a read
//! error, never a silently short list.

use super::{proto_bytes, App, ProtoResponse};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use models::BbsError;
use prost::Message;
use std::future::Future;
use std::sync::Arc;

/// The repeated field every list response carries its elements in.
pub(crate) const LIST_FIELD: u32 = 2;

/// Pieces of about this size are handed to the connection.
const CHUNK_BYTES: usize = 256 * 1024;

/// Desired LRPs read per page (about 5 KB each in Cloud Controller's recipe).
pub(crate) const DESIRED_LRPS_PAGE: usize = 200;
/// Tasks read per page.
pub(crate) const TASKS_PAGE: usize = 500;

/// Appends `m` as one element of the list field.
pub(crate) fn encode_item<M: Message>(m: &M, buf: &mut Vec<u8>) {
    prost::encoding::message::encode(LIST_FIELD, m, buf);
}

fn chunked(body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    resp
}

/// A list answer from records in memory: encoded piece by piece as the
/// connection takes them, each record dropped once encoded. A list that
/// fits one piece goes out whole, with its length, as before.
pub(crate) fn list<M, T>(items: Vec<T>) -> Response
where
    M: Message,
    T: std::borrow::Borrow<M> + Send + 'static,
{
    let mut items = items.into_iter();
    let first = next_chunk::<M, T>(&mut items);
    if items.as_slice().is_empty() {
        return proto_bytes(first);
    }
    let rest = futures::stream::iter(std::iter::from_fn(move || {
        (!items.as_slice().is_empty())
            .then(|| Ok::<_, std::convert::Infallible>(next_chunk::<M, T>(&mut items)))
    }));
    let first = futures::stream::once(async move { Ok(first) });
    chunked(Body::from_stream(futures::StreamExt::chain(first, rest)))
}

fn next_chunk<M: Message, T: std::borrow::Borrow<M>>(items: &mut std::vec::IntoIter<T>) -> Bytes {
    let mut buf = Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4);
    for m in items.by_ref() {
        encode_item::<M>(m.borrow(), &mut buf);
        if buf.len() >= CHUNK_BYTES {
            break;
        }
    }
    Bytes::from(buf)
}

/// One encoded page and the cursor of the next (None: the last page).
pub(crate) type EncodedPage = (Vec<u8>, Option<String>);

/// A list answer read page by page: `page(cursor)` reads and encodes the
/// page after `cursor`. The next page is read while the previous one is
/// being sent (one page in flight: memory stays bounded by the page size
/// whatever the list's length).
pub(crate) async fn paged<Resp, F, Fut>(app: &Arc<App>, mut page: F) -> Response
where
    Resp: ProtoResponse,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<EncodedPage, BbsError>> + Send + 'static,
{
    let (first, mut cursor) = match page(None).await {
        Ok(p) => p,
        Err(e) => return app.reply::<Resp>(Err(e)),
    };
    if cursor.is_none() {
        return proto_bytes(first);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let app = app.clone();
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        while let Some(after) = cursor.take() {
            match page(Some(after)).await {
                Ok((bytes, next)) => {
                    if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return; // the client went away
                    }
                    cursor = next;
                }
                Err(e) => {
                    let e = app.report(e);
                    tracing::error!(error = ?e, "list failed after its first page: aborting the answer");
                    let _ = tx.send(Err(std::io::Error::other(e.message))).await;
                    return;
                }
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    chunked(Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use models::{DesiredLrpSchedulingInfo, DesiredLrpSchedulingInfosResponse};

    fn info(i: usize) -> DesiredLrpSchedulingInfo {
        DesiredLrpSchedulingInfo {
            annotation: format!("{i}-{}", "x".repeat(i % 700)),
            instances: i as i32,
            ..Default::default()
        }
    }

    async fn body(resp: Response) -> (Option<String>, Vec<u8>) {
        let len = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (len, bytes.to_vec())
    }

    #[tokio::test]
    async fn a_list_in_pieces_has_the_bytes_of_the_whole_message() {
        for n in [0, 1, 10, 3000] {
            let items: Vec<_> = (0..n).map(info).collect();
            let whole = DesiredLrpSchedulingInfosResponse {
                desired_lrp_scheduling_infos: items.clone(),
                error: None,
            }
            .encode_to_vec();
            let shared: Vec<Arc<DesiredLrpSchedulingInfo>> =
                items.iter().cloned().map(Arc::new).collect();
            let (len, bytes) = body(list::<DesiredLrpSchedulingInfo, _>(shared)).await;
            assert_eq!(bytes, whole, "{n} items");
            // Small lists keep their length header; long ones are chunked.
            assert_eq!(len.is_some(), whole.len() < CHUNK_BYTES, "{n} items");
        }
    }
}
