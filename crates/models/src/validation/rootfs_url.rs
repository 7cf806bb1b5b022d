//! The rootfs rule: Diego accepts a rootfs only when Go's `url.Parse`
//! succeeds on it and finds a scheme (`preloaded:cflinuxfs4`,
//! `docker:///repo/image`, `preloaded+layer:...`, `extra:...`).
//!
//! This module reproduces the parts of Go's URL parser that decide that
//! outcome: scheme detection, control characters, percent escapes, and the
//! authority's userinfo, host and port syntax.

/// True when Go's `url.Parse(rootfs)` would succeed with a non-empty scheme.
pub fn has_valid_scheme(rootfs: &str) -> bool {
    // Control characters anywhere make the parse fail.
    if rootfs.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    let (without_fragment, fragment) = match rootfs.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (rootfs, None),
    };
    let Some((_scheme, rest)) = split_scheme(without_fragment) else {
        return false;
    };
    if let Some(f) = fragment {
        if !escapes_ok(f) {
            return false;
        }
    }
    // The query is kept raw; it never fails the parse.
    let rest = match rest.split_once('?') {
        Some((r, _query)) => r,
        None => rest,
    };
    if !rest.starts_with('/') {
        // Opaque form (`preloaded:cflinuxfs4`): accepted as is.
        return true;
    }
    let path = if let Some(after) = rest.strip_prefix("//") {
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        if !authority_ok(authority) {
            return false;
        }
        path
    } else {
        rest
    };
    escapes_ok(path)
}

/// Go's scheme detection: letters, then letters/digits/`+-.`, then `:`.
/// Returns None when there is no scheme (or the input starts with `:`).
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return None;
                }
            }
            b':' => {
                if i == 0 {
                    return None;
                }
                return Some((&s[..i], &s[i + 1..]));
            }
            _ => return None,
        }
    }
    None
}

/// Every `%` is followed by two hex digits.
fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() {
                return false;
            }
            if !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn authority_ok(authority: &str) -> bool {
    let host = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            if !userinfo_ok(userinfo) || !escapes_ok(userinfo) {
                return false;
            }
            &authority[i + 1..]
        }
        None => authority,
    };
    host_ok(host)
}

fn userinfo_ok(s: &str) -> bool {
    s.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
            || c >= 0x80
    })
}

/// `""`, or `:` followed by digits only.
fn optional_port_ok(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    match s.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

fn host_ok(host: &str) -> bool {
    let name = if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return false;
        };
        if !optional_port_ok(&host[close + 1..]) {
            return false;
        }
        &host[..=close]
    } else if let Some(colon) = host.rfind(':') {
        if !optional_port_ok(&host[colon..]) {
            return false;
        }
        host
    } else {
        host
    };
    if !escapes_ok(name) {
        return false;
    }
    // Characters Go refuses in a host name (ASCII only; `%` was checked above).
    name.bytes().all(|c| {
        c >= 0x80
            || c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'<'
                    | b'>'
                    | b'"'
                    | b'%'
            )
    })
}

#[cfg(test)]
mod tests {
    use super::has_valid_scheme;

    #[test]
    fn accepts_diego_rootfs_forms() {
        for ok in [
            "preloaded:cflinuxfs4",
            "preloaded+layer:cflinuxfs4?layer=https://blobs/x.tgz&layer_path=/tmp&layer_digest=abc",
            "docker:///cloudfoundry/grace",
            "docker://docker.io/library/busybox:latest",
            "docker://registry.example.com:5000/img#tag",
            "extra:something",
            "http://user:pass@host:8080/path%20x",
            "some-scheme:",
        ] {
            assert!(has_valid_scheme(ok), "{ok} should be accepted");
        }
    }

    #[test]
    fn rejects_missing_or_bad_scheme() {
        for bad in [
            "",
            "cflinuxfs4",
            ":cflinuxfs4",
            "1abc:foo",
            "/path/only",
            "no scheme:here",
            "docker://host:port/x",
            "docker://ho st/x",
            "docker:///bad%zzescape",
            "docker:///x#frag%z",
            "preloaded:with\tcontrol",
            "docker://[::1/x",
        ] {
            assert!(!has_valid_scheme(bad), "{bad:?} should be rejected");
        }
    }
}
