//! Diego's at-rest record format.
//!
//! A stored blob is a 2-byte ASCII encoding tag followed by base64 (standard
//! alphabet, padded):
//!
//! * `"02"` + base64(`len(label)` ‖ `label` ‖ 12-byte nonce ‖ AES-256-GCM
//!   ciphertext+tag), the key being SHA-256 of the configured passphrase.
//!   This is the only encoding current Diego writes and reads.
//! * `"01"` + base64(payload): Diego's former unencrypted encoding. We write
//!   it only when no encryption key is configured (Diego itself refuses to
//!   start without a key); we read it always. `"00"` + raw payload is
//!   accepted on read as well.
//!
//! Protobuf records are wrapped in Diego's 2-byte envelope `[PROTO=2,
//! version=0]` before encoding.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::collections::HashMap;

pub const NONCE_SIZE: usize = 12;
pub const ENCODING_BASE64_ENCRYPTED: [u8; 2] = *b"02";
pub const ENCODING_BASE64: [u8; 2] = *b"01";
pub const ENCODING_UNENCODED: [u8; 2] = *b"00";
/// Envelope format byte for protobuf payloads.
pub const ENVELOPE_PROTO: u8 = 2;
/// Envelope version byte (Diego always writes 0).
pub const ENVELOPE_VERSION: u8 = 0;

/// Which keys encrypt and decrypt records: the active key encrypts, any
/// listed key (by label) decrypts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionConfig {
    pub active_key_label: String,
    /// label → passphrase
    pub keys: BTreeMap<String, String>,
}

impl EncryptionConfig {
    /// One key, active.
    pub fn single(label: impl Into<String>, passphrase: impl Into<String>) -> Self {
        let label = label.into();
        let mut keys = BTreeMap::new();
        keys.insert(label.clone(), passphrase.into());
        Self {
            active_key_label: label,
            keys,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("A key label is required")]
    EmptyLabel,
    #[error("Key label is longer than 127 bytes")]
    LabelTooLong,
    #[error("Must select an active encryption key")]
    NoActiveKey,
    #[error("The selected active key must be listed on the encryption keys flag")]
    ActiveKeyNotListed,
    #[error("Key with label {0:?} was not found")]
    UnknownKey(String),
    #[error("Unknown encoding: {0:?}")]
    UnknownEncoding(Vec<u8>),
    #[error("payload too short")]
    Truncated,
    #[error("invalid base64: {0}")]
    Base64(String),
    #[error("cipher: message authentication failed")]
    Decrypt,
    #[error("invalid envelope format {0}")]
    Envelope(u8),
    #[error("failed to decode protobuf: {0}")]
    Proto(String),
}

struct Key {
    label: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(label: &str, passphrase: &str) -> Result<Self, EncryptionError> {
        if label.is_empty() {
            return Err(EncryptionError::EmptyLabel);
        }
        if label.len() > 127 {
            return Err(EncryptionError::LabelTooLong);
        }
        let digest = Sha256::digest(passphrase.as_bytes());
        let cipher =
            Aes256Gcm::new_from_slice(&digest).expect("SHA-256 output is a valid AES-256 key");
        Ok(Self {
            label: label.to_string(),
            cipher,
        })
    }
}

/// Encodes and decodes stored blobs (thread-safe, cheap to share).
pub struct Encoder {
    active: Option<String>,
    keys: HashMap<String, Key>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut labels: Vec<&String> = self.keys.keys().collect();
        labels.sort();
        f.debug_struct("Encoder")
            .field("active", &self.active)
            .field("labels", &labels)
            .finish()
    }
}

impl Encoder {
    /// Builds the key set. No keys at all means "store unencrypted" (see
    /// the module docs); keys without a valid active label are an error.
    pub fn new(cfg: &EncryptionConfig) -> Result<Self, EncryptionError> {
        let mut keys = HashMap::new();
        for (label, phrase) in &cfg.keys {
            keys.insert(label.clone(), Key::new(label, phrase)?);
        }
        if keys.is_empty() {
            if !cfg.active_key_label.is_empty() {
                return Err(EncryptionError::ActiveKeyNotListed);
            }
            return Ok(Self { active: None, keys });
        }
        if cfg.active_key_label.is_empty() {
            return Err(EncryptionError::NoActiveKey);
        }
        if !keys.contains_key(&cfg.active_key_label) {
            return Err(EncryptionError::ActiveKeyNotListed);
        }
        Ok(Self {
            active: Some(cfg.active_key_label.clone()),
            keys,
        })
    }

    /// Does this encoder encrypt what it writes?
    pub fn encrypts(&self) -> bool {
        self.active.is_some()
    }

    /// The label new records are encrypted with.
    pub fn active_label(&self) -> Option<&str> {
        self.active.as_deref()
    }

    /// Is `label` one of the configured keys (can it decrypt)?
    pub fn knows_label(&self, label: &str) -> bool {
        self.keys.contains_key(label)
    }

