//! A small BBS client for the load generator: protobuf over HTTP (Diego's
//! wire form) and SSE subscriptions, each call timed by the caller.

use anyhow::{bail, Context as _};
use bbs::events::sse::SseParser;
use bbs::events::Event;
use futures::StreamExt;
use prost::Message;
use std::time::Duration;

#[derive(Clone)]
pub struct BbsClient {
    http: reqwest::Client,
    base: String,
}

/// Responses with Diego's `error` field.
pub trait HasError {
    fn error(&self) -> Option<&models::Error>;
}

macro_rules! has_error {
    ($($t:ident),* $(,)?) => {$(
        impl HasError for models::$t {
            fn error(&self) -> Option<&models::Error> {
                self.error.as_ref()
            }
        }
    )*};
}

has_error!(
    ActualLrPsResponse,
    ActualLrpLifecycleResponse,
    DesiredLrPsResponse,
    DesiredLrpSchedulingInfosResponse,
    DesiredLrpLifecycleResponse,
    TasksResponse,
    CellsResponse,
);

impl BbsClient {
    pub fn new(base: &str) -> anyhow::Result<BbsClient> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(BbsClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// POSTs a protobuf request and decodes the response; a response
    /// carrying an error is an error.
    pub async fn call<Req: Message, Resp: Message + Default + HasError>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<Resp> {
        Ok(self.call_timing_decode(path, req).await?.0)
    }

    /// POSTs a protobuf request; a status other than 2xx is an error.
    async fn post<Req: Message>(&self, path: &str, req: &Req) -> anyhow::Result<reqwest::Response> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        if !resp.status().is_success() {
            bail!("POST {path}: HTTP {}", resp.status());
        }
        Ok(resp)
    }

    /// As `call`, also returning how long decoding the answer took (the
    /// client's share of a large answer's latency).
    pub async fn call_timing_decode<Req: Message, Resp: Message + Default + HasError>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<(Resp, std::time::Duration)> {
        let resp = self.post(path, req).await?;
        let bytes = resp.bytes().await?;
        let t = std::time::Instant::now();
        let decoded = Resp::decode(bytes.as_ref()).with_context(|| format!("decoding {path}"))?;
        let decoding = t.elapsed();
        if let Some(e) = decoded.error() {
            bail!("POST {path}: {} {}", e.r#type, e.message);
        }
        Ok((decoded, decoding))
    }

    /// As `call_timing_decode` for a list answer (`error = 1`, the items
    /// `= 2`), decoding each item as soon as its bytes have arrived, as a
    /// streaming client would: the answer is never held whole, and
    /// decoding overlaps the transfer instead of following it.
    pub async fn call_streaming_list<Req: Message, Item: Message + Default>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<(Vec<Item>, std::time::Duration)> {
        let resp = self.post(path, req).await?;
        let mut list = ListDecoder::default();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            list.feed(&chunk?)
                .with_context(|| format!("decoding {path}"))?;
        }
        list.finish().with_context(|| format!("decoding {path}"))
    }

    pub async fn ping(&self) -> bool {
        self.http
            .post(format!("{}/v1/ping", self.base))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }

    /// Subscribes to the LRP instance event stream (of one cell, or all
    /// when `cell_id` is empty) and calls `on_event` for each event until
    /// the stream ends; `on_subscribed` runs once the BBS has answered.
    pub async fn instance_events(
        &self,
        cell_id: &str,
        on_subscribed: impl FnOnce(),
        mut on_event: impl FnMut(Event),
    ) -> anyhow::Result<()> {
        let body = models::EventsByCellId {
            cell_id: cell_id.to_string(),
        }
        .encode_to_vec();
        let resp = self
            .http
            .post(format!("{}/v1/events/lrp_instances.r1", self.base))
            .body(body)
            .timeout(Duration::from_secs(24 * 3600))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("event stream: HTTP {}", resp.status());
        }
        on_subscribed();
        let mut stream = resp.bytes_stream();
        let mut parser = SseParser::default();
        while let Some(chunk) = stream.next().await {
            for raw in parser.feed(&chunk?) {
                match raw.decode() {
                    Ok(ev) => on_event(ev),
                    Err(e) => tracing::warn!(error = %e, "undecodable event"),
                }
            }
        }
        Ok(())
    }
}

