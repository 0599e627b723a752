//! Secrets kept in the OS keyring — the macOS Keychain, the Windows Credential Manager, the
//! Secret Service (GNOME Keyring, KWallet) on Linux: the GitHub token per API host, vendor and
//! GrowthBook keys. They never go in the database, the config file or a log line; and the rules
//! for where one may be sent (`check_secret_url`, `same_origin_redirects`) live here too.

/// Whether a secret may go to `url`: over `https://`, or plain `http://` only to this machine
/// (a self-hosted service on loopback, a test's fake), never in the clear over a network.
/// `Err` is a one-line reason naming the URL.
pub fn check_secret_url(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match u.scheme() {
        "https" if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(u),
        "http" if is_loopback(&u) => Ok(u),
        _ => Err(format!(
            "`{url}`: a token or key is sent only over https (plain http only to this machine)"
        )),
    }
}

/// Whether `u` names this machine: `localhost` or a loopback address.
pub fn is_loopback(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether two URLs share scheme, host and port: a credential given to one may go to the other.
pub fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.origin() == b.origin()
}

/// A redirect policy for clients that carry a credential: a redirect is followed (up to 10)
/// only within the origin of the first request, so a secret never follows one elsewhere.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        match first {
            Some(first) if attempt.previous().len() > 10 => {
                attempt.error(format!("more than 10 redirects from {first}"))
            }
            Some(first) if !same_origin(&first, attempt.url()) => attempt.stop(),
            _ => attempt.follow(),
        }
    })
}

/// The keyring's service name for every Flightdeck secret.
pub const SERVICE: &str = "flightdeck";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No keyring to talk to (no Secret Service on the session bus, say).
    #[error("the OS keyring is not available: {0}")]
    Unavailable(String),
    #[error("the OS keyring refused: {0}")]
    Keyring(String),
}

/// The keyring account of the GitHub token for API host `host` (`github.com`, `ghe.acme.dev`).
pub fn github_account(host: &str) -> String {
    format!("github:{host}")
}

/// Runs `f` on an entry on a thread of its own: the Secret Service client blocks on its own
/// executor, which must not run inside the caller's async runtime.
fn with_entry<T: Send + 'static>(
    account: &str,
    f: impl FnOnce(keyring::Entry) -> Result<T, keyring::Error> + Send + 'static,
) -> Result<T, SecretError> {
    let account = account.to_string();
    std::thread::spawn(move || keyring::Entry::new(SERVICE, &account).and_then(f))
        .join()
        .map_err(|_| SecretError::Keyring("the keyring client panicked".into()))?
        .map_err(|e| match e {
            keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
                SecretError::Unavailable(e.to_string())
            }
            other => SecretError::Keyring(other.to_string()),
        })
}

/// The secret stored for `account`, if any.
pub fn get(account: &str) -> Result<Option<String>, SecretError> {
    with_entry(account, |e| match e.get_password() {
        Ok(p) => Ok(Some(p)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(other) => Err(other),
    })
}

/// Stores `secret` for `account`, replacing what was there.
pub fn set(account: &str, secret: &str) -> Result<(), SecretError> {
    let secret = secret.to_string();
    with_entry(account, move |e| e.set_password(&secret))
}

/// Removes `account`'s secret; false when there was none.
pub fn delete(account: &str) -> Result<bool, SecretError> {
    with_entry(account, |e| match e.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(other) => Err(other),
    })
}
