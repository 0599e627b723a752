//! SPAKE2 (RFC 9382) over edwards25519 with SHA-256, HKDF and HMAC: how a phone proves it
//! holds the pairing code without the code ever crossing the network, so someone who only
//! watched the traffic (or the server's log) learns nothing they can pair with. The phone is A,
//! the server B. Both roles are here: the server runs B, the tests (and any native client) A;
//! the browser's A is `ui/src/pake.ts`, the same steps in TypeScript.
//!
//! 1. Both derive the scalar `w` from the code: SHA-512("flightdeck-pair/1" || code), read
//!    little-endian, mod the group order. (RFC 9382 asks for a memory-hard function of a
//!    password; a pairing code is 128 random bits, which no dictionary reaches.)
//! 2. A picks `x`, sends `pA = x·G + w·M`. B picks `y`, sends `pB = y·G + w·N`.
//! 3. A computes `K = h·x·(pB − w·N)`, B `K = h·y·(pA − w·M)` (h = 8, the cofactor).
//! 4. `TT = len‖A ‖ len‖B ‖ len‖pA ‖ len‖pB ‖ len‖K ‖ len‖w` (lengths 8-byte little-endian),
//!    `Ke ‖ Ka = SHA-256(TT)`, `KcA ‖ KcB = HKDF-SHA256(Ka, salt = none,
//!    info = "ConfirmationKeys" ‖ AAD)` (16 bytes each), `cA = HMAC(KcA, TT)`,
//!    `cB = HMAC(KcB, TT)`.
//!
//! The AAD is the device's public key: a confirmation made for one key does not confirm
//! another, so nobody in the middle can swap in their own key. M and N are RFC 9382's
//! edwards25519 points (section 6).

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha256, Sha512};

/// RFC 9382, section 6: M for edwards25519.
const M: [u8; 32] = hex32("d048032c6ea0b6d697ddc2e86bda85a33adac920f1bf18e1b0c6d166a5cecdaf");
/// RFC 9382, section 6: N for edwards25519.
const N: [u8; 32] = hex32("d3bfb518f44f3430f29d0c92af503865a1ed3281dc69b35dd868ba85f886c4ab");

/// The identities both sides put in the transcript.
pub const ID_DEVICE: &[u8] = b"flightdeck device";
pub const ID_SERVER: &[u8] = b"flightdeck server";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PakeError {
    #[error("the pairing message is not a point on the curve")]
    BadPoint,
    #[error("the pairing message is a small-order point (refused: it would fix the key)")]
    SmallOrder,
    #[error("the pairing code did not match (the confirmation does not verify)")]
    Mismatch,
    #[error("no randomness for pairing: {0}")]
    Random(String),
}

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not lowercase hex"),
    }
}

fn point(bytes: &[u8; 32]) -> Result<EdwardsPoint, PakeError> {
    CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or(PakeError::BadPoint)
}

/// The scalar `w` both sides derive from the pairing code.
pub fn password_scalar(code: &str) -> [u8; 32] {
    let mut h = Sha512::new();
    h.update(b"flightdeck-pair/1");
    h.update(code.as_bytes());
    Scalar::from_bytes_mod_order_wide(&h.finalize().into()).to_bytes()
}

fn random_scalar() -> Result<Scalar, PakeError> {
    let mut b = [0u8; 64];
    getrandom::getrandom(&mut b).map_err(|e| PakeError::Random(e.to_string()))?;
    Ok(Scalar::from_bytes_mod_order_wide(&b))
}

/// One side's half-finished exchange: its secret scalar and the message it sent.
#[derive(Clone)]
pub struct Half {
    secret: Scalar,
    w: Scalar,
    sent: [u8; 32],
    device: bool,
}

/// Both confirmations and the shared key, once the other side's message is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The device's confirmation (`cA`).
    pub device_confirms: [u8; 32],
    /// The server's confirmation (`cB`).
    pub server_confirms: [u8; 32],
    /// The shared key `Ke` (unused beyond pairing: the device's own key signs from then on).
    pub shared: [u8; 16],
}

