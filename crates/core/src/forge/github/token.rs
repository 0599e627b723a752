//! Finding this machine's GitHub token (environment, OS keyring, `gh auth token`) for one API
//! host, and the web host an API URL serves. A token is only ever found for the host it belongs
//! to; the client (`client.rs`) keeps it there.

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

/// The public GitHub's web host: the only one `GH_TOKEN` and `GITHUB_TOKEN` are sent to.
pub const PUBLIC_HOST: &str = "github.com";

/// What `find_token` asks of this machine; tests answer for it.
pub struct Lookups<'a> {
    /// An environment variable's value.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The OS keyring's secret for an account.
    pub keyring: &'a dyn Fn(&str) -> Option<String>,
    /// `gh auth token --hostname HOST`.
    pub gh: &'a dyn Fn(&str) -> Option<String>,
}

/// The token for the GitHub at `api_url`, and where it came from — never from config or the
/// store, and only one that belongs to that host:
/// - `GH_TOKEN` / `GITHUB_TOKEN` for the public GitHub only; `GH_ENTERPRISE_TOKEN` /
///   `GITHUB_ENTERPRISE_TOKEN` only for the host `GH_HOST` names (the GitHub CLI's rules);
/// - the OS keyring's token for this host (`flightdeck token set`);
/// - the GitHub CLI's login for this host (`gh auth token --hostname HOST`).
///
/// No token at all for an API that is not `https://` (plain `http://` only to this machine).
/// `None`: unauthenticated (60 requests an hour; fine for a look, not for a team).
pub fn find_token(api_url: &str) -> Option<(String, TokenSource)> {
    find_token_with(
        api_url,
        &Lookups {
            env: &|v| std::env::var(v).ok(),
            keyring: &|account| match crate::model::secrets::get(account) {
                Ok(t) => t,
                // No keyring on this machine is normal (a server, CI): the next source is asked.
                Err(e) => {
                    tracing::debug!("no token from the keyring: {e}");
                    None
                }
            },
            gh: &gh_auth_token,
        },
    )
}

/// [`find_token`] with this machine's answers given.
pub fn find_token_with(api_url: &str, ask: &Lookups<'_>) -> Option<(String, TokenSource)> {
    if let Err(why) = crate::model::secrets::check_secret_url(api_url) {
        tracing::warn!("no GitHub token is sent: {why}");
        return None;
    }
    let host = forge_host(api_url);
    let nonblank = |t: Option<String>| t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let env_vars: &[&'static str] = if host == PUBLIC_HOST {
        &["GH_TOKEN", "GITHUB_TOKEN"]
    } else if nonblank((ask.env)("GH_HOST")).is_some_and(|h| h.eq_ignore_ascii_case(&host)) {
        &["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"]
    } else {
        &[]
    };
    for var in env_vars {
        if let Some(t) = nonblank((ask.env)(var)) {
            return Some((t, TokenSource::Env(var)));
        }
    }
    let account = crate::model::secrets::github_account(&host);
    if let Some(t) = nonblank((ask.keyring)(&account)) {
        return Some((t, TokenSource::Keyring));
    }
    nonblank((ask.gh)(&host)).map(|t| (t, TokenSource::GhCli))
}

/// How to give the API at `api_url` a token, for a message saying it has none: only the ways
/// that reach that host.
pub fn how_to_add(api_url: &str) -> String {
    if let Err(why) = crate::model::secrets::check_secret_url(api_url) {
        return why;
    }
    let host = forge_host(api_url);
    if host == PUBLIC_HOST {
        "run `flightdeck token set`, set GH_TOKEN or run `gh auth login`".into()
    } else {
        format!(
            "run `flightdeck token set`, set GH_HOST={host} with GH_ENTERPRISE_TOKEN, or run \
             `gh auth login --hostname {host}` (GH_TOKEN is for github.com only)"
        )
    }
}

/// The GitHub CLI's token for `host`, asked by name so its login elsewhere is never used.
fn gh_auth_token(host: &str) -> Option<String> {
    let mut gh = std::process::Command::new("gh");
    // `gh` answers any host but github.com with GH_ENTERPRISE_TOKEN (and, in a Codespace, with
    // GITHUB_TOKEN) whatever GH_HOST says: only its stored login for `host` is wanted here.
    for var in [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "GH_HOST",
        "CODESPACES",
    ] {
        gh.env_remove(var);
    }
    let out = gh
        .args(["auth", "token", "--hostname", host])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).ok())
        .flatten()
}