/// Decodes a `{ Error error = 1; repeated Item items = 2; }` answer from
/// its chunks as they come.
struct ListDecoder<Item> {
    buf: Vec<u8>,
    at: usize,
    items: Vec<Item>,
    error: Option<models::Error>,
    decoding: std::time::Duration,
}

impl<Item> Default for ListDecoder<Item> {
    fn default() -> Self {
        ListDecoder {
            buf: Vec::new(),
            at: 0,
            items: Vec::new(),
            error: None,
            decoding: std::time::Duration::ZERO,
        }
    }
}

impl<Item: Message + Default> ListDecoder<Item> {
    fn feed(&mut self, chunk: &[u8]) -> anyhow::Result<()> {
        let t = std::time::Instant::now();
        // Keep only the unread tail: a partial field waiting for more bytes.
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(chunk);
        while let Some((field, start, end)) = next_field(&self.buf[self.at..])? {
            let body = &self.buf[self.at + start..self.at + end];
            match field {
                1 => self.error = Some(models::Error::decode(body)?),
                2 => self.items.push(Item::decode(body)?),
                other => bail!("unexpected field {other} in a list answer"),
            }
            self.at += end;
        }
        self.decoding += t.elapsed();
        Ok(())
    }

    fn finish(self) -> anyhow::Result<(Vec<Item>, std::time::Duration)> {
        if self.at != self.buf.len() {
            bail!("answer ends inside a field");
        }
        if let Some(e) = self.error {
            bail!("{} {}", e.r#type, e.message);
        }
        Ok((self.items, self.decoding))
    }
}

/// The next length-delimited field at the head of `b`: its number and the
/// range of its body, or None while its bytes have not all arrived.
fn next_field(b: &[u8]) -> anyhow::Result<Option<(u32, usize, usize)>> {
    let Some((key, n)) = varint(b)? else {
        return Ok(None);
    };
    if key & 7 != 2 {
        bail!("field {} is not length-delimited", key >> 3);
    }
    let Some((len, m)) = varint(&b[n..])? else {
        return Ok(None);
    };
    let start = n + m;
    let end = start + usize::try_from(len)?;
    Ok((end <= b.len()).then_some(((key >> 3) as u32, start, end)))
}

fn varint(b: &[u8]) -> anyhow::Result<Option<(u64, usize)>> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 {
        bail!("varint longer than 10 bytes");
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_decoder_decodes_an_answer_split_at_every_byte() {
        let answer = models::DesiredLrpSchedulingInfosResponse {
            error: None,
            desired_lrp_scheduling_infos: (0..300)
                .map(|i| crate::convergence::desired_lrp(i, 2).scheduling_info())
                .collect(),
        };
        let bytes = answer.encode_to_vec();
        for step in [1, 7, 4096, bytes.len()] {
            let mut d = ListDecoder::<models::DesiredLrpSchedulingInfo>::default();
            for chunk in bytes.chunks(step) {
                d.feed(chunk).unwrap();
            }
            let (items, _) = d.finish().unwrap();
            assert_eq!(
                items, answer.desired_lrp_scheduling_infos,
                "chunks of {step}"
            );
        }
    }

    #[test]
    fn list_decoder_reports_the_error_field_and_a_cut_answer() {
        let answer = models::DesiredLrpSchedulingInfosResponse {
            error: Some(models::Error {
                r#type: 5,
                message: "deadlock".into(),
            }),
            desired_lrp_scheduling_infos: vec![],
        };
        let mut d = ListDecoder::<models::DesiredLrpSchedulingInfo>::default();
        d.feed(&answer.encode_to_vec()).unwrap();
        assert!(d.finish().unwrap_err().to_string().contains("deadlock"));

        let whole = models::DesiredLrpSchedulingInfosResponse {
            error: None,
            desired_lrp_scheduling_infos: vec![
                crate::convergence::desired_lrp(1, 1).scheduling_info()
            ],
        }
        .encode_to_vec();
        let mut d = ListDecoder::<models::DesiredLrpSchedulingInfo>::default();
        d.feed(&whole[..whole.len() - 3]).unwrap();
        assert!(d.finish().is_err());
    }
}