    /// Encodes a payload for storage.
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        match &self.active {
            Some(label) => {
                let key = &self.keys[label];
                let mut nonce = [0u8; NONCE_SIZE];
                rand::thread_rng().fill_bytes(&mut nonce);
                let ciphertext = key
                    .cipher
                    .encrypt(Nonce::from_slice(&nonce), payload)
                    .expect("AES-GCM encryption of an in-memory buffer cannot fail");
                let mut raw = Vec::with_capacity(1 + label.len() + NONCE_SIZE + ciphertext.len());
                raw.push(key.label.len() as u8);
                raw.extend_from_slice(key.label.as_bytes());
                raw.extend_from_slice(&nonce);
                raw.extend_from_slice(&ciphertext);
                with_tag(ENCODING_BASE64_ENCRYPTED, &raw)
            }
            None => with_tag(ENCODING_BASE64, payload),
        }
    }

    /// Decodes a stored blob (any of Diego's encodings).
    pub fn decode(&self, data: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        if data.len() < 2 {
            return Err(EncryptionError::Truncated);
        }
        let (tag, body) = data.split_at(2);
        match [tag[0], tag[1]] {
            ENCODING_BASE64_ENCRYPTED => {
                let raw = B64
                    .decode(body)
                    .map_err(|e| EncryptionError::Base64(e.to_string()))?;
                self.decrypt(&raw)
            }
            ENCODING_BASE64 => B64
                .decode(body)
                .map_err(|e| EncryptionError::Base64(e.to_string())),
            ENCODING_UNENCODED => Ok(body.to_vec()),
            other => Err(EncryptionError::UnknownEncoding(other.to_vec())),
        }
    }

    fn decrypt(&self, raw: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        let (&label_len, rest) = raw.split_first().ok_or(EncryptionError::Truncated)?;
        let label_len = label_len as usize;
        if rest.len() < label_len + NONCE_SIZE {
            return Err(EncryptionError::Truncated);
        }
        let (label, rest) = rest.split_at(label_len);
        let label = String::from_utf8_lossy(label).into_owned();
        let (nonce, ciphertext) = rest.split_at(NONCE_SIZE);
        let key = self
            .keys
            .get(&label)
            .ok_or(EncryptionError::UnknownKey(label))?;
        key.cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| EncryptionError::Decrypt)
    }

    /// Envelope + encode a protobuf record.
    pub fn marshal<M: prost::Message>(&self, record: &M) -> Vec<u8> {
        let mut enveloped = Vec::with_capacity(2 + record.encoded_len());
        enveloped.push(ENVELOPE_PROTO);
        enveloped.push(ENVELOPE_VERSION);
        record
            .encode(&mut enveloped)
            .expect("Vec<u8> grows as needed");
        self.encode(&enveloped)
    }

    /// Decode + open the envelope of a protobuf record.
    pub fn unmarshal<M: prost::Message + Default>(
        &self,
        data: &[u8],
    ) -> Result<M, EncryptionError> {
        let plain = self.decode(data)?;
        if plain.len() < 2 {
            return Err(EncryptionError::Truncated);
        }
        if plain[0] != ENVELOPE_PROTO {
            return Err(EncryptionError::Envelope(plain[0]));
        }
        M::decode(&plain[2..]).map_err(|e| EncryptionError::Proto(e.to_string()))
    }
}

