//! Building envelopes as Diego's executor and the router send them, their
//! JSON form (Log Cache's gateway: protobuf JSON, 64-bit numbers as
//! strings, payloads in base64) and `cf logs`' rendering of a log line.

use base64::Engine;
use models::loggregator::v2::{
    envelope::Message, log::Type, Counter, Envelope, Event, Gauge, GaugeValue, Log, Timer,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The tag naming where a line came from (`APP/PROC/WEB`, `STG`, `CELL`,
/// `RTR`, ...), as go-loggregator's `SendAppLog` sets it.
pub const SOURCE_TYPE: &str = "source_type";

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A log line of `source_id`'s instance `instance_id`; `tags` are the
/// instance's (app_name, organization_name, ...), `source_type` is added.
pub fn log(
    source_id: &str,
    instance_id: &str,
    source_type: &str,
    err: bool,
    payload: impl Into<Vec<u8>>,
    tags: &HashMap<String, String>,
) -> Envelope {
    let mut tags = tags.clone();
    tags.insert(SOURCE_TYPE.into(), source_type.into());
    Envelope {
        timestamp: now_ns(),
        source_id: source_id.into(),
        instance_id: instance_id.into(),
        tags,
        message: Some(Message::Log(Log {
            payload: payload.into(),
            r#type: if err { Type::Err } else { Type::Out } as i32,
        })),
        ..Default::default()
    }
}

/// A gauge envelope: `(name, value, unit)` metrics measured together.
pub fn gauge(
    source_id: &str,
    instance_id: &str,
    metrics: &[(&str, f64, &str)],
    tags: &HashMap<String, String>,
) -> Envelope {
    Envelope {
        timestamp: now_ns(),
        source_id: source_id.into(),
        instance_id: instance_id.into(),
        tags: tags.clone(),
        message: Some(Message::Gauge(Gauge {
            metrics: metrics
                .iter()
                .map(|(n, v, u)| {
                    (
                        n.to_string(),
                        GaugeValue {
                            unit: u.to_string(),
                            value: *v,
                        },
                    )
                })
                .collect(),
        })),
        ..Default::default()
    }
}

pub fn counter(
    source_id: &str,
    name: &str,
    delta: u64,
    total: u64,
    tags: &HashMap<String, String>,
) -> Envelope {
    Envelope {
        timestamp: now_ns(),
        source_id: source_id.into(),
        tags: tags.clone(),
        message: Some(Message::Counter(Counter {
            name: name.into(),
            delta,
            total,
        })),
        ..Default::default()
    }
}

pub fn source_type(env: &Envelope) -> &str {
    env.tags.get(SOURCE_TYPE).map_or("", String::as_str)
}

/// The kind's name in Log Cache's `envelope_types` filter.
pub fn kind(env: &Envelope) -> &'static str {
    match env.message {
        Some(Message::Log(_)) => "LOG",
        Some(Message::Counter(_)) => "COUNTER",
        Some(Message::Gauge(_)) => "GAUGE",
        Some(Message::Timer(_)) => "TIMER",
        Some(Message::Event(_)) => "EVENT",
        None => "",
    }
}

/// `cf logs`' form of a log line:
/// `2024-05-01T10:00:00.12+0000 [APP/PROC/WEB/0] OUT text`.
pub fn render_cf(env: &Envelope) -> Option<String> {
    let Some(Message::Log(log)) = &env.message else {
        return None;
    };
    let (date, time, frac) = utc(env.timestamp);
    let stream = if log.r#type == Type::Err as i32 {
        "ERR"
    } else {
        "OUT"
    };
    let instance = if env.instance_id.is_empty() {
        String::new()
    } else {
        format!("/{}", env.instance_id)
    };
    Some(format!(
        "{date}T{time}.{:02}+0000 [{}{instance}] {stream} {}",
        frac / 10_000_000,
        source_type(env),
        String::from_utf8_lossy(&log.payload).trim_end_matches(['\n', '\r'])
    ))
}

/// `(YYYY-MM-DD, HH:MM:SS, nanoseconds)` of Unix nanoseconds, in UTC.
pub fn utc(ns: i64) -> (String, String, u32) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
        frac,
    )
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Log Cache's JSON of an envelope.
pub fn to_json(env: &Envelope) -> Value {
    let mut o = Map::new();
    o.insert("timestamp".into(), json!(env.timestamp.to_string()));
    o.insert("source_id".into(), json!(env.source_id));
    o.insert("instance_id".into(), json!(env.instance_id));
    o.insert("tags".into(), json!(env.tags));
    let (key, body) = match &env.message {
        Some(Message::Log(l)) => (
            "log",
            json!({
                "payload": b64().encode(&l.payload),
                "type": if l.r#type == Type::Err as i32 { "ERR" } else { "OUT" },
            }),
        ),
        Some(Message::Counter(c)) => (
            "counter",
            json!({"name": c.name, "delta": c.delta.to_string(), "total": c.total.to_string()}),
        ),
        Some(Message::Gauge(g)) => (
            "gauge",
            json!({"metrics": g.metrics.iter().map(|(k, v)| {
                (k.clone(), json!({"unit": v.unit, "value": v.value}))
            }).collect::<Map<_, _>>()}),
        ),
        Some(Message::Timer(t)) => (
            "timer",
            json!({"name": t.name, "start": t.start.to_string(), "stop": t.stop.to_string()}),
        ),
        Some(Message::Event(e)) => ("event", json!({"title": e.title, "body": e.body})),
        None => return Value::Object(o),
    };
    o.insert(key.into(), body);
    Value::Object(o)
}

