//! GitHub: a REST client done the way GitHub asks clients to behave (`client`), the sync that
//! keeps each watched repo's pull requests, checks and statuses in the store (`sync`), the token
//! (`token`), the sync status (`status`) and PR diffs (`diff`). The
//! background sync of everything GitHub holds is `crate::domain::forge_sync`; the outbox's applier is
//! `crate::domain::outbox::GitHubApplier`. One file per concern, re-exported here as `github::…`.
//!
//! The client sends the ETag it holds (`if-none-match`), so an unchanged resource costs a 304
//! that does not count against the rate limit; follows `link: rel="next"` as given; tracks
//! `x-ratelimit-*` and stops — returning when it may go on — when the primary limit is spent
//! or a secondary limit answers (honouring `retry-after`); retries 5xx answers, timeouts and
//! dropped connections with jittered exponential backoff. The token never leaves this module:
//! it is not stored, logged or put in an error.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK, USER_AGENT};
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::model::{Author, ChangeKind, ChangeRequest, Check};
use crate::sources::agent_for_branch;
use crate::store::Store;

mod client;
mod diff;
mod status;
mod sync;
mod token;

pub use client::*;
pub use diff::*;
pub use status::*;
pub use sync::*;
pub use token::*;

pub const DEFAULT_API: &str = "https://api.github.com";

/// The label that marks an issue as an incident (DORA's failures and restores) unless
/// `[github] incident_labels` says otherwise.
pub const INCIDENT_LABEL: &str = "incident";

/// `[github]` in the config file. The token is never configured (keyring or environment).
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// REST base URL: `https://api.github.com` (default), an Enterprise `https://HOST/api/v3`.
    pub api_url: Option<String>,
    /// Issue labels that mark an incident; default `incident`.
    pub incident_labels: Option<Vec<String>>,
}

impl Config {
    /// The REST base URL: `FLIGHTDECK_GITHUB_API`, else the file's, else GitHub's own.
    pub fn api_url(&self) -> String {
        crate::model::toml_file::env_or("FLIGHTDECK_GITHUB_API", self.api_url.clone())
            .unwrap_or_else(|| DEFAULT_API.to_string())
    }

    /// The incident labels, checked (`file` is the config file, for the error).
    pub fn incident_labels(
        &self,
        file: &std::path::Path,
    ) -> Result<Vec<String>, crate::model::toml_file::ConfigError> {
        let labels = self.incident_labels.as_deref();
        if let Some(bad) = labels
            .into_iter()
            .flatten()
            .find(|l| l.trim().is_empty() || l.contains(','))
        {
            return Err(crate::model::toml_file::ConfigError::Invalid {
                path: file.to_path_buf(),
                key: "github.incident_labels".into(),
                message: format!("`{bad}` is not a label (empty, or holds a comma)"),
            });
        }
        Ok(labels.map_or_else(|| vec![INCIDENT_LABEL.to_string()], <[String]>::to_vec))
    }
}

/// Attempts after the first for a 5xx, a timeout or a dropped connection.
const RETRIES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub's {} rate limit is spent until {}; nothing more is asked until then", if *.secondary { "secondary" } else { "primary" }, fmt_time(*.until))]
    RateLimited { until: i64, secondary: bool },
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {message}")]
    Network { url: String, message: String },
    /// Not reached at all: connection refused, no DNS answer, no answer in time.
    #[error("{url}: not reachable: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url}: the answer is not the JSON expected: {message}")]
    Shape { url: String, message: String },
    /// A URL the token may not go to (plain http to another machine, a link to another
    /// origin); nothing was sent.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_name_their_repo() {
        for remote in [
            "git@github.com:acme/widgets.git",
            "https://github.com/acme/widgets",
            "https://github.com/acme/widgets.git/",
            "ssh://git@github.com/acme/widgets.git",
        ] {
            assert_eq!(
                repo_of_remote(remote, "github.com").as_deref(),
                Some("acme/widgets"),
                "{remote}"
            );
        }
        assert_eq!(
            repo_of_remote("git@gitlab.com:acme/widgets.git", "github.com"),
            None
        );
        assert_eq!(
            repo_of_remote("https://github.com/acme", "github.com"),
            None
        );
    }

    #[test]
    fn next_links_are_taken_as_given() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            "<https://api.github.com/repositories/1/pulls?page=2>; rel=\"next\", <https://api.github.com/repositories/1/pulls?page=4>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        h.insert(LINK, "<https://x/p?page=1>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&h), None);
    }
}