fn with_tag(tag: [u8; 2], payload: &[u8]) -> Vec<u8> {
    let encoded = B64.encode(payload);
    let mut out = Vec::with_capacity(2 + encoded.len());
    out.extend_from_slice(&tag);
    out.extend_from_slice(encoded.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::{ActualLrpNetInfo, PortMapping};
    use prost::Message;

    fn two_keys(active: &str) -> EncryptionConfig {
        let mut keys = BTreeMap::new();
        keys.insert("old".to_string(), "old passphrase".to_string());
        keys.insert("new".to_string(), "new passphrase".to_string());
        EncryptionConfig {
            active_key_label: active.to_string(),
            keys,
        }
    }

    fn net_info() -> ActualLrpNetInfo {
        ActualLrpNetInfo {
            address: "10.0.0.1".into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61000,
                ..Default::default()
            }],
            instance_address: "10.255.0.2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_and_uses_diego_layout() {
        let enc = Encoder::new(&EncryptionConfig::single("label", "passphrase")).unwrap();
        let blob = enc.marshal(&net_info());
        assert_eq!(&blob[..2], b"02");
        let raw = B64.decode(&blob[2..]).unwrap();
        assert_eq!(raw[0] as usize, "label".len());
        assert_eq!(&raw[1..6], b"label");
        // label + nonce + envelope(2) + proto + 16-byte GCM tag
        let proto_len = net_info().encoded_len();
        assert_eq!(raw.len(), 1 + 5 + NONCE_SIZE + 2 + proto_len + 16);
        // the plaintext is not visible
        let plain = net_info().encode_to_vec();
        assert!(!raw.windows(plain.len()).any(|w| w == plain.as_slice()));
        let back: ActualLrpNetInfo = enc.unmarshal(&blob).unwrap();
        assert_eq!(back, net_info());
    }

    #[test]
    fn decrypts_with_known_go_compatible_key_derivation() {
        // Build a blob by hand the way Diego does and check we open it.
        let key = Sha256::digest(b"secret");
        let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
        let nonce = [7u8; NONCE_SIZE];
        let mut plain = vec![ENVELOPE_PROTO, 0];
        plain.extend_from_slice(&net_info().encode_to_vec());
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .unwrap();
        let mut raw = vec![2u8, b'k', b'1'];
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ct);
        let mut blob = b"02".to_vec();
        blob.extend_from_slice(B64.encode(&raw).as_bytes());
        let enc = Encoder::new(&EncryptionConfig::single("k1", "secret")).unwrap();
        assert_eq!(
            enc.unmarshal::<ActualLrpNetInfo>(&blob).unwrap(),
            net_info()
        );
    }

    #[test]
    fn nonces_differ_between_encodings() {
        let enc = Encoder::new(&EncryptionConfig::single("l", "p")).unwrap();
        assert_ne!(enc.encode(b"same"), enc.encode(b"same"));
    }

    #[test]
    fn rotation_decrypts_with_any_listed_key() {
        let old = Encoder::new(&two_keys("old")).unwrap();
        let blob = old.encode(b"payload");
        let new = Encoder::new(&two_keys("new")).unwrap();
        assert_eq!(new.decode(&blob).unwrap(), b"payload");
        let blob2 = new.encode(b"payload");
        let raw = B64.decode(&blob2[2..]).unwrap();
        assert_eq!(&raw[1..4], b"new");
    }

    #[test]
    fn wrong_or_missing_key_fails() {
        let a = Encoder::new(&EncryptionConfig::single("k", "one")).unwrap();
        let b = Encoder::new(&EncryptionConfig::single("k", "two")).unwrap();
        let blob = a.encode(b"payload");
        assert_eq!(b.decode(&blob), Err(EncryptionError::Decrypt));
        let c = Encoder::new(&EncryptionConfig::single("other", "one")).unwrap();
        assert_eq!(
            c.decode(&blob),
            Err(EncryptionError::UnknownKey("k".into()))
        );
        let plain = Encoder::new(&EncryptionConfig::default()).unwrap();
        assert!(plain.decode(&blob).is_err());
    }

    #[test]
    fn tampering_is_detected() {
        let enc = Encoder::new(&EncryptionConfig::single("k", "p")).unwrap();
        let blob = enc.encode(b"payload");
        let mut raw = B64.decode(&blob[2..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let mut bad = b"02".to_vec();
        bad.extend_from_slice(B64.encode(&raw).as_bytes());
        assert_eq!(enc.decode(&bad), Err(EncryptionError::Decrypt));
        assert!(enc.decode(b"0").is_err());
        assert!(enc.decode(b"02").is_err());
        assert!(enc.decode(b"99abc").is_err());
    }

    #[test]
    fn without_keys_stores_base64_envelope() {
        let enc = Encoder::new(&EncryptionConfig::default()).unwrap();
        assert!(!enc.encrypts());
        let blob = enc.marshal(&net_info());
        assert_eq!(&blob[..2], b"01");
        let raw = B64.decode(&blob[2..]).unwrap();
        assert_eq!(&raw[..2], &[ENVELOPE_PROTO, ENVELOPE_VERSION]);
        assert_eq!(
            enc.unmarshal::<ActualLrpNetInfo>(&blob).unwrap(),
            net_info()
        );
        // an encrypting store still reads them
        let keyed = Encoder::new(&EncryptionConfig::single("k", "p")).unwrap();
        assert_eq!(
            keyed.unmarshal::<ActualLrpNetInfo>(&blob).unwrap(),
            net_info()
        );
        let mut unencoded = b"00".to_vec();
        unencoded.extend_from_slice(&raw);
        assert_eq!(
            enc.unmarshal::<ActualLrpNetInfo>(&unencoded).unwrap(),
            net_info()
        );
    }

    #[test]
    fn config_validation() {
        let mut cfg = two_keys("missing");
        assert_eq!(
            Encoder::new(&cfg).unwrap_err(),
            EncryptionError::ActiveKeyNotListed
        );
        cfg.active_key_label.clear();
        assert_eq!(
            Encoder::new(&cfg).unwrap_err(),
            EncryptionError::NoActiveKey
        );
        let long = "x".repeat(128);
        assert_eq!(
            Encoder::new(&EncryptionConfig::single(long, "p")).unwrap_err(),
            EncryptionError::LabelTooLong
        );
        assert_eq!(
            Encoder::new(&EncryptionConfig::single("", "p")).unwrap_err(),
            EncryptionError::EmptyLabel
        );
    }
}
