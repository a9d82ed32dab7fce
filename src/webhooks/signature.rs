//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), so any receiver can check
//! that a delivery came from trackd with one of the specification's libraries.
//!
//! The signed content is `{msg_id}.{timestamp}.{body}`. Symmetric keys (`whsec_`) sign it with
//! HMAC-SHA256 (`v1,<base64>`); ed25519 keys (`whsk_`, verified with the public `whpk_` key)
//! sign it with ed25519 (`v1a,<base64>`). During a key rotation several keys sign the same
//! delivery and the `webhook-signature` header carries all signatures, separated by spaces.
//!
//! Key material never appears in `Debug` output or in error messages.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// Header carrying the message id, which receivers use as an idempotency key.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the attempt's unix timestamp (seconds), which receivers check against replays.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the space-separated signatures of the delivery.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

const SYMMETRIC_PREFIX: &str = "whsec_";
const SECRET_KEY_PREFIX: &str = "whsk_";
const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// The specification asks for at least 24 bytes (192 bits) and at most 64 bytes (512 bits).
const SYMMETRIC_MIN: usize = 24;
const SYMMETRIC_MAX: usize = 64;
/// What `generate_symmetric` draws: 256 bits, the HMAC-SHA256 output size.
const SYMMETRIC_GENERATED: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A key that signs deliveries to one endpoint; the variant decides the signature scheme.
#[derive(Clone)]
pub enum SigningKey {
    /// A shared secret (24 to 64 bytes) for `v1` HMAC-SHA256 signatures.
    Symmetric(Vec<u8>),
    /// An ed25519 key for `v1a` signatures, so receivers need only the public key.
    Ed25519(ed25519_dalek::SigningKey),
}

/// Why a stored key string could not be read; messages never repeat the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The string has none of the Standard Webhooks key prefixes.
    #[error(
        "unrecognised webhook key format: expected a whsec_ (symmetric) or whsk_ (ed25519) key"
    )]
    UnknownPrefix,
    /// A public key was given where a signing key is needed.
    #[error("a whpk_ key is an ed25519 public key and cannot sign; use the whsk_ secret key")]
    PublicKey,
    /// Nothing follows the prefix.
    #[error("the webhook key is empty after its prefix")]
    Empty,
    /// The part after the prefix is not standard base64.
    #[error("the webhook key is not valid base64 (standard alphabet, padded)")]
    InvalidBase64,
    /// A symmetric secret outside the specification's 24..=64 byte range.
    #[error("a whsec_ secret must be 24 to 64 bytes long, this one is {len} bytes")]
    SymmetricLength {
        /// Decoded length in bytes.
        len: usize,
    },
    /// An ed25519 secret that is neither a 32-byte seed nor a 64-byte keypair.
    #[error(
        "a whsk_ key must be a 32-byte ed25519 seed or a 64-byte keypair, this one is {len} bytes"
    )]
    Ed25519Length {
        /// Decoded length in bytes.
        len: usize,
    },
    /// A 64-byte keypair whose public half is not derived from its secret half.
    #[error("the whsk_ keypair's public half does not belong to its secret half")]
    Ed25519Mismatch,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningKey::Symmetric(_) => f.write_str("SigningKey::Symmetric(<redacted>)"),
            SigningKey::Ed25519(_) => f.write_str("SigningKey::Ed25519(<redacted>)"),
        }
    }
}

impl SigningKey {
    /// A fresh random 32-byte symmetric secret for a new endpoint.
    pub fn generate_symmetric() -> SigningKey {
        let secret: [u8; SYMMETRIC_GENERATED] = rand::random();
        SigningKey::Symmetric(secret.to_vec())
    }

