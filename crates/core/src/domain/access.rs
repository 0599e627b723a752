//! Signing in from a browser, the same for every front end that serves the web UI: a one-time
//! login code (printed by `serve` and `demo`, made by `flightdeck login`) opens a session whose
//! secret the browser keeps in a cookie. Codes and session secrets are random and shown once;
//! the store keeps their SHA-256 only. Anyone who can write the database can make a code,
//! which is the same trust as reading the lead's data from it.

use sha2::{Digest, Sha256};

use crate::model::error::{random_hex, Error};
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
    let code = random_hex(16, "a login code")?;
    store
        .insert_login_code(&hash(&code), now, now + LOGIN_CODE_SECS, None)
        .await?;
    Ok(code)
}

/// Makes a code for pairing another device (a phone scanning a QR code), valid for
/// [`PAIR_CODE_SECS`]; the session it opens is named `name` when given.
pub async fn issue_pairing_code(
    store: &Store,
    name: Option<&str>,
    now: i64,
) -> Result<String, AccessError> {
    let code = random_hex(16, "a pairing code")?;
    let name = name.map(short_label).filter(|n| n != UNNAMED);
    store
        .insert_login_code(&hash(&code), now, now + PAIR_CODE_SECS, name.as_deref())
        .await?;
    Ok(code)
}

/// Uses a login code (once) and opens a session labelled `label` (what the browser says it is).
pub async fn sign_in(
    store: &Store,
    code: &str,
    label: &str,
    now: i64,
) -> Result<Opened, AccessError> {
    let named = match store.redeem_login_code(&hash(code.trim()), now).await? {
        Redeemed::Now { label } => label,
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
