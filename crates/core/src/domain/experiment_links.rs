//! What is behind an experiment: the change requests whose diffs put one of its keys in code
//! (its tracking key or a feature flag, matched as a whole word in an added line), the agent
//! runs and cost behind those changes, and the deploys whose exact contents shipped them, with
//! exposure that started before any such deploy flagged (units counted before the code was
//! live). Searching is incremental: a change is read again only when its head or the set of
//! keys moved (`link_scans`). A running app searches in the background ([`spawn_linker`],
//! after every pass of a source), so a view only reads what was found.

use std::collections::BTreeSet;

use serde::Serialize;
use ts_rs::TS;

use crate::model::{Author, ChangeKind, ChangeRequest};
use crate::store::{ExperimentLink, Store};

/// Bytes of added lines read of one change: a generated or vendored mega-diff is cut here.
const MAX_ADDED_BYTES: usize = 8 << 20;

/// What one search did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkReport {
    /// Changes whose diffs were read this time.
    pub searched: usize,
    /// Changes whose diffs could not be read (no clone here, a pull request's files not synced
    /// yet, an object missing): searched again next time.
    pub unreadable: usize,
}

/// One search at a time in this process: views opened together wait for one search rather
/// than each reading the same diffs.
static SEARCHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Searches every change request not searched at its head for the current keys.
pub async fn link(store: &Store) -> crate::Result<LinkReport> {
    let _one = SEARCHING.lock().await;
    let mut report = LinkReport::default();
    store.prune_links().await?;
    let keys: Vec<(String, String)> = store
        .experiment_keys()
        .await?
        .into_iter()
        .map(|(e, k)| (e, k.key))
        .collect();
    // What was searched for, so new keys send every change to be searched again.
    let signature = keys
        .iter()
        .map(|(e, k)| format!("{e}={k}"))
        .collect::<Vec<_>>()
        .join("\n");
    let signature = format!("{:016x}", fnv(signature.as_bytes()));
    // No key, nothing to find: the links of keys since removed go, and no diff is read.
    if keys.is_empty() {
        store.clear_links().await?;
        return Ok(report);
    }
    // Only the changes not searched at their head for these keys, picked by the database.
    for c in store.changes_to_search(&signature).await? {
        let Some(added) = added_lines(store, &c).await? else {
            report.unreadable += 1;
            continue;
        };
        report.searched += 1;
        let mut links = Vec::new();
        for (experiment, key) in &keys {
            if links
                .iter()
                .any(|l: &ExperimentLink| &l.experiment == experiment)
            {
                continue;
            }
            if let Some((path, _)) = added.iter().find(|(_, line)| has_word(line, key)) {
                links.push(ExperimentLink {
                    experiment: experiment.clone(),
                    change_request: c.id.clone(),
                    key: key.clone(),
                    path: path.clone(),
                });
            }
        }
        store
            .replace_change_links(&c.id, &c.head_sha, &signature, &links)
            .await?;
    }
    Ok(report)
}

