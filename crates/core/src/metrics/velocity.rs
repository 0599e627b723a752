//! Velocity split agent vs human, and review load: for the change requests opened in a range,
//! how many were merged or closed unmerged (acceptance), how many were sent back with changes
//! requested or reverted after merging (rework) and what each merged one cost in agent spend;
//! per reviewer, the reviews given in the range and the open requests waiting on them; and
//! cycle time by phase with weekly throughput (`core::cycle`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use ts_rs::TS;

use crate::model::{Author, ChangeState, ReviewState};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct AuthorSplit {
    /// agent or human.
    pub kind: String,
    #[ts(type = "number")]
    pub opened: i64,
    #[ts(type = "number")]
    pub merged: i64,
    /// Closed without merging.
    #[ts(type = "number")]
    pub closed: i64,
    /// Merged ÷ decided (merged or closed); none while nothing is decided.
    pub acceptance_rate: Option<f64>,
    /// Changes that had changes requested at least once.
    #[ts(type = "number")]
    pub reworked: i64,
    /// Reworked ÷ opened.
    pub rework_rate: Option<f64>,
    /// Merged, then reverted: a `Revert "…"` commit in the repo names the change (its title,
    /// GitHub's squash or merge commit, a merge made here, or its head commit).
    #[ts(type = "number")]
    pub reverted: i64,
    /// Reverted ÷ merged.
    pub revert_rate: Option<f64>,
    /// Agent spend on the merged ones ÷ merged.
    pub cost_per_merged_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ReviewerLoad {
    pub reviewer: String,
    #[ts(type = "number")]
    pub reviews: i64,
    #[ts(type = "number")]
    pub approvals: i64,
    #[ts(type = "number")]
    pub changes_requested: i64,
    /// Open change requests that ask for this reviewer now.
    #[ts(type = "number")]
    pub waiting: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct VelocityReport {
    #[ts(type = "number")]
    pub since: i64,
    #[ts(type = "number")]
    pub until: i64,
    /// Agents first, then people.
    pub split: Vec<AuthorSplit>,
    /// Busiest first.
    pub reviewers: Vec<ReviewerLoad>,
    /// Cycle time by phase of the changes merged in the range (deploy phase: production), and
    /// weekly throughput.
    pub cycle: crate::metrics::cycle::CycleTime,
}

fn slot<'a>(load: &'a mut BTreeMap<String, ReviewerLoad>, who: &str) -> &'a mut ReviewerLoad {
    load.entry(who.to_string()).or_insert_with(|| ReviewerLoad {
        reviewer: who.into(),
        reviews: 0,
        approvals: 0,
        changes_requested: 0,
        waiting: 0,
    })
}

/// Whether a revert of the commit summarised `text` reverts change `c` (whose head commit is
/// summarised `head`): its squash or merge commit as GitHub or a merge here writes it, or its
/// head commit.
fn reverts_change(text: &str, c: &crate::model::ChangeRequest, head: Option<&str>) -> bool {
    let number = (c.kind == crate::model::ChangeKind::Github)
        .then(|| c.id.rsplit_once('#').map(|(_, n)| n))
        .flatten();
    text == c.title
        || text.starts_with(&format!("{} (#", c.title))
        || number.is_some_and(|n| text.starts_with(&format!("Merge pull request #{n} from ")))
        || text.starts_with(&format!("Merge branch '{}' into ", c.head))
        || head.is_some_and(|h| {
            text == h || text.starts_with(&format!("{h} (squashed from '{}')", c.head))
        })
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

pub async fn report(store: &Store, since: i64, until: i64) -> Result<VelocityReport, crate::Error> {
    // Only what the range needs: a store of years holds 100,000s of changes and reviews.
    let changes = store.changes_created_between(since, until).await?;
    let (open, _) = store.open_changes().await?;
    let reviews = store.reviews_between(since, until).await?;
    let reworked_ids = store.reworked_between(since, until).await?;
    // A revert comes after what it reverts, so after the range began.
    let mut reverts: HashMap<String, Vec<String>> = HashMap::new();
    for (repo, text) in store.reverted_summaries_since(since).await? {
        reverts.entry(repo).or_default().push(text);
    }
    let mut split = Vec::new();
    for kind in ["agent", "human"] {
        let mine: Vec<_> = changes
            .iter()
            .filter(|c| c.created_at >= since && c.created_at < until)
            .filter(|c| matches!(c.author, Author::Agent { .. }) == (kind == "agent"))
            .collect();
        let merged: Vec<_> = mine
            .iter()
            .filter(|c| c.state == ChangeState::Merged)
            .collect();
        let closed = mine
            .iter()
            .filter(|c| c.state == ChangeState::Closed)
            .count() as i64;
        let reworked = mine.iter().filter(|c| reworked_ids.contains(&c.id)).count() as i64;
        let mut reverted = 0;
        // Only a repo with reverts costs a lookup: its merged heads' summaries, read at once.
        let mut by_repo: BTreeMap<&str, Vec<&&&crate::model::ChangeRequest>> = BTreeMap::new();
        for c in merged.iter().filter(|c| reverts.contains_key(&c.repo)) {
            by_repo.entry(&c.repo).or_default().push(c);
        }
        for (repo, cs) in by_repo {
            let shas: Vec<String> = cs.iter().map(|c| c.head_sha.clone()).collect();
            let heads: HashMap<String, String> = store
                .commits_with(repo, &shas)
                .await?
                .into_iter()
                .map(|k| (k.sha, k.summary))
                .collect();
            let texts = reverts.get(repo).map_or(&[][..], Vec::as_slice);
            for c in cs {
                let head = heads.get(&c.head_sha).map(String::as_str);
                reverted += texts.iter().any(|t| reverts_change(t, c, head)) as i64;
            }
        }
        let m = merged.len() as i64;
        split.push(AuthorSplit {
            kind: kind.into(),
            opened: mine.len() as i64,
            merged: m,
            closed,
            acceptance_rate: ratio(m, m + closed),
            reworked,
            rework_rate: ratio(reworked, mine.len() as i64),
            reverted,
            revert_rate: ratio(reverted, m),
            cost_per_merged_usd: (m > 0)
                .then(|| merged.iter().map(|c| c.agent_cost_usd).sum::<f64>() / m as f64),
        });
    }
    let mut load: BTreeMap<String, ReviewerLoad> = BTreeMap::new();
    for r in reviews.iter().filter(|r| r.at >= since && r.at < until) {
        let l = slot(&mut load, &r.reviewer);
        l.reviews += 1;
        l.approvals += (r.state == ReviewState::Approved) as i64;
        l.changes_requested += (r.state == ReviewState::ChangesRequested) as i64;
    }
    for c in open.iter().filter(|c| c.state == ChangeState::Open) {
        for who in &c.requested_reviewers {
            slot(&mut load, who).waiting += 1;
        }
    }
    let mut reviewers: Vec<ReviewerLoad> = load.into_values().collect();
    reviewers.sort_by(|a, b| {
        (b.reviews + b.waiting)
            .cmp(&(a.reviews + a.waiting))
            .then(a.reviewer.cmp(&b.reviewer))
    });
    let production = crate::metrics::dora::DoraConfig::default().production;
    Ok(VelocityReport {
        since,
        until,
        split,
        reviewers,
        cycle: crate::metrics::cycle::cycle_time(store, None, since, until, &production).await?,
    })
}
