//! Incidents from labelled issues: every issue of a watched GitHub repo carrying one of the
//! incident labels (`[github] incident_labels`, default `incident`), open or closed, with the times the issue itself records (opened, closed).
//! DORA attributes each to the last successful production deploy of its repo at or before the
//! moment it opened — DevLake's rule — so that deploy counts as failed, and the incident's
//! open → close is its time to restore (see `core::dora`). Incidents from elsewhere (a pager,
//! a status page) are recorded the same way through `record` (`flightdeck incident record`,
//! `POST /api/incidents`).

use serde::Deserialize;
use serde_json::Value;

use crate::forge::github::{GitHub, GitHubError};
use crate::model::Incident;
use crate::store::Store;

/// The label that makes an issue an incident unless configured otherwise.
pub const LABEL: &str = crate::forge::github::INCIDENT_LABEL;

/// What an incident sync found: how many incidents there are, and the issues it could not read
/// (each named, with why; the rest were read, and a stored one is kept as it was).
#[derive(Debug, Default)]
pub struct IncidentSync {
    pub incidents: usize,
    pub skipped: Vec<String>,
}

/// Reads every issue of `full_name` carrying any of `labels` (open and closed; pull requests
/// left out) into incidents of the repo at `repo_key`; those no longer labelled are dropped.
pub async fn sync_github(
    gh: &GitHub,
    store: &Store,
    full_name: &str,
    repo_key: &str,
    labels: &[String],
) -> Result<IncidentSync, GitHubError> {
    // GitHub's `labels` filter wants all the labels it is given: one list per label.
    let mut list: Vec<Value> = Vec::new();
    for label in labels {
        let path = format!(
            "/repos/{full_name}/issues?state=all&labels={}&per_page=100",
            query_value(label)
        );
        for item in gh.get_all(&path).await? {
            if !list.iter().any(|seen| seen["number"] == item["number"]) {
                list.push(item);
            }
        }
    }
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    let mut read = 0;
    for item in list.iter().filter(|i| i.get("pull_request").is_none()) {
        let id = item["number"]
            .as_u64()
            .map(|n| format!("github:{full_name}#{n}"));
        match incident_of(item, full_name, repo_key) {
            Ok(incident) => {
                store.upsert_incident(&incident).await?;
                kept.push(incident.id);
                read += 1;
            }
            Err(why) => {
                skipped.push(format!("{full_name} incidents: {why}"));
                kept.extend(id);
            }
        }
    }
    store
        .retain_incidents(repo_key, &format!("github:{full_name}#"), &kept)
        .await?;
    Ok(IncidentSync {
        incidents: read,
        skipped,
    })
}

/// `s` for a URL's query: everything but unreserved characters percent-encoded.
fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An issue (the REST shape) as an incident, or what is wrong with it.
fn incident_of(item: &Value, full_name: &str, repo_key: &str) -> Result<Incident, String> {
    let number = item["number"]
        .as_u64()
        .ok_or("an incident issue without a number")?;
    let time = |field: &str| -> Result<Option<i64>, String> {
        match &item[field] {
            Value::Null => Ok(None),
            Value::String(t) => crate::sources::parse_ts(t)
                .map(Some)
                .ok_or_else(|| format!("issue #{number}: `{field}` is not a time: `{t}`")),
            other => Err(format!("issue #{number}: `{field}` is not a time: {other}")),
        }
    };
    Ok(Incident {
        id: format!("github:{full_name}#{number}"),
        repo: repo_key.into(),
        title: item["title"].as_str().unwrap_or("").into(),
        url: item["html_url"].as_str().unwrap_or("").into(),
        opened_at: time("created_at")?
            .ok_or_else(|| format!("issue #{number} has no `created_at`"))?,
        closed_at: time("closed_at")?,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("an incident needs a title")]
    NoTitle,
    #[error("`{field}` is {at}: an incident's times are Unix seconds from 1970 to a day from now")]
    Time { field: &'static str, at: i64 },
    #[error("the incident closes ({closed}) before it opened ({opened})")]
    ClosedBeforeOpened { opened: i64, closed: i64 },
    #[error(transparent)]
    Repo(#[from] crate::domain::deploys::DeployError),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// An incident as a pager or a person reports it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRecord {
    /// The repo's path or name; may be left out when one repo is watched.
    #[serde(default)]
    pub repo: Option<String>,
    pub title: String,
    /// Unix seconds; default now (or, for an update, when it was first reported).
    #[serde(default)]
    pub opened: Option<i64>,
    /// Unix seconds, once it is over.
    #[serde(default)]
    pub closed: Option<i64>,
    /// The reporter's id: a second report with the same id updates it (the pager's resolve).
    /// Default: the repo and the time it opened.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// Records (or updates) an incident from outside the forge; its id is `ext:` and the
/// reporter's id.
pub async fn record(
    store: &Store,
    r: &IncidentRecord,
    now: i64,
) -> Result<Incident, IncidentError> {
    let title = r.title.trim();
    if title.is_empty() {
        return Err(IncidentError::NoTitle);
    }
    for (field, at) in [("opened", r.opened), ("closed", r.closed)] {
        if let Some(at) = at.filter(|t| !crate::domain::deploys::plausible_time(*t, now)) {
            return Err(IncidentError::Time { field, at });
        }
    }
    let repo = crate::domain::deploys::pick_repo(store, r.repo.as_deref()).await?;
    let earlier = match &r.id {
        Some(id) => store.incident(&format!("ext:{id}")).await?,
        None => None,
    };
    let opened = r
        .opened
        .or(earlier.as_ref().map(|e| e.opened_at))
        .unwrap_or(now);
    let closed = r.closed.or(earlier.as_ref().and_then(|e| e.closed_at));
    if let Some(c) = closed.filter(|c| *c < opened) {
        return Err(IncidentError::ClosedBeforeOpened { opened, closed: c });
    }
    let incident = Incident {
        id: format!(
            "ext:{}",
            r.id.clone()
                .unwrap_or_else(|| format!("{}:{opened}", repo.name))
        ),
        repo: repo.id,
        title: title.into(),
        url: r.url.clone().or(earlier.map(|e| e.url)).unwrap_or_default(),
        opened_at: opened,
        closed_at: closed,
    };
    store.upsert_incident(&incident).await?;
    Ok(incident)
}
