//! Signing in from a browser, the same for every front end that serves the web UI: a one-time
//! login code (printed by `serve` and `demo`, made by `flightdeck login`) opens a session whose
//! secret the browser keeps in a cookie. Codes and session secrets are random and shown once;
//! the store keeps their SHA-256 only. Anyone who can write the database can make a code,
//! which is the same trust as reading the lead's data from it.
//!
//! Pairing a phone is stronger: the code is run through SPAKE2 (`model::pake`), so it never
//! crosses the network, and the phone enrols a key of its own (`model::device`) that signs its
//! requests and its decisions from then on.

use sha2::{Digest, Sha256};

use crate::model::audit::{AuditKey, Decision, DeviceMark, DEVICE_PAIRED};
use crate::model::device;
use crate::model::error::{random_hex, Error};
use crate::model::pake::{self, Half, PakeError};
use crate::store::{Redeemed, SessionRow, Store};

/// How long a login code can be used: long enough to copy a link to a phone.
pub const LOGIN_CODE_SECS: i64 = 10 * 60;
/// How long a pairing code (a link for another device, shown as a QR code) can be used.
pub const PAIR_CODE_SECS: i64 = 5 * 60;
/// How long a session lasts from sign-in; signing in again makes a new one.
pub const SESSION_SECS: i64 = 30 * 86_400;
/// How often a session's "last seen" is written: often enough for a list, not once per request.
const TOUCH_EVERY_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("this sign-in link is not one this Flightdeck made (mistyped, or from another database); run `flightdeck login` for a new one")]
    UnknownCode,
    #[error("this sign-in link was used already (each signs in once); run `flightdeck login` for a new one")]
    UsedCode,
    #[error("this sign-in link expired (links last {} minutes, pairing codes {}); run `flightdeck login` or pair again for a new one", LOGIN_CODE_SECS / 60, PAIR_CODE_SECS / 60)]
    ExpiredCode,
    #[error("no open session `{0}` (see `flightdeck devices list`)")]
    UnknownSession(String),
    #[error("this pairing code is not one this Flightdeck made (mistyped, or from another database); pair again for a new one")]
    UnknownPairing,
    #[error(
        "this pairing code was used already (each pairs one device once); pair again for a new one"
    )]
    UsedPairing,
    #[error("this pairing code expired (pairing codes last {} minutes); pair again for a new one", PAIR_CODE_SECS / 60)]
    ExpiredPairing,
    #[error("pairing failed: {0}; the code is spent, pair again for a new one")]
    Pairing(#[from] PakeError),
    #[error("pairing failed: {0}")]
    DeviceKey(#[from] device::SignatureError),
    #[error(transparent)]
    Store(#[from] Error),
}

/// A session just opened: its secret (for the cookie, shown nowhere else) and its row.
#[derive(Debug, Clone)]
pub struct Opened {
    pub secret: String,
    pub session: SessionRow,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a login code valid for [`LOGIN_CODE_SECS`]; the caller shows it once (in a URL).
pub async fn issue_login_code(store: &Store, now: i64) -> Result<String, AccessError> {
    issue_login_code_for(store, None, now).await
}

/// A login code whose session acts as `person` (a `[team]` member id or a name; `None`: as the
/// instance that serves it).
pub async fn issue_login_code_for(
    store: &Store,
    person: Option<&str>,
    now: i64,
) -> Result<String, AccessError> {
    let code = random_hex(16, "a login code")?;
    store
        .insert_login_code(&hash(&code), now, now + LOGIN_CODE_SECS, None, person)
        .await?;
    Ok(code)
}

/// Makes a code for pairing another device (a phone scanning a QR code), valid for
/// [`PAIR_CODE_SECS`]: `ID.SECRET`, where the id is public (it names the code to the server)
/// and the secret never leaves the link's fragment; the phone proves it holds it through
/// SPAKE2 ([`pair_start`], [`pair_finish`]). The session it opens is named `name` when given.
pub async fn issue_pairing_code(
    store: &Store,
    name: Option<&str>,
    now: i64,
) -> Result<String, AccessError> {
    issue_pairing_code_for(store, name, None, now).await
}

/// A pairing code whose device acts as `person` (see [`issue_login_code_for`]).
pub async fn issue_pairing_code_for(
    store: &Store,
    name: Option<&str>,
    person: Option<&str>,
    now: i64,
) -> Result<String, AccessError> {
    let id = random_hex(6, "a pairing code")?;
    let secret = random_hex(16, "a pairing code")?;
    let name = name.map(short_label).filter(|n| n != UNNAMED);
    let verifier = hex::encode(pake::password_scalar(&secret));
    store
        .insert_pairing_code(
            &id,
            &verifier,
            name.as_deref(),
            person,
            now,
            now + PAIR_CODE_SECS,
        )
        .await?;
    Ok(format!("{id}.{secret}"))
}

/// A pairing under way: the server's half of SPAKE2 for one code, kept by the front end
/// between the device's two requests (a minute at most).
#[derive(Clone)]
pub struct PairingStarted {
    pub code_id: String,
    half: Half,
    /// The device's first message.
    device_message: [u8; 32],
}

impl PairingStarted {
    /// The server's message, for the device.
    pub fn message(&self) -> [u8; 32] {
        self.half.message()
    }
}

/// The server's side of the first step: the device names a live code and sends `pA`.
/// Nothing is spent yet (a code is spent by the step that could confirm it).
pub async fn pair_start(
    store: &Store,
    code_id: &str,
    device_message: &[u8; 32],
    now: i64,
) -> Result<PairingStarted, AccessError> {
    let row = store
        .pairing_code(code_id)
        .await?
        .ok_or(AccessError::UnknownPairing)?;
    if row.used_at.is_some() {
        return Err(AccessError::UsedPairing);
    }
    if row.expires_at <= now {
        return Err(AccessError::ExpiredPairing);
    }
    let w: [u8; 32] = hex::decode(&row.verifier)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            AccessError::Store(Error::Invalid {
                path: "pairing_codes.verifier".into(),
                message: format!("pairing code {code_id} has a damaged verifier"),
            })
        })?;
    Ok(PairingStarted {
        code_id: code_id.to_string(),
        half: Half::server(&w)?,
        device_message: *device_message,
    })
}

/// A device paired: its session (cookie secret and row) and the server's confirmation, which
/// shows the device it paired with the server that made the code.
#[derive(Debug, Clone)]
pub struct Paired {
    pub opened: Opened,
    pub server_confirms: [u8; 32],
}

/// The last step: the device sends its public key and its confirmation (made for that key).
/// The code is spent first, whatever follows: a wrong confirmation is an online guess, and it
/// costs the code. On success the device's key is enrolled in the audit log and its session
/// opened.
pub async fn pair_finish(
    store: &Store,
    audit: &AuditKey,
    started: &PairingStarted,
    device_key: &str,
    device_confirms: &[u8],
    now: i64,
) -> Result<Paired, AccessError> {
    device::parse_key(device_key)?;
    if !store.spend_pairing_code(&started.code_id, now).await? {
        return Err(match store.pairing_code(&started.code_id).await? {
            Some(r) if r.used_at.is_some() => AccessError::UsedPairing,
            Some(_) => AccessError::ExpiredPairing,
            None => AccessError::UnknownPairing,
        });
    }
    let keys = started
        .half
        .finish(&started.device_message, device_key.as_bytes())?;
    pake::confirms(&keys.device_confirms, device_confirms)?;
    let code = store.pairing_code(&started.code_id).await?;
    let person = code.as_ref().and_then(|r| r.person.clone());
    let label = code
        .and_then(|r| r.label)
        .unwrap_or_else(|| "paired device".to_string());
    let device_key = device_key.to_ascii_lowercase();
    let secret = random_hex(32, "a session")?;
    let session = SessionRow {
        id: random_hex(4, "a session name")?,
        label: label.clone(),
        created_at: now,
        last_seen: now,
        expires_at: now + SESSION_SECS,
        revoked_at: None,
        device_key: Some(device_key.clone()),
        person,
    };
    // Enrolled in the log first: a session whose key the log does not know would sign
    // decisions `audit verify` calls unpaired.
    store
        .append_audit_by(
            audit,
            &Decision {
                at: now,
                actor: "flightdeck",
                action: DEVICE_PAIRED,
                target: &session.id,
                detail: &label,
            },
            Some(DeviceMark {
                key: &device_key,
                signature: "",
            }),
        )
        .await?;
    store.insert_session(&session, &hash(&secret)).await?;
    Ok(Paired {
        opened: Opened { secret, session },
        server_confirms: keys.server_confirms,
    })
}

/// Uses a login code (once) and opens a session labelled `label` (what the browser says it is).
pub async fn sign_in(
    store: &Store,
    code: &str,
    label: &str,
    now: i64,
) -> Result<Opened, AccessError> {
    let (named, person) = match store.redeem_login_code(&hash(code.trim()), now).await? {
        Redeemed::Now { label, person } => (label, person),
        Redeemed::Unknown => return Err(AccessError::UnknownCode),
        Redeemed::Used => return Err(AccessError::UsedCode),
        Redeemed::Expired => return Err(AccessError::ExpiredCode),
    };
    let secret = random_hex(32, "a session")?;
    let session = SessionRow {
        id: random_hex(4, "a session name")?,
        label: named.unwrap_or_else(|| short_label(label)),
        created_at: now,
        last_seen: now,
        expires_at: now + SESSION_SECS,
        revoked_at: None,
        device_key: None,
        person,
    };
    store.insert_session(&session, &hash(&secret)).await?;
    Ok(Opened { secret, session })
}

/// The open session whose secret this is (`None`: unknown, expired or revoked). Notes that it
/// was seen, at most once a minute.
pub async fn session(
    store: &Store,
    secret: &str,
    now: i64,
) -> Result<Option<SessionRow>, AccessError> {
    let Some(mut s) = store.session_by_hash(&hash(secret)).await? else {
        return Ok(None);
    };
    if s.revoked_at.is_some() || s.expires_at <= now {
        return Ok(None);
    }
    if now - s.last_seen >= TOUCH_EVERY_SECS {
        store.touch_session(&s.id, now).await?;
        s.last_seen = now;
    }
    Ok(Some(s))
}

/// Ends the session with this public id (sign-out, or revoking a lost browser).
pub async fn revoke(store: &Store, id: &str, now: i64) -> Result<(), AccessError> {
    if store.revoke_session(id, now).await? {
        Ok(())
    } else {
        Err(AccessError::UnknownSession(id.to_string()))
    }
}

const UNNAMED: &str = "unnamed browser";

/// The browser's name for itself, cut to what a list needs and to printable characters.
fn short_label(user_agent: &str) -> String {
    let clean: String = user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if clean.trim().is_empty() {
        UNNAMED.to_string()
    } else {
        clean.trim().to_string()
    }
}

/// Records a decision a paired device signed in the audit log, with the device's key and
/// signature, so `audit verify` can show the device made it — once: a resend of the same
/// signed decision (its answer lost) finds it there, and one whose first recording failed
/// after the decision was taken is recorded now. The caller checks the signature first
/// ([`device::check_decision`]) and records once the decision is taken.
pub async fn record_signed(
    store: &Store,
    audit: &AuditKey,
    d: &device::DeviceDecision,
    target: &str,
    kind: &str,
    now: i64,
) -> Result<(), Error> {
    if store
        .audit_has_device_signature(&d.signed.signature)
        .await?
    {
        return Ok(());
    }
    store
        .append_audit_by(
            audit,
            &Decision {
                at: now,
                actor: &d.by.name,
                action: &format!("{kind}{}", crate::model::audit::SIGNED_SUFFIX),
                target,
                detail: &d.signed.statement,
            },
            Some(DeviceMark {
                key: &d.by.key,
                signature: &d.signed.signature,
            }),
        )
        .await?;
    Ok(())
}
