//! Incidents from labelled issues: every issue of a watched GitHub repo carrying one of the
//! incident labels (`[github] incident_labels`, default `incident`), open or closed, with the times the issue itself records (opened, closed).
//! DORA attributes each to the last successful production deploy of its repo at or before the
//! moment it opened — DevLake's rule — so that deploy counts as failed, and the incident's
//! open → close is its time to restore (see `core::dora`).

use serde_json::Value;

use crate::github::{GitHub, GitHubError};
use crate::model::Incident;
use crate::store::Store;

/// The label that makes an issue an incident unless configured otherwise.
pub const LABEL: &str = "incident";

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
