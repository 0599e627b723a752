//! Reading Flightdeck's TOML files (the config, the policy, the price overrides): one error type
//! whose messages name the file, the line, the column and the key, so a typo is found without
//! guessing. The bottom of the layers: it knows none of the features whose files it reads.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{column}: {message}{key}", key = key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to serve {bind} over plain HTTP: anyone on that network could read your session cookies and your workspace; pass --tls (a certificate made here), --tls-cert and --tls-key, or --behind-proxy when a proxy in front terminates TLS; or bind 127.0.0.1")]
    NonLoopbackPlain { bind: IpAddr },
    #[error("--tls-cert and --tls-key go together ([server] tls_cert and tls_key): give both, or --tls for a certificate made here")]
    TlsHalfPair,
    #[error("--behind-proxy says a proxy in front terminates TLS, and --tls (or --tls-cert) that this server does: choose one")]
    TlsAndProxy,
    #[error("no home directory found to place the config and data directories; set HOME or pass --database-url")]
    NoHome,
}

/// Parses TOML into `T`; an error names the file, line, column and the key being defined.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column, key) = match e.span() {
            Some(span) => locate(text, span.start),
            None => (1, 1, None),
        };
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message: e.message().to_string(),
        }
    })
}

/// 1-based line and column of byte `offset`, and the dotted key defined on that line.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let mut table = None;
    for l in before[..line_start].lines().rev() {
        let l = l.trim();
        if l.starts_with('[') {
            table = Some(l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
            break;
        }
    }
    let key = line_text.split_once('=').map(|(k, _)| k.trim().to_string());
    let key = match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    };
    (line, column, key)
}

/// A non-empty environment variable, else the configured value: a config section's override.
pub fn env_or(var: &str, configured: Option<String>) -> Option<String> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or(configured)
}
