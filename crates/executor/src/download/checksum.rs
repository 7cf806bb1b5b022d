//! Checksums of downloads (md5, sha1, sha256), with cacheddownloader's
//! error texts.

use md5::Digest;

pub enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

fn failed(what: &str, expected: &str, got: &str) -> String {
    format!("Checksum failed: '{what}', expected '{expected}', got '{got}'")
}

impl Hasher {
    /// A hasher for `algorithm` whose expected `value` looks right; None
    /// when no checksum was asked for.
    pub fn new(algorithm: &str, value: &str) -> Result<Option<Hasher>, String> {
        if algorithm.is_empty() && value.is_empty() {
            return Ok(None);
        }
        let (hasher, len) = match algorithm {
            "md5" => (Hasher::Md5(md5::Md5::new()), 32),
            "sha1" => (Hasher::Sha1(sha1::Sha1::new()), 40),
            "sha256" => (Hasher::Sha256(sha2::Sha256::new()), 64),
            other => return Err(failed("algorithm invalid", "[md5, sha1, sha256]", other)),
        };
        if value.len() != len || hex::decode(value).is_err() {
            return Err(failed(
                "checksum missing or invalid",
                "a valid checksum",
                value,
            ));
        }
        Ok(Some(hasher))
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub fn verify(self, expected: &str) -> Result<(), String> {
        let got = match self {
            Hasher::Md5(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
        };
        if got.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(failed("checksum mismatch", expected, &format!("\"{got}\"")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_each_algorithm() {
        for (alg, sum) in [
            ("md5", "5d41402abc4b2a76b9719d911017c592"),
            ("sha1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            (
                "sha256",
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            ),
        ] {
            let mut h = Hasher::new(alg, sum).unwrap().unwrap();
            h.update(b"hel");
            h.update(b"lo");
            h.verify(sum).unwrap();
        }
        let mut h = Hasher::new("md5", "5d41402abc4b2a76b9719d911017c592")
            .unwrap()
            .unwrap();
        h.update(b"bye");
        let e = h.verify("5d41402abc4b2a76b9719d911017c592").unwrap_err();
        assert!(e.starts_with("Checksum failed: 'checksum mismatch', expected '5d41402abc4b2a76b9719d911017c592', got '\""));
        assert_eq!(
            Hasher::new("crc", "x").err().unwrap(),
            "Checksum failed: 'algorithm invalid', expected '[md5, sha1, sha256]', got 'crc'"
        );
        assert!(Hasher::new("sha1", "abc").is_err());
        assert!(Hasher::new("", "").unwrap().is_none());
    }
}