/// FNV-1a: a stable fingerprint of the keys searched for (not a secret).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether `key` is in `line` as a whole word: not inside a longer identifier or key.
pub fn has_word(line: &str, key: &str) -> bool {
    if key.is_empty() {
        return false;
    }
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    line.match_indices(key).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + key.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// (path, line) of every line change `c` adds: a pull request's from the files its last sync
/// kept, a local branch's from its clone. `None` when they cannot be read here now.
async fn added_lines(
    store: &Store,
    c: &ChangeRequest,
) -> crate::Result<Option<Vec<(String, String)>>> {
    if c.kind != ChangeKind::Local {
        // Files of another head (the last push came after the last file sync) or that this
        // version cannot read are not searched: the change waits for the next sync.
        let files = match crate::forge::diff::stored_files(store, &c.id).await {
            Ok(Some((head, _, files))) if head == c.head_sha => files,
            Ok(_) => return Ok(None),
            Err(e) => {
                tracing::debug!("linking {}: {e}", c.id);
                return Ok(None);
            }
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        for f in files {
            for h in &f.hunks {
                for l in h.lines.iter().filter(|l| l.kind == "+") {
                    bytes += l.text.len();
                    if bytes > MAX_ADDED_BYTES {
                        return Ok(Some(out));
                    }
                    out.push((f.path.clone(), l.text.clone()));
                }
            }
        }
        return Ok(Some(out));
    }
    let Some(path) = store.repo_path(&c.repo).await? else {
        return Ok(None);
    };
    let (base, head, commits) = (c.base.clone(), c.head_sha.clone(), c.commits);
    let read = tokio::task::spawn_blocking(move || {
        local_added(std::path::Path::new(&path), &base, &head, commits)
    })
    .await;
    Ok(match read {
        Ok(Ok(lines)) => Some(lines),
        Ok(Err(e)) => {
            tracing::debug!("linking {}: {e}", c.id);
            None
        }
        Err(_) => None,
    })
}

/// The lines a local change adds: from where it left `base` to `head`; once merged by
/// fast-forward (its head on the base), from `commits` first parents below its head.
fn local_added(
    repo: &std::path::Path,
    base: &str,
    head: &str,
    commits: i64,
) -> Result<Vec<(String, String)>, git2::Error> {
    let r = git2::Repository::open(repo)?;
    let head = git2::Oid::from_str(head)?;
    let head_commit = r.find_commit(head)?;
    let mut fork = r
        .revparse_single(&format!("refs/heads/{base}"))
        .and_then(|tip| r.merge_base(tip.id(), head))
        .ok();
    if fork.is_none() || fork == Some(head) {
        let mut c = head_commit.clone();
        for _ in 0..commits.max(1) {
            match c.parent(0) {
                Ok(p) => c = p,
                Err(_) => break,
            }
        }
        fork = (c.id() != head).then(|| c.id());
    }
    let old_tree = match fork {
        Some(f) => Some(r.find_commit(f)?.tree()?),
        None => None,
    };
    let diff = r.diff_tree_to_tree(old_tree.as_ref(), Some(&head_commit.tree()?), None)?;
    let mut out = Vec::new();
    let mut bytes = 0;
    diff.foreach(
        &mut |_, _| true,
        None,
        None,
        Some(&mut |delta, _, line| {
            if line.origin() == '+' {
                bytes += line.content().len();
                if bytes > MAX_ADDED_BYTES {
                    return false;
                }
                let path = delta
                    .new_file()
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(line.content())
                    .trim_end()
                    .to_string();
                out.push((path, text));
            }
            true
        }),
    )
    .or_else(|e| {
        if bytes > MAX_ADDED_BYTES {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok(out)
}

/// A deploy that shipped a linked change.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ShippedBy {
    pub deployment: String,
    pub environment: String,
    #[ts(type = "number")]
    pub at: i64,
}

/// A change request behind an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct LinkedChange {
    pub id: String,
    pub title: String,
    pub repo: String,
    pub state: crate::model::ChangeState,
    /// The agent that wrote it, when an agent did.
    pub agent: Option<String>,
    /// The key found, and in which file.
    pub key: String,
    pub path: String,
    #[ts(type = "number")]
    pub runs: i64,
    pub cost_usd: f64,
    #[ts(type = "number | null")]
    pub merged_at: Option<i64>,
    pub deploys: Vec<ShippedBy>,
}

/// The work behind an experiment and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ExperimentWork {
    pub experiment: String,
    pub keys: Vec<String>,
    pub changes: Vec<LinkedChange>,
    /// Agent runs behind the changes, and their cost.
    #[ts(type = "number")]
    pub runs: i64,
    pub cost_usd: f64,
    /// The best variation's lift on the primary metric, in percentage points (one-look
    /// estimate), when positive.
    pub lift_points: Option<f64>,
    /// Agent cost per point of that lift.
    pub cost_per_lift_point: Option<f64>,
    /// The first successful deploy that shipped a linked change (to production when one did).
    #[ts(type = "number | null")]
    pub first_deploy_at: Option<i64>,
    /// Exposure that started before the code it tests was shipped, said plainly.
    pub exposure_warning: Option<String>,
}

/// Searches in the background after any pass of a source that may have brought changes or
/// keys (an ingest, a forge or GrowthBook sync, another instance's change) heard on `rx`
/// (subscribed to `bus` whenever the caller wants no pass missed from), once for however many
/// came together, telling the views when a search read something. The search before the first
/// pass is the caller's (`Runtime::start` runs one before serving).
pub fn spawn_linker(
    store: Store,
    bus: crate::model::events::EventBus,
    mut rx: tokio::sync::broadcast::Receiver<crate::model::events::Event>,
) -> tokio::task::JoinHandle<()> {
    use crate::model::events::Event;
    use tokio::sync::broadcast::error::RecvError;
    // Topics whose data the search reads; an event naming none may have changed anything.
    let relevant = |topics: &[String]| {
        topics.is_empty()
            || topics
                .iter()
                .any(|t| matches!(t.as_str(), "changes" | "experiments" | "repos"))
    };
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(Event::Changed { source, topics }) if source == SOURCE || !relevant(&topics) => {
                    continue
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            // What else came meanwhile is covered by this one search.
            while rx.try_recv().is_ok() {}
            match link(&store).await {
                Ok(r) if r.searched > 0 => bus.publish(Event::Changed {
                    source: SOURCE.into(),
                    topics: vec!["experiments".into(), "releases".into()],
                }),
                Ok(_) => {}
                Err(e) => tracing::warn!("searching changes for experiment keys: {e}"),
            }
        }
    })
}

