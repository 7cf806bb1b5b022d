//! Sizes as cf takes them: `256M`, `256MB`, `1G`, `1GB`, or a number of
//! MB; and as it prints them (`24.5M`, `1G`).

/// A byte count as cf prints one (its `bytefmt.ByteSize`): the largest
/// unit it reaches, one decimal, none when it is `.0`.
pub fn byte_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    if bytes == 0 {
        return "0B".into();
    }
    let (div, unit) = UNITS
        .iter()
        .find(|(d, _)| bytes >= *d)
        .copied()
        .unwrap_or((1, "B"));
    let v = format!("{:.1}", bytes as f64 / div as f64);
    format!("{}{unit}", v.strip_suffix(".0").unwrap_or(&v))
}

pub fn megabytes(what: &str, s: &str) -> anyhow::Result<i32> {
    let t = s.trim().to_ascii_uppercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("GB").or_else(|| t.strip_suffix('G')) {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix("MB").or_else(|| t.strip_suffix('M')) {
        (n, 1)
    } else {
        (t.as_str(), 1)
    };
    let n: i64 = num
        .trim()
        .parse()
        .ok()
        .filter(|n: &i64| *n > 0)
        .ok_or_else(|| anyhow::anyhow!("invalid {what} {s:?}: use a size like 256M or 1G"))?;
    i32::try_from(n * mult).map_err(|_| anyhow::anyhow!("{what} {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_as_cf_prints_them() {
        assert_eq!(byte_size(0), "0B");
        assert_eq!(byte_size(64 << 20), "64M");
        assert_eq!(byte_size(1 << 30), "1G");
        assert_eq!(byte_size((245 << 20) / 10), "24.5M");
        assert_eq!(byte_size(512), "512B");
    }

    #[test]
    fn cf_sizes() {
        assert_eq!(megabytes("memory", "256M").unwrap(), 256);
        assert_eq!(megabytes("memory", "256mb").unwrap(), 256);
        assert_eq!(megabytes("memory", "1G").unwrap(), 1024);
        assert_eq!(megabytes("memory", "64").unwrap(), 64);
        for bad in ["", "0", "-1M", "12X", "G"] {
            let err = megabytes("memory", bad).unwrap_err().to_string();
            assert!(err.contains("256M"), "{bad}: {err}");
        }
    }
}
