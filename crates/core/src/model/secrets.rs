//! Secrets kept in the OS keyring — the macOS Keychain, the Windows Credential Manager, the
//! Secret Service (GNOME Keyring, KWallet) on Linux: today the GitHub token, per API host. They
//! never go in the database, the config file or a log line.

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
