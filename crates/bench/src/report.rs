//! Timing samples and the result table.

use std::time::Duration;

/// The timings of one operation.
#[derive(Debug, Clone)]
pub struct Measure {
    pub operation: String,
    pub samples: Vec<Duration>,
    /// Rows read or work items found, per call (mean when it varies).
    pub rows: String,
}

impl Measure {
    pub fn new(operation: impl Into<String>) -> Measure {
        Measure {
            operation: operation.into(),
            samples: Vec::new(),
            rows: String::new(),
        }
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut s = self.samples.clone();
        s.sort();
        s
    }

    pub fn median(&self) -> Duration {
        percentile(&self.sorted(), 50.0)
    }

    pub fn p99(&self) -> Duration {
        percentile(&self.sorted(), 99.0)
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
    }
}

/// The table: operation, count, median, p99, max, rows.
pub fn table(measures: &[Measure]) -> String {
    let header = ["operation", "count", "median", "p99", "max", "rows"];
    let rows: Vec<[String; 6]> = measures
        .iter()
        .map(|m| {
            [
                m.operation.clone(),
                m.samples.len().to_string(),
                fmt_duration(m.median()),
                fmt_duration(m.p99()),
                fmt_duration(m.max()),
                m.rows.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i == 0 || i == 5 {
                s.push_str(&format!(" {c}{} |", " ".repeat(pad)));
            } else {
                s.push_str(&format!(" {}{c} |", " ".repeat(pad)));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header.map(String::from));
    let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&sep).replace(' ', "-"));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

/// A field of /proc/self/status in KiB (VmHWM: peak RSS, VmRSS: current).
pub fn proc_status_kib(field: &str) -> Option<u64> {
    proc_status_kib_of("self", field)
}

/// A field of /proc/<pid>/status in KiB.
pub fn proc_status_kib_of(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&s[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn table_has_a_row_per_measure() {
        let mut m = Measure::new("op");
        m.samples = vec![Duration::from_millis(3), Duration::from_millis(1)];
        m.rows = "7".into();
        let t = table(&[m]);
        assert_eq!(t.lines().count(), 3);
        assert!(t.contains("| op "));
        assert!(t.contains("3.0 ms"));
    }

    #[test]
    fn reads_peak_rss() {
        assert!(proc_status_kib("VmHWM").unwrap_or(0) > 0);
    }
}
