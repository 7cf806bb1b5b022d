//! Shared limits and small predicates used by several validators.

/// Longest annotation Diego accepts on a DesiredLRP, its update, a
/// scheduling info or a task definition (bytes).
pub const MAX_ANNOTATION_BYTES: usize = 10 * 1024;

/// Largest total size of all route payloads of one DesiredLRP (bytes).
pub const MAX_ROUTES_BYTES: usize = 128 * 1024;

/// Largest total content of all volume-mounted files of one LRP (bytes).
pub const MAX_VOLUME_MOUNTED_FILES_BYTES: usize = 1024 * 1024;

/// Diego's text for a missing action (its `ErrInvalidActionType`).
pub const INVALID_ACTION_TYPE: &str = "invalid action type";

/// Checksum algorithms accepted on downloads and cached dependencies
/// (compared case-insensitively).
pub const CHECKSUM_ALGORITHMS: [&str; 3] = ["md5", "sha1", "sha256"];

/// True when `guid` matches `^[a-zA-Z0-9_-]+$`, the pattern Diego requires
/// for process guids and task guids.
pub fn is_valid_guid(guid: &str) -> bool {
    !guid.is_empty()
        && guid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// True when the checksum algorithm is one Diego knows.
pub fn is_known_checksum_algorithm(algorithm: &str) -> bool {
    let lower = algorithm.to_ascii_lowercase();
    CHECKSUM_ALGORITHMS.contains(&lower.as_str())
}

/// Total size of route payloads exceeds the limit.
pub fn routes_too_large<'a>(values: impl IntoIterator<Item = &'a Vec<u8>>) -> bool {
    let mut total = 0usize;
    for v in values {
        total += v.len();
        if total > MAX_ROUTES_BYTES {
            return true;
        }
    }
    false
}

/// Total content of volume-mounted files exceeds 1 MiB.
pub fn volume_mounted_files_too_large(files: &[crate::File]) -> bool {
    let mut total = 0usize;
    for f in files {
        total += f.content.len();
        if total > MAX_VOLUME_MOUNTED_FILES_BYTES {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_pattern() {
        assert!(is_valid_guid("abc-DEF_123"));
        assert!(!is_valid_guid(""));
        assert!(!is_valid_guid("a.b"));
        assert!(!is_valid_guid("a b"));
        assert!(!is_valid_guid("abc\n"));
        assert!(!is_valid_guid("ünïcode"));
    }

    #[test]
    fn checksum_algorithms() {
        assert!(is_known_checksum_algorithm("MD5"));
        assert!(is_known_checksum_algorithm("sha1"));
        assert!(is_known_checksum_algorithm("Sha256"));
        assert!(!is_known_checksum_algorithm("sha512"));
    }

    #[test]
    fn routes_limit() {
        let a = vec![0u8; MAX_ROUTES_BYTES];
        let b = vec![0u8; 1];
        assert!(!routes_too_large([&a]));
        assert!(routes_too_large([&a, &b]));
    }
}
