//! What a dispatched agent's process sees of Flightdeck's environment: an allow-list, and never
//! the lead's credentials. Flightdeck's own tokens (`FLIGHTDECK_*`), the forge token
//! (`GH_TOKEN`, `GITHUB_TOKEN`, …) and the vendors' billing admin keys stay out even when an
//! agent's `env` names them; an agent gets the basics a program needs (`PATH`, `HOME`, locale,
//! `XDG_*`, where agents keep their logs, proxies and CA certificates), its vendor's own
//! credentials, and what its `env` adds. `SSH_AUTH_SOCK` is the lead's keys: only by `env`.
//!
//! This is a boundary of the environment only: the agent runs as the lead's OS user and can read
//! whatever that user can (files, the OS keyring). The README says so.

use std::ffi::OsString;

/// What any program needs; where the agents keep their logs and logins (Flightdeck reads a
/// run's log from the same place); how the network is reached (proxies, extra CA certificates).
const BASE: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "TZ",
    "TMPDIR",
    "NO_COLOR",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_DATA_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
];
const BASE_PREFIXES: &[&str] = &["LC_", "XDG_"];

/// The lead's and Flightdeck's credentials: never passed on.
const SECRETS: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "ANTHROPIC_ADMIN_KEY",
    "OPENAI_ADMIN_KEY",
    "GROWTHBOOK_API_KEY",
];

/// Whether `name` is a credential no agent gets.
pub fn is_secret(name: &str) -> bool {
    SECRETS.contains(&name) || name.starts_with("FLIGHTDECK_")
}

/// The agent's own credentials, by its vendor (what it needs to work, not to administer
/// billing): API keys, and Claude Code's headless login token.
fn vendor_keys(vendor: Option<&str>) -> &'static [&'static str] {
    match vendor.map(str::to_ascii_lowercase).as_deref() {
        Some("anthropic" | "claude") => &[
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
        ],
        Some("openai" | "codex") => &["OPENAI_API_KEY"],
        Some("google" | "gemini") => &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        _ => &[],
    }
}

/// Whether an agent of `vendor` with `extra` in its `env` gets variable `name`.
pub fn allowed(name: &str, vendor: Option<&str>, extra: &[String]) -> bool {
    !is_secret(name)
        && (BASE.contains(&name)
            || BASE_PREFIXES.iter().any(|p| name.starts_with(p))
            || vendor_keys(vendor).contains(&name)
            || extra.iter().any(|e| e == name))
}

/// The variables of `from` (this process's environment) the agent gets.
pub fn filter(
    from: impl Iterator<Item = (OsString, OsString)>,
    vendor: Option<&str>,
    extra: &[String],
) -> Vec<(OsString, OsString)> {
    from.filter(|(k, _)| k.to_str().is_some_and(|k| allowed(k, vendor, extra)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_pass_and_the_rest_is_an_allow_list() {
        let env: Vec<(OsString, OsString)> = [
            "PATH",
            "HOME",
            "LC_ALL",
            "XDG_CONFIG_HOME",
            "GH_TOKEN",
            "GITHUB_TOKEN",
            "FLIGHTDECK_TOKEN",
            "FLIGHTDECK_WEBHOOK_TOKEN",
            "ANTHROPIC_ADMIN_KEY",
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "SSH_AUTH_SOCK",
            "CLAUDE_CONFIG_DIR",
            "HTTPS_PROXY",
            "MY_TOOL_HOME",
        ]
        .iter()
        .map(|k| (OsString::from(k), OsString::from("v")))
        .collect();
        let extra = vec!["MY_TOOL_HOME".to_string(), "GH_TOKEN".to_string()];
        let got: Vec<String> = filter(env.into_iter(), Some("Anthropic"), &extra)
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "PATH",
                "HOME",
                "LC_ALL",
                "XDG_CONFIG_HOME",
                "ANTHROPIC_API_KEY",
                "CLAUDE_CONFIG_DIR",
                "HTTPS_PROXY",
                "MY_TOOL_HOME"
            ]
        );
    }
}