    /// A fresh ed25519 key from a random 32-byte seed, for endpoints that want `v1a`.
    pub fn generate_ed25519() -> SigningKey {
        let seed: ed25519_dalek::SecretKey = rand::random();
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a key written by [`SigningKey::to_stored`] (or issued by another Standard Webhooks
    /// implementation): `whsec_<base64>` or `whsk_<base64 of a 32-byte seed or 64-byte keypair>`.
    pub fn parse(s: &str) -> Result<SigningKey, KeyError> {
        let s = s.trim();
        if let Some(b64) = s.strip_prefix(SYMMETRIC_PREFIX) {
            let bytes = decode(b64)?;
            if !(SYMMETRIC_MIN..=SYMMETRIC_MAX).contains(&bytes.len()) {
                return Err(KeyError::SymmetricLength { len: bytes.len() });
            }
            Ok(SigningKey::Symmetric(bytes))
        } else if let Some(b64) = s.strip_prefix(SECRET_KEY_PREFIX) {
            let bytes = decode(b64)?;
            let key = if let Ok(seed) = <&ed25519_dalek::SecretKey>::try_from(bytes.as_slice()) {
                ed25519_dalek::SigningKey::from_bytes(seed)
            } else if let Ok(pair) =
                <&[u8; ed25519_dalek::KEYPAIR_LENGTH]>::try_from(bytes.as_slice())
            {
                ed25519_dalek::SigningKey::from_keypair_bytes(pair)
                    .map_err(|_| KeyError::Ed25519Mismatch)?
            } else {
                return Err(KeyError::Ed25519Length { len: bytes.len() });
            };
            Ok(SigningKey::Ed25519(key))
        } else if s.starts_with(PUBLIC_KEY_PREFIX) {
            Err(KeyError::PublicKey)
        } else {
            Err(KeyError::UnknownPrefix)
        }
    }

    /// The string to persist; [`SigningKey::parse`] reads it back to the same key.
    pub fn to_stored(&self) -> String {
        match self {
            SigningKey::Symmetric(secret) => format!("{SYMMETRIC_PREFIX}{}", B64.encode(secret)),
            SigningKey::Ed25519(key) => {
                format!("{SECRET_KEY_PREFIX}{}", B64.encode(key.as_bytes()))
            }
        }
    }

    /// What the receiver configures to verify: the `whsec_` secret, or the `whpk_` public key.
    pub fn receiver_key(&self) -> String {
        match self {
            SigningKey::Symmetric(_) => self.to_stored(),
            SigningKey::Ed25519(key) => format!(
                "{PUBLIC_KEY_PREFIX}{}",
                B64.encode(key.verifying_key().as_bytes())
            ),
        }
    }

    /// The signature identifier this key produces: `v1` (HMAC-SHA256) or `v1a` (ed25519).
    pub fn scheme(&self) -> &'static str {
        match self {
            SigningKey::Symmetric(_) => "v1",
            SigningKey::Ed25519(_) => "v1a",
        }
    }

    /// One versioned signature (`v1,<base64>` or `v1a,<base64>`) over `{msg_id}.{timestamp}.{body}`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        self.sign_content(&signed_content(msg_id, timestamp, body))
    }

    fn sign_content(&self, content: &[u8]) -> String {
        let raw = match self {
            SigningKey::Symmetric(secret) => {
                let mut mac = hmac_sha256(secret);
                mac.update(content);
                B64.encode(mac.finalize().into_bytes())
            }
            SigningKey::Ed25519(key) => B64.encode(key.sign(content).to_bytes()),
        };
        format!("{},{raw}", self.scheme())
    }
}

