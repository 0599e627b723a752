//! The Inbox: what needs the lead now, most urgent first (sessions waiting, reviews, failing checks,
//! breached experiment guardrails, release gates, budget and concentration alerts, failed actions).

use super::*;
use crate::model::{ActionState, ReleaseState};

crate::model::named_enum! {
    /// What an inbox item is about, most urgent first.
    pub enum InboxKind {
        /// A dispatched agent waits for the lead.
        NeedsYou = "needs_you",
        ActionFailed = "action_failed",
        FailingCheck = "failing_check",
        FailedDeploy = "failed_deploy",
        /// An experiment's guardrail metric significantly worse.
        Guardrail = "guardrail",
        ReleaseGate = "release_gate",
        Budget = "budget",
        ReviewRequested = "review_requested",
        GreenWaiting = "green_waiting",
        Review = "review",
        Concentration = "concentration",
    }
}

impl InboxKind {
    /// Inbox order: a session blocked on its user, a decision that failed, broken checks and
    /// deploys, then what waits for a decision — releases, reviews asked of the lead by name,
    /// agent work whose checks are green, the rest.
    fn urgency(self) -> u8 {
        match self {
            InboxKind::NeedsYou => 0,
            InboxKind::ActionFailed => 1,
            InboxKind::FailingCheck => 2,
            InboxKind::FailedDeploy | InboxKind::Guardrail => 3,
            InboxKind::ReleaseGate | InboxKind::Budget => 4,
            InboxKind::ReviewRequested => 5,
            InboxKind::GreenWaiting => 6,
            InboxKind::Review => 7,
            InboxKind::Concentration => 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxItem {
    pub id: String,
    pub kind: InboxKind,
    pub title: String,
    pub detail: String,
    pub repo: String,
    /// The view that holds the item (`changes`, `releases`, `spend`, ...).
    pub view: String,
    #[ts(type = "number")]
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboxView {
    pub items: Vec<InboxItem>,
}

/// What needs the lead: open changes to review, failing checks, releases waiting for approval,
/// failed deploys. Newest first.
pub async fn inbox(store: &Store) -> Result<InboxView> {
    inbox_at(store, chrono::Utc::now().timestamp()).await
}

/// The inbox as of `now` (this month's budget alerts are those of `now`'s month).
pub async fn inbox_at(store: &Store, now: i64) -> Result<InboxView> {
    let mut items = Vec::new();
    // Open changes and their checks only: a store of years holds 100,000s of closed ones.
    let (open, open_checks) = store.open_changes().await?;
    let mut checks: std::collections::HashMap<&str, Vec<&Check>> = Default::default();
    for k in &open_checks {
        checks.entry(&k.change_request).or_default().push(k);
    }
    // Reviews requested on GitHub from the token's owner are the lead's own queue.
    let me = crate::forge::github::ForgeStatus::load(store)
        .await?
        .and_then(|s| s.login);
    for c in &open {
        let own: &[&Check] = checks.get(c.id.as_str()).map_or(&[], Vec::as_slice);
        let failing: Vec<&&Check> = own
            .iter()
            .filter(|k| k.conclusion.as_deref() == Some("failure"))
            .collect();
        let who = match &c.author {
            Author::Agent { agent } => agent.clone(),
            Author::Human { name } => name.clone(),
        };
        if !failing.is_empty() {
            items.push(InboxItem {
                id: format!("check:{}", c.id),
                kind: InboxKind::FailingCheck,
                title: format!("Checks failing: {}", c.title),
                detail: failing
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                repo: c.repo.clone(),
                view: "changes".into(),
                at: c.updated_at,
            });
        }
        let green = !own.is_empty()
            && own.iter().all(|k| {
                k.status == "completed"
                    && matches!(
                        k.conclusion.as_deref(),
                        Some("success" | "neutral" | "skipped")
                    )
            });
        let agent = matches!(c.author, Author::Agent { .. });
        let (kind, title) = if me
            .as_ref()
            .is_some_and(|m| c.requested_reviewers.contains(m))
        {
            (
                InboxKind::ReviewRequested,
                format!("Review requested: {}", c.title),
            )
        } else if agent && green {
            (
                InboxKind::GreenWaiting,
                format!("Checks green, waiting for you: {}", c.title),
            )
        } else {
            (InboxKind::Review, format!("Review: {}", c.title))
        };
        items.push(InboxItem {
            id: format!("review:{}", c.id),
            kind,
            title,
            detail: format!(
                "{} → {} by {who}, {} commits, {}, ${:.2} agent cost",
                c.head,
                c.base,
                c.commits,
                c.lines_text(),
                c.agent_cost_usd
            ),
            repo: c.repo.clone(),
            view: "changes".into(),
            at: c.updated_at,
        });
    }
    // Sessions that asked their user something and wait: what leads ask for most.
    for run in store
        .listed_runs(0)
        .await?
        .into_iter()
        .filter(|r| r.state == RunState::Idle)
    {
        items.push(InboxItem {
            id: format!("needs-you:{}", run.id),
            kind: InboxKind::NeedsYou,
            title: format!("{} is waiting for you: {}", run.agent, run.title),
            detail: format!(
                "{} on {}: asked a question or for permission, nothing since",
                run.repo
                    .as_deref()
                    .and_then(|r| r.rsplit('/').next())
                    .unwrap_or(&run.cwd),
                run.branch.as_deref().unwrap_or("no branch")
            ),
            repo: run.repo.clone().unwrap_or_default(),
            view: "agents".into(),
            at: run.ended_at,
        });
    }
    for r in store
        .releases()
        .await?
        .into_iter()
        .filter(|r| r.state == ReleaseState::Pending)
    {
        items.push(InboxItem {
            id: format!("release:{}", r.id),
            kind: InboxKind::ReleaseGate,
            title: format!("Approve release {} to {}", r.name, r.environment),
            detail: "waiting for approval".into(),
            repo: r.repo,
            view: "releases".into(),
            at: r.created_at,
        });
    }
    // A failed deploy still stands until a later one succeeds: one per environment at most
    // (a team's history holds thousands of failures long since fixed).
    for d in crate::views::releases::environments(store)
        .await?
        .into_iter()
        .filter_map(|e| e.failed)
    {
        items.push(InboxItem {
            id: format!("deploy:{}", d.id),
            kind: InboxKind::FailedDeploy,
            title: format!("Deploy to {} failed", d.environment),
            detail: format!("at {}", short_sha(&d.sha)),
            repo: d.repo,
            view: "releases".into(),
            at: d.created_at,
        });
    }
    // Guardrails an experiment breaks: decide it (stop it, or ship with a reason) before a
    // release ships more of it.
    for b in crate::domain::experiments::guardrail_breaches(store, now).await? {
        items.push(InboxItem {
            id: format!("guardrail:{}:{}:{}", b.experiment, b.metric, b.variation),
            kind: InboxKind::Guardrail,
            title: format!("Guardrail breached in experiment {}", b.name),
            detail: format!(
                "{}: significantly worse; releases shipping its code carry the risk",
                b.describe()
            ),
            repo: String::new(),
            view: "experiments".into(),
            at: b.since,
        });
    }
    // Budget thresholds crossed this month.
    for a in crate::domain::budgets::alerts(store, now).await? {
        items.push(InboxItem {
            id: format!("budget:{}:{}:{}", a.budget_id, a.month, a.threshold),
            kind: InboxKind::Budget,
            title: format!(
                "Budget {}: {} % reached in {}",
                a.budget_id, a.threshold, a.month
            ),
            detail: format!(
                "${:.2} of ${:.2} spent when it crossed",
                a.spent_usd, a.monthly_usd
            ),
            repo: String::new(),
            view: "spend".into(),
            at: a.at,
        });
    }
    // One vendor carrying too much of the work (the last 30 days).
    let threshold = concentration_threshold(store).await?;
    let since = crate::model::days::of(now - 30 * 86_400);
    let c = crate::metrics::concentration::concentration(store, &since, threshold).await?;
    if c.over {
        let top = |s: &[crate::metrics::concentration::Share]| {
            s.first()
                .map(|x| format!("{} {:.0} %", x.key, x.share * 100.0))
                .unwrap_or_else(|| "-".into())
        };
        items.push(InboxItem {
            id: format!("concentration:{since}"),
            kind: InboxKind::Concentration,
            title: format!(
                "Vendor concentration above {:.0}: spend HHI {:.0}, merged work HHI {:.0}",
                c.threshold, c.hhi_spend, c.hhi_merged
            ),
            detail: format!(
                "since {since}: {} of spend, {} of merged agent changes; see what stops if it is down in Spend",
                top(&c.spend_by_vendor),
                top(&c.merged_by_vendor)
            ),
            repo: String::new(),
            view: "spend".into(),
            at: now,
        });
    }
    // Decisions that did not go through: the lead believes they did.
    for a in store
        .actions()
        .await?
        .into_iter()
        .filter(|a| a.state == ActionState::Failed)
    {
        items.push(InboxItem {
            id: format!("action:{}", a.idempotency_key),
            kind: InboxKind::ActionFailed,
            title: format!("{} failed: {}", a.kind.as_str().replace('_', " "), a.target),
            detail: a.last_error.unwrap_or_default(),
            repo: String::new(),
            view: "changes".into(),
            at: a.applied_at.unwrap_or(a.created_at),
        });
    }
    // Most urgent first, then newest.
    items.sort_by(|a, b| {
        a.kind
            .urgency()
            .cmp(&b.kind.urgency())
            .then_with(|| b.at.cmp(&a.at))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(InboxView { items })
}
