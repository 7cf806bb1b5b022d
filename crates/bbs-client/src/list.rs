//! Decoding a list answer (`{ Error error = 1; repeated Item items = 2; }`)
//! item by item as its bytes arrive, so a large answer (every scheduling
//! info, as nsync reads them) is never held whole and decoding overlaps
//! the transfer.

use crate::error::Error;
use models::ErrorType;
use prost::Message;
use std::time::{Duration, Instant};

/// The incremental decoder.
pub struct ListDecoder<Item> {
    buf: Vec<u8>,
    at: usize,
    items: Vec<Item>,
    error: Option<models::Error>,
    decoding: Duration,
}

impl<Item> Default for ListDecoder<Item> {
    fn default() -> Self {
        ListDecoder {
            buf: Vec::new(),
            at: 0,
            items: Vec::new(),
            error: None,
            decoding: Duration::ZERO,
        }
    }
}

fn malformed(why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorType::InvalidProtobufMessage,
        format!("failed to unmarshal proto: {why}"),
    )
}

impl<Item: Message + Default> ListDecoder<Item> {
    /// Decodes every whole field `chunk` completes.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let t = Instant::now();
        // Keep only the unread tail: a partial field waiting for more bytes.
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(chunk);
        while let Some((field, start, end)) = next_field(&self.buf[self.at..])? {
            let body = &self.buf[self.at + start..self.at + end];
            match field {
                1 => self.error = Some(models::Error::decode(body).map_err(malformed)?),
                2 => self.items.push(Item::decode(body).map_err(malformed)?),
                other => {
                    return Err(malformed(format!(
                        "unexpected field {other} in a list answer"
                    )))
                }
            }
            self.at += end;
        }
        self.decoding += t.elapsed();
        Ok(())
    }

    /// The items (or the answer's error) and the time spent decoding.
    pub fn finish(self) -> Result<(Vec<Item>, Duration), Error> {
        if self.at != self.buf.len() {
            return Err(malformed("answer ends inside a field"));
        }
        if let Some(e) = self.error {
            return Err(Error::Bbs(e));
        }
        Ok((self.items, self.decoding))
    }
}

/// The next length-delimited field at the head of `b`: its number and the
/// range of its body, or None while its bytes have not all arrived.
fn next_field(b: &[u8]) -> Result<Option<(u32, usize, usize)>, Error> {
    let Some((key, n)) = varint(b)? else {
        return Ok(None);
    };
    if key & 7 != 2 {
        return Err(malformed(format!(
            "field {} is not length-delimited",
            key >> 3
        )));
    }
    let Some((len, m)) = varint(&b[n..])? else {
        return Ok(None);
    };
    let start = n + m;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .ok_or_else(|| malformed("field length overflows"))?;
    Ok((end <= b.len()).then_some(((key >> 3) as u32, start, end)))
}

fn varint(b: &[u8]) -> Result<Option<(u64, usize)>, Error> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 {
        return Err(malformed("varint longer than 10 bytes"));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(i: usize) -> models::DesiredLrpSchedulingInfo {
        models::DesiredLrpSchedulingInfo {
            desired_lrp_key: Some(models::DesiredLrpKey {
                process_guid: format!("pg-{i}"),
                domain: "d".into(),
                log_guid: "l".into(),
            }),
            instances: i as i32,
            annotation: "x".repeat(i % 200),
            ..Default::default()
        }
    }

    #[test]
    fn decodes_an_answer_split_at_every_byte() {
        let answer = models::DesiredLrpSchedulingInfosResponse {
            error: None,
            desired_lrp_scheduling_infos: (0..300).map(info).collect(),
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
    fn reports_the_error_field_and_a_cut_answer() {
        let answer = models::DesiredLrpSchedulingInfosResponse {
            error: Some(models::Error {
                r#type: ErrorType::Deadlock as i32,
                message: "deadlock".into(),
            }),
            desired_lrp_scheduling_infos: vec![],
        };
        let mut d = ListDecoder::<models::DesiredLrpSchedulingInfo>::default();
        d.feed(&answer.encode_to_vec()).unwrap();
        let e = d.finish().unwrap_err();
        assert!(e.is(ErrorType::Deadlock), "{e:?}");

        let whole = models::DesiredLrpSchedulingInfosResponse {
            error: None,
            desired_lrp_scheduling_infos: vec![info(1)],
        }
        .encode_to_vec();
        let mut d = ListDecoder::<models::DesiredLrpSchedulingInfo>::default();
        d.feed(&whole[..whole.len() - 3]).unwrap();
        assert!(d
            .finish()
            .unwrap_err()
            .is(ErrorType::InvalidProtobufMessage));
    }
}