/// The token alone (see `find_token`).
pub fn token(api_url: &str) -> Option<String> {
    find_token(api_url).map(|(t, _)| t)
}

/// The web host whose remotes this API serves, lower case: `api.github.com` → `github.com`,
/// `https://ghe.acme.dev/api/v3` → `ghe.acme.dev`, a local fake → its `host:port`.
pub fn forge_host(api_url: &str) -> String {
    let rest = api_url.split_once("://").map(|(_, r)| r).unwrap_or(api_url);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    host.strip_prefix("api.").unwrap_or(&host).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A machine with these environment variables, keyring accounts and `gh` logins; records
    /// the hosts `gh` was asked about.
    fn find(
        api_url: &str,
        env: &[(&str, &str)],
        keyring: &[(&str, &str)],
        gh: &[(&str, &str)],
    ) -> (Option<(String, TokenSource)>, Vec<String>) {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let keyring: HashMap<String, String> = keyring
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let gh: HashMap<String, String> = gh
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let asked = RefCell::new(Vec::new());
        let found = find_token_with(
            api_url,
            &Lookups {
                env: &|v| env.get(v).cloned(),
                keyring: &|a| keyring.get(a).cloned(),
                gh: &|h| {
                    asked.borrow_mut().push(h.to_string());
                    gh.get(h).cloned()
                },
            },
        );
        (found, asked.into_inner())
    }

    const PUBLIC: &str = "https://api.github.com";
    const GHE: &str = "https://ghe.acme.dev/api/v3";

    #[test]
    fn environment_tokens_go_to_the_public_github_only() {
        let env = [("GH_TOKEN", "public-token"), ("GITHUB_TOKEN", "other")];
        assert_eq!(
            find(PUBLIC, &env, &[], &[]).0,
            Some(("public-token".into(), TokenSource::Env("GH_TOKEN")))
        );
        for url in [GHE, "http://127.0.0.1:4010", "https://attacker.example"] {
            assert_eq!(find(url, &env, &[], &[]).0, None, "{url}");
        }
    }

    #[test]
    fn enterprise_tokens_go_only_to_the_host_gh_host_names() {
        let env = [
            ("GH_HOST", "ghe.acme.dev"),
            ("GH_ENTERPRISE_TOKEN", "ghe-token"),
            ("GH_TOKEN", "public-token"),
        ];
        assert_eq!(
            find(GHE, &env, &[], &[]).0,
            Some(("ghe-token".into(), TokenSource::Env("GH_ENTERPRISE_TOKEN")))
        );
        assert_eq!(find("https://ghe.other.dev/api/v3", &env, &[], &[]).0, None);
        // The public host still gets the public token, never the enterprise one.
        assert_eq!(
            find(PUBLIC, &env, &[], &[]).0.map(|t| t.0),
            Some("public-token".into())
        );
    }

    #[test]
    fn the_keyring_and_gh_are_asked_for_this_host_only() {
        let keyring = [("github:ghe.acme.dev", "kept-for-ghe")];
        assert_eq!(
            find(GHE, &[], &keyring, &[]).0,
            Some(("kept-for-ghe".into(), TokenSource::Keyring))
        );
        assert_eq!(find(PUBLIC, &[], &keyring, &[]).0, None);
        // `gh` is asked by host name: its github.com login does not go to the enterprise host.
        let gh = [("github.com", "gh-public")];
        let (found, asked) = find(GHE, &[], &[], &gh);
        assert_eq!((found, asked), (None, vec!["ghe.acme.dev".to_string()]));
        assert_eq!(
            find(PUBLIC, &[], &[], &gh).0,
            Some(("gh-public".into(), TokenSource::GhCli))
        );
    }

    #[test]
    fn no_token_goes_over_plain_http_to_another_machine() {
        let keyring = [("github:ghe.acme.dev", "kept")];
        let (found, asked) = find("http://ghe.acme.dev/api/v3", &[], &keyring, &[]);
        assert_eq!((found, asked), (None, vec![]));
        // This machine (a self-hosted forge on loopback, a test's fake) may have one.
        let keyring = [("github:127.0.0.1:4010", "local")];
        assert_eq!(
            find("http://127.0.0.1:4010", &[], &keyring, &[])
                .0
                .map(|t| t.0),
            Some("local".into())
        );
    }
}
