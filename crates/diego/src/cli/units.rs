//! Sizes as cf takes them: `256M`, `256MB`, `1G`, `1GB`, or a number of MB.

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
