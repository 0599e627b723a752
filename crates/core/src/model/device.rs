//! What a paired device signs, and the check of its signatures. A paired phone holds an ECDSA
//! P-256 key it made itself (WebCrypto, not extractable: the page cannot read it out, so
//! neither can a script that gets into it later, nor the server). It signs two things:
//!
//! - every API request ([`request_message`]): the method, path, a time, a nonce and the
//!   body's SHA-256, so a stolen session cookie alone drives nothing;
//! - every decision taken on it ([`Statement`]): what was decided on what, at what head, with
//!   which idempotency key and comment. The statement and its signature go into the audit log
//!   beside the entry, so `audit verify` can show the approval was signed by the key enrolled
//!   as that phone, not by the server's key. Which key is the phone's is what the lead checks
//!   once: the phone shows its key's [`fingerprint`] when it pairs, and the desk's Devices
//!   panel, `flightdeck devices list` and `audit verify` show the same fingerprint.
//!
//! Keys travel as hex of the uncompressed point (65 bytes: `04‖x‖y`, WebCrypto's "raw"
//! export); signatures as hex of `r‖s` (64 bytes, WebCrypto's ECDSA output).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first field of every statement: what it is and which version of it.
pub const STATEMENT: &str = "flightdeck-decision/1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("`{0}` is not a device key (hex of an uncompressed P-256 point, 130 digits)")]
    BadKey(String),
    #[error("the device signature is not hex of 64 bytes")]
    Malformed,
    #[error(
        "the device signature does not verify (not this device's, or the signed text was changed)"
    )]
    Forged,
    #[error("the signed statement is not one Flightdeck reads: {0}")]
    BadStatement(String),
    #[error("the signed statement does not match the decision sent: its {0} differs")]
    Differs(&'static str),
}

/// Checks a public key's form; returns its bytes.
pub fn parse_key(key_hex: &str) -> Result<Vec<u8>, SignatureError> {
    let short = || SignatureError::BadKey(key_hex.chars().take(24).collect());
    let bytes = hex::decode(key_hex).map_err(|_| short())?;
    if bytes.len() != 65 || bytes[0] != 4 {
        return Err(short());
    }
    Ok(bytes)
}

/// Whether `signature_hex` is `key_hex`'s ECDSA P-256 / SHA-256 signature of `message`.
pub fn verify(key_hex: &str, message: &[u8], signature_hex: &str) -> Result<(), SignatureError> {
    let key = parse_key(key_hex)?;
    let sig = hex::decode(signature_hex).map_err(|_| SignatureError::Malformed)?;
    if sig.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &key)
        .verify(message, &sig)
        .map_err(|_| SignatureError::Forged)
}

/// A short name for a key in lists and messages: the first 16 hex digits of its SHA-256.
pub fn fingerprint(key_hex: &str) -> String {
    hex::encode(Sha256::digest(key_hex.as_bytes()))[..16].to_string()
}

/// The text a device signs for one request.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    at_ms: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "flightdeck-request/1\n{method}\n{path_and_query}\n{at_ms}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    )
}

/// A decision as the device signed it: the statement is the exact JSON text the device
/// signed (kept verbatim in the audit log), with the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDecision {
    pub statement: String,
    pub signature: String,
}

/// The paired device a request came from, as its session knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    /// What it was called when paired ("Ana's phone").
    pub name: String,
    /// Its public key, hex.
    pub key: String,
}

/// A decision from a paired device: who, and what it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDecision {
    pub by: SignedBy,
    pub signed: SignedDecision,
}

/// What a device's decision says, as it signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT`].
    pub what: String,
    /// `approve`, `request_changes`, `comment`, `merge`, `close`, `release_approve`,
    /// `release_reject`.
    pub kind: String,
    /// The change request or release.
    pub target: String,
    /// The head commit shown (changes).
    #[serde(default)]
    pub head: Option<String>,
    /// The decision's idempotency key (changes).
    #[serde(default)]
    pub key: Option<String>,
    /// The comment, or a release decision's reason.
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub override_reason: Option<String>,
    /// With request_changes: the agent that gets the comments.
    #[serde(default)]
    pub send_back: Option<String>,
    /// When the device signed it (milliseconds since the epoch, the device's clock).
    pub at: i64,
}

