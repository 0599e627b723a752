//! Finding this machine's GitHub token (environment, OS keyring, `gh auth token`) and the web
//! host an API URL serves.

/// Where a token was found, for `doctor` (the token itself is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Env(&'static str),
    Keyring,
    GhCli,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env(var) => write!(f, "${var}"),
            TokenSource::Keyring => f.write_str("the OS keyring"),
            TokenSource::GhCli => f.write_str("`gh auth token`"),
        }
    }
}

/// The token for the GitHub at `api_url`, and where it came from — never from config or the
/// store: `GH_TOKEN`, `GITHUB_TOKEN`, the OS keyring (`flightdeck token set`), else the GitHub
/// CLI's login. `None`: unauthenticated (60 requests an hour; fine for a look, not for a team).
pub fn find_token(api_url: &str) -> Option<(String, TokenSource)> {
    for var in ["GH_TOKEN", "GITHUB_TOKEN"] {
        if let Ok(t) = std::env::var(var) {
            if !t.trim().is_empty() {
                return Some((t.trim().to_string(), TokenSource::Env(var)));
            }
        }
    }
    let account = crate::model::secrets::github_account(&forge_host(api_url));
    match crate::model::secrets::get(&account) {
        Ok(Some(t)) if !t.trim().is_empty() => {
            return Some((t.trim().to_string(), TokenSource::Keyring))
        }
        Ok(_) => {}
        // No keyring on this machine is normal (a server, CI): the next source is asked.
        Err(e) => tracing::debug!("no token from the keyring: {e}"),
    }
    let out = std::process::Command::new("gh")
        .args(["auth", "token"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let t = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !t.trim().is_empty())
        .then(|| (t.trim().to_string(), TokenSource::GhCli))
}

/// The token alone (see `find_token`).
pub fn token(api_url: &str) -> Option<String> {
    find_token(api_url).map(|(t, _)| t)
}

/// The web host whose remotes this API serves: `api.github.com` → `github.com`,
/// `https://ghe.acme.dev/api/v3` → `ghe.acme.dev`, a local fake → its `host:port`.
pub fn forge_host(api_url: &str) -> String {
    let rest = api_url.split_once("://").map(|(_, r)| r).unwrap_or(api_url);
    let host = rest.split('/').next().unwrap_or(rest);
    host.strip_prefix("api.").unwrap_or(host).to_string()
}