fn num<T: std::str::FromStr + TryFrom<i64> + TryFrom<u64>>(v: &Value) -> Option<T> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n
            .as_i64()
            .and_then(|i| T::try_from(i).ok())
            .or_else(|| n.as_u64().and_then(|u| T::try_from(u).ok())),
        _ => None,
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// An envelope from Log Cache's JSON (what [`to_json`] writes).
pub fn from_json(v: &Value) -> anyhow::Result<Envelope> {
    let mut env = Envelope {
        timestamp: v.get("timestamp").and_then(num).unwrap_or(0),
        source_id: text(v, "source_id"),
        instance_id: text(v, "instance_id"),
        tags: v
            .get("tags")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        ..Default::default()
    };
    env.message = if let Some(l) = v.get("log") {
        Some(Message::Log(Log {
            payload: b64()
                .decode(l.get("payload").and_then(Value::as_str).unwrap_or(""))
                .map_err(|e| anyhow::anyhow!("invalid log payload: {e}"))?,
            r#type: if text(l, "type") == "ERR" {
                Type::Err
            } else {
                Type::Out
            } as i32,
        }))
    } else if let Some(c) = v.get("counter") {
        Some(Message::Counter(Counter {
            name: text(c, "name"),
            delta: c.get("delta").and_then(num).unwrap_or(0),
            total: c.get("total").and_then(num).unwrap_or(0),
        }))
    } else if let Some(g) = v.get("gauge") {
        Some(Message::Gauge(Gauge {
            metrics: g
                .get("metrics")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                GaugeValue {
                                    unit: text(v, "unit"),
                                    value: v.get("value").and_then(Value::as_f64).unwrap_or(0.0),
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }))
    } else if let Some(t) = v.get("timer") {
        Some(Message::Timer(Timer {
            name: text(t, "name"),
            start: t.get("start").and_then(num).unwrap_or(0),
            stop: t.get("stop").and_then(num).unwrap_or(0),
        }))
    } else {
        v.get("event").map(|e| {
            Message::Event(Event {
                title: text(e, "title"),
                body: text(e, "body"),
            })
        })
    };
    Ok(env)
}

/// `{"batch": [...]}`, the JSON of an `EnvelopeBatch`.
pub fn batch_to_json<'a>(envs: impl IntoIterator<Item = &'a Envelope>) -> Value {
    json!({ "batch": envs.into_iter().map(to_json).collect::<Vec<_>>() })
}

pub fn batch_from_json(v: &Value) -> anyhow::Result<Vec<Envelope>> {
    v.get("batch")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(from_json).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc(0).0, "1970-01-01");
        // 2024-02-29T23:59:59.5Z
        let (d, t, f) = utc(1_709_251_199_500_000_000);
        assert_eq!(
            (d.as_str(), t.as_str(), f),
            ("2024-02-29", "23:59:59", 500_000_000)
        );
    }

    #[test]
    fn json_round_trips_every_kind() {
        let tags = HashMap::from([("app_name".to_string(), "hello".to_string())]);
        let envs = [
            log(
                "app",
                "0",
                "APP/PROC/WEB",
                true,
                b"\xffboom".to_vec(),
                &tags,
            ),
            gauge("app", "1", &[("cpu", 12.5, "percentage")], &tags),
            counter("cell", "dropped", 3, 10, &tags),
        ];
        for e in &envs {
            assert_eq!(&from_json(&to_json(e)).unwrap(), e);
        }
        let j = to_json(&envs[0]);
        assert_eq!(j["log"]["type"], "ERR");
        assert_eq!(j["tags"]["source_type"], "APP/PROC/WEB");
        assert!(j["timestamp"].is_string(), "64-bit numbers are strings");
        assert_eq!(batch_from_json(&batch_to_json(&envs)).unwrap(), envs);
    }

    #[test]
    fn log_lines_render_as_cf_logs_renders_them() {
        let mut e = log(
            "app",
            "3",
            "APP/PROC/WEB",
            false,
            "listening\n",
            &HashMap::new(),
        );
        e.timestamp = 1_709_251_199_123_456_789;
        assert_eq!(
            render_cf(&e).unwrap(),
            "2024-02-29T23:59:59.12+0000 [APP/PROC/WEB/3] OUT listening"
        );
        assert!(render_cf(&gauge("a", "0", &[], &HashMap::new())).is_none());
    }
}
