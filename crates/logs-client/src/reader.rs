//! Reading envelopes back from the log component: an app's recent
//! envelopes (Log Cache's `GET /api/v1/read/:source_id`) and a live
//! stream of new ones (the RLP gateway's `GET /v2/read?source_id=..`,
//! server-sent events of envelope batches).

use crate::envelope::{batch_from_json, from_json};
use crate::pb::Envelope;
use anyhow::Context;
use futures::{Stream, StreamExt};

#[derive(Clone)]
pub struct Reader {
    base: String,
    http: reqwest::Client,
}

/// Which envelopes a read returns.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// At most this many, the newest (Log Cache: 1000 at most per page).
    pub limit: Option<usize>,
    /// Only envelopes at or after this Unix-nanosecond time.
    pub start_time: Option<i64>,
    /// `LOG`, `GAUGE`, `COUNTER`, ...; empty: all.
    pub envelope_types: Vec<String>,
}

impl Reader {
    /// `base`: the component's API, e.g. `http://127.0.0.1:8083`.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http: cfhttp::Config::default().streaming().client()?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The source's recent envelopes, oldest first.
    pub async fn recent(
        &self,
        source_id: &str,
        opts: &ReadOptions,
    ) -> anyhow::Result<Vec<Envelope>> {
        let mut q: Vec<(&str, String)> = vec![];
        if let Some(l) = opts.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(t) = opts.start_time {
            q.push(("start_time", t.to_string()));
        }
        for t in &opts.envelope_types {
            q.push(("envelope_types", t.clone()));
        }
        let url = self.url(&format!("/api/v1/read/{source_id}"));
        let resp = self
            .http
            .get(&url)
            .query(&q)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(cfhttp::describe(&e, &url)))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .context("reading the log store's answer")?;
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).context("the log store's answer is not JSON")?;
        anyhow::ensure!(status.is_success(), "log store: {status}: {body}");
        batch_from_json(&body["envelopes"])
    }

    /// New envelopes of `source_id` as they arrive (of the given kinds:
    /// `log`, `gauge`, `counter`; empty: all).
    pub async fn tail(
        &self,
        source_id: &str,
        kinds: &[&str],
    ) -> anyhow::Result<impl Stream<Item = anyhow::Result<Envelope>>> {
        let mut url = format!("{}?source_id={source_id}", self.url("/v2/read"));
        for k in kinds {
            url.push('&');
            url.push_str(k);
        }
        let resp = self
            .http
            .get(&url)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(cfhttp::describe(&e, &url)))?;
        anyhow::ensure!(resp.status().is_success(), "log stream: {}", resp.status());
        let bytes = resp.bytes_stream();
        Ok(sse_envelopes(bytes))
    }
}

/// Splits server-sent events into the envelopes of their `data:` batches.
fn sse_envelopes(
    bytes: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
) -> impl Stream<Item = anyhow::Result<Envelope>> {
    futures::stream::unfold(
        (bytes, Vec::<u8>::new(), std::collections::VecDeque::new()),
        |(mut bytes, mut buf, mut ready)| async move {
            loop {
                if let Some(e) = ready.pop_front() {
                    return Some((e, (bytes, buf, ready)));
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => return Some((Err(e.into()), (bytes, buf, ready))),
                    None => return None,
                }
                while let Some(end) = find(&buf, b"\n\n") {
                    let event: Vec<u8> = buf.drain(..end + 2).collect();
                    for line in String::from_utf8_lossy(&event).lines() {
                        let Some(data) = line.strip_prefix("data:") else {
                            continue;
                        };
                        match serde_json::from_str::<serde_json::Value>(data.trim()) {
                            Ok(v) if v.get("batch").is_some() => match batch_from_json(&v) {
                                Ok(envs) => ready.extend(envs.into_iter().map(Ok)),
                                Err(e) => ready.push_back(Err(e)),
                            },
                            Ok(v) => ready.push_back(from_json(&v)),
                            Err(e) => ready.push_back(Err(e.into())),
                        }
                    }
                }
            }
        },
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