/// The source name of the linker's own events (which do not start another search).
const SOURCE: &str = "experiment links";

/// What is behind experiment `card.experiment`, searching changes not searched yet first (for
/// a command that runs once; a running app has searched in the background: [`behind`]).
pub async fn work(
    store: &Store,
    card: &crate::stats::scorecard::Scorecard,
) -> crate::Result<ExperimentWork> {
    link(store).await?;
    behind(store, card).await
}

/// What is behind experiment `card.experiment` as found by the searches so far.
pub async fn behind(
    store: &Store,
    card: &crate::stats::scorecard::Scorecard,
) -> crate::Result<ExperimentWork> {
    let e = &card.experiment;
    let keys: BTreeSet<String> = store
        .experiment_keys()
        .await?
        .into_iter()
        .filter(|(x, _)| x == &e.id)
        .map(|(_, k)| k.key)
        .collect();
    let mut changes = Vec::new();
    for l in store.experiment_links(&e.id).await? {
        let Some(c) = store.change_request(&l.change_request).await? else {
            continue;
        };
        let (runs, cost_usd) = store.runs_on_branch(&c.repo, &c.head).await?;
        let deploys = store
            .deploys_shipping(&c.id)
            .await?
            .into_iter()
            .map(|d| ShippedBy {
                deployment: d.id,
                environment: d.environment,
                at: d.created_at,
            })
            .collect();
        changes.push(LinkedChange {
            id: c.id,
            title: c.title,
            repo: c.repo,
            state: c.state,
            agent: match c.author {
                Author::Agent { agent } => Some(agent),
                Author::Human { .. } => None,
            },
            key: l.key,
            path: l.path,
            runs,
            cost_usd,
            merged_at: c.merged_at,
            deploys,
        });
    }
    let runs = changes.iter().map(|c| c.runs).sum();
    let cost_usd: f64 = changes.iter().map(|c| c.cost_usd).sum();
    let lift_points = card
        .metrics
        .iter()
        .find(|m| !m.metric.guardrail)
        .and_then(|m| {
            m.variations
                .iter()
                .filter_map(|v| v.lift.map(|l| l.estimate * 100.0))
                .fold(None, |best: Option<f64>, x| {
                    Some(best.map_or(x, |b| b.max(x)))
                })
        })
        .filter(|p| *p > 0.0);
    let cost_per_lift_point = lift_points.filter(|_| cost_usd > 0.0).map(|p| cost_usd / p);
    // Exposure is measured against production when any deploy there shipped the code (a
    // staging deploy does not put it in front of units), else against any deploy.
    let production = |env: &str| env.to_ascii_lowercase().starts_with("prod");
    let shipped = changes.iter().flat_map(|c| c.deploys.iter());
    let first_deploy_at = shipped
        .clone()
        .filter(|d| production(&d.environment))
        .map(|d| d.at)
        .min()
        .or_else(|| shipped.map(|d| d.at).min());
    let exposure_warning = match first_deploy_at {
        _ if changes.is_empty() => None,
        Some(at) if e.started_at < at => Some(format!(
            "exposure started {} before the first deploy that shipped its code: units counted \
             in that time did not run it",
            span(at - e.started_at)
        )),
        Some(_) => None,
        None => Some(
            "no recorded deploy has shipped its code yet: its units may not be running it".into(),
        ),
    };
    Ok(ExperimentWork {
        experiment: e.id.clone(),
        keys: keys.into_iter().collect(),
        changes,
        runs,
        cost_usd,
        lift_points,
        cost_per_lift_point,
        first_deploy_at,
        exposure_warning,
    })
}

/// A duration in words: `3 days`, `5 hours`, `12 minutes`.
fn span(secs: i64) -> String {
    match secs {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} hours", s / 3_600),
        s => format!("{} minutes", (s / 60).max(1)),
    }
}

/// What is behind experiment `id` as of `now` as found so far (a view's read: nothing is
/// searched); `None` when there is no such experiment.
pub async fn work_of(store: &Store, id: &str, now: i64) -> crate::Result<Option<ExperimentWork>> {
    match crate::domain::experiments::scorecard(store, id, now).await? {
        Some(card) => behind(store, &card).await.map(Some),
        None => Ok(None),
    }
}