impl Half {
    /// The device's first step: `pA`, to send.
    pub fn device(w: &[u8; 32]) -> Result<Self, PakeError> {
        Self::start(w, true)
    }

    /// The server's step: `pB`, to send back.
    pub fn server(w: &[u8; 32]) -> Result<Self, PakeError> {
        Self::start(w, false)
    }

    fn start(w: &[u8; 32], device: bool) -> Result<Self, PakeError> {
        Self::with_secret(w, random_scalar()?, device)
    }

    fn with_secret(w: &[u8; 32], secret: Scalar, device: bool) -> Result<Self, PakeError> {
        let w = Scalar::from_bytes_mod_order(*w);
        let blind = point(if device { &M } else { &N })?;
        let sent = (ED25519_BASEPOINT_POINT * secret + blind * w)
            .compress()
            .to_bytes();
        Ok(Self {
            secret,
            w,
            sent,
            device,
        })
    }

    /// The message this side sends.
    pub fn message(&self) -> [u8; 32] {
        self.sent
    }

    /// Takes the other side's message; `aad` binds what is being paired (the device's key).
    pub fn finish(&self, theirs: &[u8; 32], aad: &[u8]) -> Result<Keys, PakeError> {
        let their_point = point(theirs)?;
        if their_point.is_small_order() {
            return Err(PakeError::SmallOrder);
        }
        let unblind = point(if self.device { &N } else { &M })?;
        let k = ((their_point - unblind * self.w) * self.secret).mul_by_cofactor();
        if k.is_identity() {
            return Err(PakeError::SmallOrder);
        }
        let k = k.compress().to_bytes();
        let (p_a, p_b) = if self.device {
            (&self.sent, theirs)
        } else {
            (theirs, &self.sent)
        };
        let mut tt = Vec::with_capacity(6 * 8 + 2 * 17 + 4 * 32);
        for part in [
            ID_DEVICE,
            ID_SERVER,
            &p_a[..],
            &p_b[..],
            &k[..],
            &self.w.to_bytes()[..],
        ] {
            tt.extend_from_slice(&(part.len() as u64).to_le_bytes());
            tt.extend_from_slice(part);
        }
        let digest = Sha256::digest(&tt);
        let (ke, ka) = digest.split_at(16);
        let mut info = b"ConfirmationKeys".to_vec();
        info.extend_from_slice(aad);
        let kc = hkdf_sha256(ka, &info, 32);
        let (kc_a, kc_b) = kc.split_at(16);
        let mut shared = [0u8; 16];
        shared.copy_from_slice(ke);
        Ok(Keys {
            device_confirms: hmac_sha256(kc_a, &tt),
            server_confirms: hmac_sha256(kc_b, &tt),
            shared,
        })
    }
}

