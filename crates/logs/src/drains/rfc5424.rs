//! Envelopes as RFC 5424 syslog messages, the way Loggregator's syslog
//! drains write them: priority 14 (user.info) for stdout and metrics, 11
//! (user.err) for stderr; hostname `org.space.app` from the tags (else
//! the component's); APP-NAME the source id; PROCID `[SOURCE_TYPE/INDEX]`
//! (spaces as `-`); the tags as structured data `tags@47450` (Cloud
//! Foundry's enterprise number), metrics as `gauge@47450` /
//! `counter@47450`. TCP transports frame each with its length (RFC 6587
//! octet counting).

use logs_client::envelope::{source_type, utc};
use logs_client::pb::{envelope::Message, log::Type, Envelope};

/// One envelope's messages (a gauge makes one per metric), each ending in
/// a newline.
pub fn messages(env: &Envelope, default_hostname: &str) -> Vec<Vec<u8>> {
    let host = hostname(env, default_hostname);
    let app = nil(&env.source_id);
    match &env.message {
        Some(Message::Log(l)) => {
            let pri = if l.r#type == Type::Err as i32 { 11 } else { 14 };
            let procid = format!(
                "[{}/{}]",
                source_type(env)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("-"),
                env.instance_id
            );
            let mut msg = header(pri, env.timestamp, &host, &app, &procid);
            msg.push(' ');
            msg.push_str(&tags_sd(env).unwrap_or_else(|| "-".into()));
            msg.push(' ');
            let mut out = msg.into_bytes();
            out.extend(l.payload.iter().filter(|b| **b != 0));
            if out.last() != Some(&b'\n') {
                out.push(b'\n');
            }
            vec![out]
        }
        Some(Message::Gauge(g)) => {
            let mut names: Vec<_> = g.metrics.keys().collect();
            names.sort();
            names
                .into_iter()
                .map(|name| {
                    let v = &g.metrics[name];
                    metric(
                        env,
                        &host,
                        &app,
                        &format!(
                            "[gauge@47450 name=\"{}\" value=\"{}\" unit=\"{}\"]",
                            escape(name),
                            v.value,
                            escape(&v.unit)
                        ),
                    )
                })
                .collect()
        }
        Some(Message::Counter(c)) => vec![metric(
            env,
            &host,
            &app,
            &format!(
                "[counter@47450 name=\"{}\" total=\"{}\" delta=\"{}\"]",
                escape(&c.name),
                c.total,
                c.delta
            ),
        )],
        _ => Vec::new(),
    }
}

/// `LEN MSG`: RFC 6587 octet counting, as syslog over TCP/TLS carries it.
pub fn octet_counted(msg: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg);
    out
}

fn metric(env: &Envelope, host: &str, app: &str, sd: &str) -> Vec<u8> {
    let procid = format!("[{}]", env.instance_id);
    let mut msg = header(14, env.timestamp, host, app, &procid);
    msg.push(' ');
    msg.push_str(sd);
    if let Some(tags) = tags_sd(env) {
        msg.push_str(&tags);
    }
    msg.push_str(" \n");
    msg.into_bytes()
}

fn header(pri: u8, ts: i64, host: &str, app: &str, procid: &str) -> String {
    format!("<{pri}>1 {} {host} {app} {procid} -", timestamp(ts))
}

/// RFC 3339 with microseconds, trailing zeros trimmed (Go's
/// `2006-01-02T15:04:05.999999-07:00` in UTC).
pub fn timestamp(ns: i64) -> String {
    let (d, t, frac) = utc(ns);
    let micros = format!("{:06}", frac / 1000);
    let micros = micros.trim_end_matches('0');
    if micros.is_empty() {
        format!("{d}T{t}+00:00")
    } else {
        format!("{d}T{t}.{micros}+00:00")
    }
}

fn hostname(env: &Envelope, default: &str) -> String {
    let (org, space, app) = (
        env.tags.get("organization_name"),
        env.tags.get("space_name"),
        env.tags.get("app_name"),
    );
    if org.is_none() && space.is_none() && app.is_none() {
        return nil(default);
    }
    let part = |s: Option<&String>| {
        let s: String = s
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join("-"))
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let s = s.trim_end_matches('-');
        s[..s.len().min(63)].to_string()
    };
    format!("{}.{}.{}", part(org), part(space), part(app))
}

fn tags_sd(env: &Envelope) -> Option<String> {
    if env.tags.is_empty() {
        return None;
    }
    let mut keys: Vec<_> = env.tags.keys().collect();
    keys.sort();
    let params: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{}=\"{}\"", sd_name(k), escape(&env.tags[k])))
        .collect();
    Some(format!("[tags@47450 {}]", params.join(" ")))
}

/// SD-NAMEs are printable ASCII without `= ] "` and space, at most 32.
fn sd_name(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"'))
        .take(32)
        .collect()
}

/// PARAM-VALUE escapes `"`, `\` and `]`.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

fn nil(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logs_client::envelope::{gauge, log};
    use std::collections::HashMap;

    #[test]
    fn log_lines_become_cf_syslog_messages() {
        let tags = HashMap::from([
            ("app_name".to_string(), "my app".to_string()),
            ("organization_name".to_string(), "org".to_string()),
            ("space_name".to_string(), "sp@ce".to_string()),
        ]);
        let mut e = log("app-guid", "2", "APP/PROC/WEB", true, "boom\0 \"x\"", &tags);
        e.timestamp = 12_345_000;
        let m = String::from_utf8(messages(&e, "logs").remove(0)).unwrap();
        assert_eq!(
            m,
            "<11>1 1970-01-01T00:00:00.012345+00:00 org.spce.my-app app-guid [APP/PROC/WEB/2] - \
             [tags@47450 app_name=\"my app\" organization_name=\"org\" source_type=\"APP/PROC/WEB\" \
             space_name=\"sp@ce\"] boom \"x\"\n"
        );
        assert!(octet_counted(m.as_bytes()).starts_with(format!("{} <11>", m.len()).as_bytes()));
    }

    #[test]
    fn gauges_become_one_message_per_metric() {
        let mut e = gauge(
            "app",
            "1",
            &[("memory", 5423.0, "bytes"), ("cpu", 0.23, "percentage")],
            &HashMap::new(),
        );
        e.timestamp = 12_345_000;
        let m: Vec<String> = messages(&e, "host")
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        assert_eq!(
            m[0],
            "<14>1 1970-01-01T00:00:00.012345+00:00 host app [1] - [gauge@47450 name=\"cpu\" value=\"0.23\" unit=\"percentage\"] \n"
        );
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(timestamp(1_000_000_000), "1970-01-01T00:00:01+00:00");
    }
}