/// The `webhook-signature` value: every key's signature, space-separated, so receivers holding
/// either the old or the new key accept deliveries during a rotation.
pub fn signature_header(keys: &[&SigningKey], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let content = signed_content(msg_id, timestamp, body);
    keys.iter()
        .map(|key| key.sign_content(&content))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Receiver-side check for tests and test tools: true when any signature in `header` verifies
/// with `receiver_key` (`whsec_` checks `v1` in constant time, `whpk_` checks `v1a`).
///
/// The timestamp tolerance is the caller's business; this only checks the signatures.
pub fn verify(header: &str, receiver_key: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> bool {
    let content = signed_content(msg_id, timestamp, body);
    let receiver_key = receiver_key.trim();
    let candidates = header.split(' ').filter_map(|entry| entry.split_once(','));

    if receiver_key.starts_with(SYMMETRIC_PREFIX) {
        let Ok(SigningKey::Symmetric(secret)) = SigningKey::parse(receiver_key) else {
            return false;
        };
        let mut mac = hmac_sha256(&secret);
        mac.update(&content);
        candidates
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| B64.decode(sig).ok())
            .any(|sig| mac.clone().verify_slice(&sig).is_ok())
    } else if let Some(b64) = receiver_key.strip_prefix(PUBLIC_KEY_PREFIX) {
        let Some(public) = B64
            .decode(b64)
            .ok()
            .and_then(|bytes| <[u8; ed25519_dalek::PUBLIC_KEY_LENGTH]>::try_from(bytes).ok())
            .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
        else {
            return false;
        };
        candidates
            .filter(|(version, _)| *version == "v1a")
            .filter_map(|(_, sig)| B64.decode(sig).ok())
            .filter_map(|sig| ed25519_dalek::Signature::try_from(sig.as_slice()).ok())
            .any(|sig| public.verify_strict(&content, &sig).is_ok())
    } else {
        false
    }
}

/// The bytes both schemes sign: `{msg_id}.{timestamp}.{body}`.
fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let mut content = Vec::with_capacity(msg_id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

fn hmac_sha256(secret: &[u8]) -> HmacSha256 {
    // HMAC hashes over-long keys and pads short ones, so no key length is refused.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

fn decode(b64: &str) -> Result<Vec<u8>, KeyError> {
    if b64.is_empty() {
        return Err(KeyError::Empty);
    }
    // The decode error is dropped on purpose: it can quote a byte of the key.
    let bytes = B64.decode(b64).map_err(|_| KeyError::InvalidBase64)?;
    if bytes.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;
    use reqwest::header::{HeaderMap, HeaderValue};

    // The Standard Webhooks test vector, from the reference libraries' tests
    // (standard-webhooks/standard-webhooks libraries/go/webhook_test.go, TestWebhookSign).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn now() -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        i64::try_from(since_epoch.as_secs()).unwrap()
    }

    fn random_msg_id() -> String {
        let mut rng = rand::rng();
        let suffix: String = (0..24)
            .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
            .collect();
        format!("msg_{suffix}")
    }

    /// Random UTF-8 (the standardwebhooks crate refuses non-UTF-8 bodies), empty included.
    fn random_body() -> Vec<u8> {
        let mut rng = rand::rng();
        let len = rng.random_range(0..300);
        let body: String = (0..len).map(|_| rng.random::<char>()).collect();
        body.into_bytes()
    }

    fn headers(msg_id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_ID, HeaderValue::from_str(msg_id).unwrap());
        headers.insert(
            HEADER_TIMESTAMP,
            HeaderValue::from_str(&timestamp.to_string()).unwrap(),
        );
        headers.insert(HEADER_SIGNATURE, HeaderValue::from_str(signature).unwrap());
        headers
    }

    fn b64_of_len(len: usize) -> String {
        B64.encode(vec![7u8; len])
    }

    #[test]
    fn header_names_follow_the_spec() {
        assert_eq!(HEADER_ID, standardwebhooks::HEADER_WEBHOOK_ID);
        assert_eq!(HEADER_TIMESTAMP, standardwebhooks::HEADER_WEBHOOK_TIMESTAMP);
        assert_eq!(HEADER_SIGNATURE, standardwebhooks::HEADER_WEBHOOK_SIGNATURE);
    }

    #[test]
    fn reproduces_the_standard_webhooks_test_vector() {
        let key = SigningKey::parse(VECTOR_SECRET).unwrap();
        assert_eq!(key.scheme(), "v1");
        assert_eq!(
            key.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
        assert!(verify(
            VECTOR_SIGNATURE,
            VECTOR_SECRET,
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
        // The independent implementation agrees on the vector.
        let reference = standardwebhooks::Webhook::new(VECTOR_SECRET).unwrap();
        assert_eq!(
            reference
                .sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
                .unwrap(),
            VECTOR_SIGNATURE
        );
    }

    #[test]
    fn reproduces_the_rust_reference_library_vector() {
        // From the standardwebhooks crate's own test_sign.
        let key = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            key.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn the_reference_crate_verifies_our_symmetric_signatures() {
        for _ in 0..64 {
            let key = SigningKey::generate_symmetric();
            let (msg_id, timestamp, body) = (random_msg_id(), now(), random_body());
            let header = signature_header(&[&key], &msg_id, timestamp, &body);
            let reference = standardwebhooks::Webhook::new(&key.receiver_key()).unwrap();
            reference
                .verify(&body, &headers(&msg_id, timestamp, &header))
                .unwrap();
            // ... and refuses it once the body changes.
            let mut tampered = body.clone();
            tampered.extend_from_slice(b" ");
            assert!(
                reference
                    .verify(&tampered, &headers(&msg_id, timestamp, &header))
                    .is_err()
            );
        }
    }

    #[test]
    fn we_verify_the_reference_crates_signatures() {
        for _ in 0..64 {
            let key = SigningKey::generate_symmetric();
            let (msg_id, timestamp, body) = (random_msg_id(), now(), random_body());
            let reference = standardwebhooks::Webhook::new(&key.receiver_key()).unwrap();
            let theirs = reference.sign(&msg_id, timestamp, &body).unwrap();
            assert_eq!(theirs, key.sign(&msg_id, timestamp, &body));
            assert!(verify(
                &theirs,
                &key.receiver_key(),
                &msg_id,
                timestamp,
                &body
            ));
        }
    }

    #[test]
    fn the_reference_crate_finds_v1_among_mixed_rotation_signatures() {
        let old = SigningKey::generate_symmetric();
        let new = SigningKey::generate_ed25519();
        let (msg_id, timestamp, body) = (random_msg_id(), now(), random_body());
        let header = signature_header(&[&new, &old], &msg_id, timestamp, &body);
        let reference = standardwebhooks::Webhook::new(&old.receiver_key()).unwrap();
        reference
            .verify(&body, &headers(&msg_id, timestamp, &header))
            .unwrap();
        assert!(verify(
            &header,
            &new.receiver_key(),
            &msg_id,
            timestamp,
            &body
        ));
    }

    #[test]
    fn ed25519_round_trip_and_tamper_detection() {
        let key = SigningKey::generate_ed25519();
        assert_eq!(key.scheme(), "v1a");
        let receiver = key.receiver_key();
        assert!(receiver.starts_with("whpk_"));
        let (msg_id, timestamp, body) = (random_msg_id(), now(), random_body());
        let header = key.sign(&msg_id, timestamp, &body);
        assert!(header.starts_with("v1a,"));
        assert_eq!(B64.decode(&header[4..]).unwrap().len(), 64);

        assert!(verify(&header, &receiver, &msg_id, timestamp, &body));
        let mut other_body = body.clone();
        other_body.push(b'x');
        assert!(!verify(&header, &receiver, &msg_id, timestamp, &other_body));
        assert!(!verify(&header, &receiver, "msg_other", timestamp, &body));
        assert!(!verify(&header, &receiver, &msg_id, timestamp + 1, &body));
        // Another key's public key, or the v1a signature relabelled v1, does not verify.
        let stranger = SigningKey::generate_ed25519().receiver_key();
        assert!(!verify(&header, &stranger, &msg_id, timestamp, &body));
        let relabelled = header.replacen("v1a,", "v1,", 1);
        assert!(!verify(&relabelled, &receiver, &msg_id, timestamp, &body));
        // A flipped bit in the signature is caught.
        let mut sig = B64.decode(&header[4..]).unwrap();
        sig[10] ^= 1;
        let flipped = format!("v1a,{}", B64.encode(sig));
        assert!(!verify(&flipped, &receiver, &msg_id, timestamp, &body));
    }

    #[test]
    fn symmetric_tamper_detection() {
        let key = SigningKey::generate_symmetric();
        let receiver = key.receiver_key();
        let (msg_id, timestamp, body) = (random_msg_id(), now(), random_body());
        let header = key.sign(&msg_id, timestamp, &body);
        assert!(verify(&header, &receiver, &msg_id, timestamp, &body));
        let mut other_body = body.clone();
        other_body.push(b'x');
        assert!(!verify(&header, &receiver, &msg_id, timestamp, &other_body));
        assert!(!verify(&header, &receiver, "msg_other", timestamp, &body));
        assert!(!verify(&header, &receiver, &msg_id, timestamp - 1, &body));
        let stranger = SigningKey::generate_symmetric().receiver_key();
        assert!(!verify(&header, &stranger, &msg_id, timestamp, &body));
        // A truncated signature is refused rather than compared as a prefix.
        let truncated = format!(
            "v1,{}",
            B64.encode(&B64.decode(&header[3..]).unwrap()[..16])
        );
        assert!(!verify(&truncated, &receiver, &msg_id, timestamp, &body));
        // The secret's v1 signature under the v1a label is not accepted.
        let relabelled = header.replacen("v1,", "v1a,", 1);
        assert!(!verify(&relabelled, &receiver, &msg_id, timestamp, &body));
    }

    #[test]
    fn rotation_header_verifies_with_either_key() {
        let old = SigningKey::generate_symmetric();
        let new = SigningKey::generate_symmetric();
        let asym = SigningKey::generate_ed25519();
        let (msg_id, timestamp, body) = (random_msg_id(), now(), random_body());
        let header = signature_header(&[&new, &old, &asym], &msg_id, timestamp, &body);

        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], new.sign(&msg_id, timestamp, &body));
        assert_eq!(parts[1], old.sign(&msg_id, timestamp, &body));
        assert!(!header.contains("  "));

        for key in [&old, &new, &asym] {
            assert!(verify(
                &header,
                &key.receiver_key(),
                &msg_id,
                timestamp,
                &body
            ));
        }
        let outsider = SigningKey::generate_symmetric();
        assert!(!verify(
            &header,
            &outsider.receiver_key(),
            &msg_id,
            timestamp,
            &body
        ));
        for key in [&old, &new] {
            let reference = standardwebhooks::Webhook::new(&key.receiver_key()).unwrap();
            reference
                .verify(&body, &headers(&msg_id, timestamp, &header))
                .unwrap();
        }
        assert_eq!(signature_header(&[], &msg_id, timestamp, &body), "");
    }

    #[test]
    fn verify_skips_malformed_entries() {
        let key = SigningKey::parse(VECTOR_SECRET).unwrap();
        let header = format!("v1 v1, ,, v2,abc v1,!!!not-base64 v1a,AAAA {VECTOR_SIGNATURE}");
        assert!(verify(
            &header,
            VECTOR_SECRET,
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
        let junk_only = "v1 v1, v2,abc v1,!!!not-base64";
        assert!(!verify(
            junk_only,
            VECTOR_SECRET,
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
        assert!(!verify(
            "",
            VECTOR_SECRET,
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
        // Receiver keys that are not whsec_/whpk_ verify nothing.
        for receiver in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_%%%",
            "whpk_",
            "whpk_AAAA",
            &key.to_stored().replacen("whsec_", "whsk_", 1),
        ] {
            assert!(
                !verify(
                    VECTOR_SIGNATURE,
                    receiver,
                    VECTOR_ID,
                    VECTOR_TIMESTAMP,
                    VECTOR_BODY
                ),
                "{receiver:?}"
            );
        }
    }

    #[test]
    fn stored_form_round_trips() {
        for key in [
            SigningKey::generate_symmetric(),
            SigningKey::generate_ed25519(),
            SigningKey::parse(VECTOR_SECRET).unwrap(),
        ] {
            let stored = key.to_stored();
            let back = SigningKey::parse(&stored).unwrap();
            assert_eq!(back.to_stored(), stored);
            assert_eq!(back.receiver_key(), key.receiver_key());
            assert_eq!(back.scheme(), key.scheme());
            // Both schemes are deterministic, so the same key gives the same signature.
            assert_eq!(back.sign("msg_1", 1, b"{}"), key.sign("msg_1", 1, b"{}"));
        }
        assert_eq!(
            SigningKey::parse(VECTOR_SECRET).unwrap().to_stored(),
            VECTOR_SECRET
        );
        // Surrounding whitespace (a pasted key, a trailing newline) is ignored.
        let padded = format!("  {VECTOR_SECRET}\n");
        assert_eq!(
            SigningKey::parse(&padded).unwrap().to_stored(),
            VECTOR_SECRET
        );
    }

    #[test]
    fn generated_keys_have_the_expected_shape() {
        let SigningKey::Symmetric(a) = SigningKey::generate_symmetric() else {
            panic!("generate_symmetric gave a non-symmetric key");
        };
        let SigningKey::Symmetric(b) = SigningKey::generate_symmetric() else {
            panic!("generate_symmetric gave a non-symmetric key");
        };
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        let stored = SigningKey::generate_ed25519().to_stored();
        assert!(stored.starts_with("whsk_"));
        assert_eq!(B64.decode(&stored[5..]).unwrap().len(), 32);
        assert_ne!(stored, SigningKey::generate_ed25519().to_stored());
    }

    #[test]
    fn parse_accepts_the_keypair_form() {
        let SigningKey::Ed25519(inner) = SigningKey::generate_ed25519() else {
            panic!("generate_ed25519 gave a non-ed25519 key");
        };
        let seed_form = format!("whsk_{}", B64.encode(inner.to_bytes()));
        let pair_form = format!("whsk_{}", B64.encode(inner.to_keypair_bytes()));
        let from_pair = SigningKey::parse(&pair_form).unwrap();
        assert_eq!(from_pair.to_stored(), seed_form);
        assert_eq!(
            from_pair.sign("msg_1", 1, b"x"),
            SigningKey::parse(&seed_form)
                .unwrap()
                .sign("msg_1", 1, b"x")
        );
        // A keypair whose public half belongs to another key is refused.
        let SigningKey::Ed25519(other) = SigningKey::generate_ed25519() else {
            panic!("generate_ed25519 gave a non-ed25519 key");
        };
        let mut mixed = inner.to_keypair_bytes();
        mixed[32..].copy_from_slice(other.verifying_key().as_bytes());
        assert_eq!(
            SigningKey::parse(&format!("whsk_{}", B64.encode(mixed))).unwrap_err(),
            KeyError::Ed25519Mismatch
        );
    }

    #[test]
    fn parse_enforces_symmetric_lengths() {
        assert!(SigningKey::parse(&format!("whsec_{}", b64_of_len(24))).is_ok());
        assert!(SigningKey::parse(&format!("whsec_{}", b64_of_len(64))).is_ok());
        assert_eq!(
            SigningKey::parse(&format!("whsec_{}", b64_of_len(23))).unwrap_err(),
            KeyError::SymmetricLength { len: 23 }
        );
        assert_eq!(
            SigningKey::parse(&format!("whsec_{}", b64_of_len(65))).unwrap_err(),
            KeyError::SymmetricLength { len: 65 }
        );
    }

    #[test]
    fn parse_refuses_malformed_keys_without_echoing_them() {
        let secret_part = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw";
        let cases: Vec<(String, KeyError)> = vec![
            (String::new(), KeyError::UnknownPrefix),
            (secret_part.to_string(), KeyError::UnknownPrefix),
            (format!("whsec{secret_part}"), KeyError::UnknownPrefix),
            ("whsec_".to_string(), KeyError::Empty),
            ("whsk_".to_string(), KeyError::Empty),
            (format!("whsec_{secret_part}"), KeyError::InvalidBase64),
            (format!("whsec_{secret_part}!!"), KeyError::InvalidBase64),
            (format!("whsk_{secret_part}"), KeyError::InvalidBase64),
            (format!("whpk_{}", b64_of_len(32)), KeyError::PublicKey),
            (
                format!("whsk_{}", b64_of_len(31)),
                KeyError::Ed25519Length { len: 31 },
            ),
            (
                format!("whsk_{}", b64_of_len(33)),
                KeyError::Ed25519Length { len: 33 },
            ),
        ];
        for (input, expected) in cases {
            let err = SigningKey::parse(&input).unwrap_err();
            assert_eq!(err, expected, "{input:?}");
            let message = err.to_string();
            assert!(!message.contains(secret_part), "{message}");
            assert!(!message.contains(&b64_of_len(31)), "{message}");
        }
    }

    #[test]
    fn debug_redacts_key_material() {
        let symmetric = SigningKey::parse(VECTOR_SECRET).unwrap();
        assert_eq!(
            format!("{symmetric:?}"),
            "SigningKey::Symmetric(<redacted>)"
        );
        let ed = SigningKey::generate_ed25519();
        let debug = format!("{ed:?}");
        assert_eq!(debug, "SigningKey::Ed25519(<redacted>)");
        let SigningKey::Ed25519(inner) = &ed else {
            panic!("generate_ed25519 gave a non-ed25519 key");
        };
        for material in [
            ed.to_stored(),
            ed.receiver_key(),
            format!("{:?}", inner.to_bytes()),
        ] {
            assert!(!format!("{ed:#?}").contains(&material));
        }
        assert!(!format!("{:?}", vec![symmetric]).contains("MfKQ"));
    }
}