/// Equal byte strings, compared in time that depends only on their lengths (tokens,
/// confirmations: how much of a guess matched must not show in the timing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `given` is `expected`, in constant time.
pub fn confirms(expected: &[u8; 32], given: &[u8]) -> Result<(), PakeError> {
    if constant_time_eq(expected, given) {
        Ok(())
    } else {
        Err(PakeError::Mismatch)
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// HKDF-SHA256 (RFC 5869) with no salt (a zero-filled one, as the RFC says).
fn hkdf_sha256(ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let prk = hmac_sha256(&[0u8; 32], ikm);
    let mut out = Vec::with_capacity(len);
    let mut block: Vec<u8> = Vec::new();
    let mut counter = 1u8;
    while out.len() < len {
        let mut msg = block.clone();
        msg.extend_from_slice(info);
        msg.push(counter);
        block = hmac_sha256(&prk, &msg).to_vec();
        out.extend_from_slice(&block);
        counter += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m_and_n_are_points_of_the_prime_order_group() {
        for p in [M, N] {
            let p = point(&p).unwrap();
            assert!(p.is_torsion_free() && !p.is_small_order());
        }
    }

    #[test]
    fn both_sides_agree_when_the_codes_match() {
        let w = password_scalar("c0ffee");
        let device = Half::device(&w).unwrap();
        let server = Half::server(&w).unwrap();
        let d = device.finish(&server.message(), b"key-1").unwrap();
        let s = server.finish(&device.message(), b"key-1").unwrap();
        assert_eq!(d, s);
        confirms(&s.device_confirms, &d.device_confirms).unwrap();
        assert_ne!(d.device_confirms, d.server_confirms);
    }

    #[test]
    fn a_wrong_code_or_another_key_does_not_confirm() {
        let device = Half::device(&password_scalar("c0ffee")).unwrap();
        let server = Half::server(&password_scalar("c0ffef")).unwrap();
        let d = device.finish(&server.message(), b"k").unwrap();
        let s = server.finish(&device.message(), b"k").unwrap();
        assert_eq!(
            confirms(&s.device_confirms, &d.device_confirms),
            Err(PakeError::Mismatch)
        );

        // The right code, but the confirmation was made for another device key.
        let w = password_scalar("c0ffee");
        let device = Half::device(&w).unwrap();
        let server = Half::server(&w).unwrap();
        let d = device.finish(&server.message(), b"attacker's key").unwrap();
        let s = server.finish(&device.message(), b"phone's key").unwrap();
        assert!(confirms(&s.device_confirms, &d.device_confirms).is_err());
    }

    #[test]
    fn bad_and_small_order_messages_are_refused() {
        let server = Half::server(&password_scalar("c0ffee")).unwrap();
        let identity = EdwardsPoint::default().compress().to_bytes();
        assert_eq!(server.finish(&identity, b""), Err(PakeError::SmallOrder));
        // y = 2 is not on the curve.
        let mut off = [0u8; 32];
        off[0] = 2;
        assert_eq!(server.finish(&off, b""), Err(PakeError::BadPoint));
    }

    /// Fixed secrets, so the browser's side (`ui/src/pake.test.ts`) can be checked against
    /// the same numbers: both sides must compute every byte alike.
    #[test]
    fn a_fixed_exchange_gives_the_recorded_bytes() {
        let w = password_scalar("c0ffee");
        let device = Half::with_secret(&w, Scalar::from(7u64), true).unwrap();
        let server = Half::with_secret(&w, Scalar::from(11u64), false).unwrap();
        let keys = device.finish(&server.message(), b"04ab").unwrap();
        assert_eq!(keys, server.finish(&device.message(), b"04ab").unwrap());
        let got = [
            hex::encode(w),
            hex::encode(device.message()),
            hex::encode(server.message()),
            hex::encode(keys.device_confirms),
            hex::encode(keys.server_confirms),
        ];
        assert_eq!(got, VECTOR);
    }

    const VECTOR: [&str; 5] = [
        "af13c114b67c35cc3c401682e468e09147737bbabcec192f1470015fd36ff308",
        "ba5c4623c6c1d92a6bb109f9a56cbae94a74b919d6e77d37803b798551e778c4",
        "be3a40894bee2d2228e0cebe9721610e8e5848de8beb1b84fd22dbaec58c63b6",
        "9565bccbb6969d38f77a5b52fa15f5b020d7d4c2ef3d3b9fa37371e3bc80961c",
        "a7f3982ace3bf55b5107f168167c5ea3346a364c1ee4bd128456a68d7d6b5c04",
    ];

    #[test]
    fn hkdf_matches_rfc_5869_test_case_3() {
        // RFC 5869 A.3: SHA-256, no salt, no info.
        let okm = hkdf_sha256(&[0x0b; 22], &[], 42);
        assert_eq!(
            hex::encode(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
             9d201395faa4b61a96c8"
        );
    }
}