impl Statement {
    /// A statement of `kind` on `target`, the rest empty, as the server rebuilds it from a
    /// request to compare with what the device signed.
    pub fn of(kind: &str, target: &str) -> Self {
        Self {
            what: STATEMENT.into(),
            kind: kind.into(),
            target: target.into(),
            head: None,
            key: None,
            comment: None,
            method: None,
            override_reason: None,
            send_back: None,
            at: 0,
        }
    }

    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let s: Statement =
            serde_json::from_str(text).map_err(|e| SignatureError::BadStatement(e.to_string()))?;
        if s.what != STATEMENT {
            return Err(SignatureError::BadStatement(format!(
                "it says it is `{}`, not `{STATEMENT}`",
                s.what.chars().take(40).collect::<String>()
            )));
        }
        Ok(s)
    }

    /// Checks that the statement says what the decision sent says. Empty text and none are
    /// the same; everything else must be equal.
    pub fn matches(&self, decided: &Statement) -> Result<(), SignatureError> {
        fn norm(v: &Option<String>) -> &str {
            v.as_deref().map(str::trim).unwrap_or("")
        }
        let pairs: [(&'static str, &str, &str); 8] = [
            ("kind", &self.kind, &decided.kind),
            ("target", &self.target, &decided.target),
            ("head", norm(&self.head), norm(&decided.head)),
            ("key", norm(&self.key), norm(&decided.key)),
            ("comment", norm(&self.comment), norm(&decided.comment)),
            ("method", norm(&self.method), norm(&decided.method)),
            (
                "override_reason",
                norm(&self.override_reason),
                norm(&decided.override_reason),
            ),
            ("send_back", norm(&self.send_back), norm(&decided.send_back)),
        ];
        match pairs.iter().find(|(_, a, b)| a != b) {
            Some((field, _, _)) => Err(SignatureError::Differs(field)),
            None => Ok(()),
        }
    }
}

/// Checks a signed decision against the key and the decision it is sent with; returns the
/// statement as signed.
pub fn check_decision(
    key_hex: &str,
    signed: &SignedDecision,
    decided: &Statement,
) -> Result<Statement, SignatureError> {
    verify(key_hex, signed.statement.as_bytes(), &signed.signature)?;
    let s = Statement::parse(&signed.statement)?;
    s.matches(decided)?;
    Ok(s)
}

/// A device key pair for tests (the browser makes its own with WebCrypto).
#[cfg(any(test, feature = "demo"))]
pub struct TestDevice {
    pair: ring::signature::EcdsaKeyPair,
}

#[cfg(any(test, feature = "demo"))]
impl TestDevice {
    pub fn new() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .expect("the system has randomness");
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
            .expect("a key ring just made parses");
        Self { pair }
    }

    pub fn public_hex(&self) -> String {
        use ring::signature::KeyPair;
        hex::encode(self.pair.public_key().as_ref())
    }

    pub fn sign(&self, message: &[u8]) -> String {
        let rng = ring::rand::SystemRandom::new();
        hex::encode(
            self.pair
                .sign(&rng, message)
                .expect("signing with a valid key")
                .as_ref(),
        )
    }

    /// Signs `s` as a device would: the statement's JSON text and its signature.
    pub fn sign_decision(&self, s: &Statement) -> SignedDecision {
        let statement = serde_json::to_string(s).expect("a statement serializes");
        SignedDecision {
            signature: self.sign(statement.as_bytes()),
            statement,
        }
    }
}

#[cfg(any(test, feature = "demo"))]
impl Default for TestDevice {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approve() -> Statement {
        Statement {
            what: STATEMENT.into(),
            kind: "approve".into(),
            target: "local:api#agent/x".into(),
            head: Some("abc".into()),
            key: Some("k".repeat(20)),
            comment: None,
            method: None,
            override_reason: None,
            send_back: None,
            at: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_device_signature_verifies_and_a_changed_text_does_not() {
        let d = TestDevice::new();
        let sig = d.sign(b"hello");
        verify(&d.public_hex(), b"hello", &sig).unwrap();
        assert_eq!(
            verify(&d.public_hex(), b"hellO", &sig),
            Err(SignatureError::Forged)
        );
        let other = TestDevice::new();
        assert_eq!(
            verify(&other.public_hex(), b"hello", &sig),
            Err(SignatureError::Forged)
        );
        assert_eq!(
            verify(&d.public_hex(), b"hello", "00"),
            Err(SignatureError::Malformed)
        );
        assert!(matches!(
            verify("04abcd", b"hello", &sig),
            Err(SignatureError::BadKey(_))
        ));
    }

    #[test]
    fn a_signed_decision_must_say_what_was_sent() {
        let d = TestDevice::new();
        let signed = d.sign_decision(&approve());
        check_decision(&d.public_hex(), &signed, &approve()).unwrap();

        let mut merge = approve();
        merge.kind = "merge".into();
        assert_eq!(
            check_decision(&d.public_hex(), &signed, &merge),
            Err(SignatureError::Differs("kind"))
        );
        let mut elsewhere = approve();
        elsewhere.head = Some("def".into());
        assert_eq!(
            check_decision(&d.public_hex(), &signed, &elsewhere),
            Err(SignatureError::Differs("head"))
        );
        // An empty comment and no comment are the same decision.
        let mut blank = approve();
        blank.comment = Some("  ".into());
        check_decision(&d.public_hex(), &signed, &blank).unwrap();

        let not_a_statement = SignedDecision {
            statement: "{\"what\":\"x\"}".into(),
            signature: d.sign(b"{\"what\":\"x\"}"),
        };
        assert!(matches!(
            check_decision(&d.public_hex(), &not_a_statement, &approve()),
            Err(SignatureError::BadStatement(_))
        ));
    }

    #[test]
    fn the_request_message_covers_the_body() {
        let a = request_message("POST", "/api/x", 1, "n", b"{}");
        let b = request_message("POST", "/api/x", 1, "n", b"{ }");
        assert_ne!(a, b);
        assert!(a.starts_with("flightdeck-request/1\nPOST\n/api/x\n1\nn\n"));
    }
}
