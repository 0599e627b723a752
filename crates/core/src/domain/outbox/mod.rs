//! The outbox: every decision a lead makes (approve, request changes, comment, merge, close) is first
//! written here with an idempotency key, then applied — at once when the forge answers, later
//! when it does not. Offline is normal: actions wait, `sync` sends them.
//!
//! Exactly once: an action is claimed and its attempt counted *before* it is sent. An action
//! that has been tried before (a crash between sending and recording the answer, a timeout
//! after the forge acted) is first checked against the forge's state, and only resent when the
//! forge does not show it done. Every outcome goes into the signed audit log.
//!
//! A decision never waits on the network for long: `decide` queues it and sends it at once only
//! when that is quick (a local change; a forge that answers within `INLINE_WAIT`); a host found
//! unreachable is paused (`Reach`: one probe when the pause ends, not a retry per action), and
//! the background sender, woken by each decision, sends the rest.

use serde::{Deserialize, Serialize};

mod github;
mod growthbook;
mod reach;
pub use github::{marker, GitHubApplier};
pub use growthbook::GrowthBookApplier;
pub use reach::{Reach, FIRST_PAUSE_SECS, MAX_PAUSE_SECS};

pub use crate::domain::actions::{because, enqueue, Applier, Checked, Outcome, Payload};
use crate::forge::merge::{merge_local, MergeMode};
use crate::model::audit::{AuditKey, Decision};
use crate::model::error::Result;
use crate::model::{Action, ActionKind, ActionState, ChangeState, Review, ReviewState};
use crate::store::{MergeQueued, Store};

/// How long a sender holds an action before another may take it over (a sender killed
/// mid-send lets go after this). `FLIGHTDECK_OUTBOX_LEASE_SECS` changes it.
pub const LEASE_SECS: i64 = 120;
/// First retry delay after a failure that may pass; doubles per attempt up to 30 minutes.
/// `FLIGHTDECK_OUTBOX_RETRY_SECS` changes it.
pub const RETRY_SECS: i64 = 30;
/// How long a decision may wait for the forge before it is left to the background sender.
pub const INLINE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn secs(var: &str, default: i64) -> i64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v: &i64| *v >= 0)
        .unwrap_or(default)
}

/// What one `sync` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Sent and done.
    pub applied: usize,
    /// Found already done on the target after an earlier attempt (a resend avoided).
    pub confirmed: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Left for later untouched: their host did not answer (this pass or a recent one).
    pub paused: usize,
}

/// Sends every due action once. Backoff for retries: 30 s doubling to 30 min. Pauses only
/// for this pass; `sync_with` keeps a host's pause across passes.
pub async fn sync<A: Applier>(
    store: &Store,
    applier: &A,
    key: &AuditKey,
    now: i64,
) -> Result<SyncReport> {
    sync_with(store, applier, key, &Reach::default(), now).await
}

/// Sends every due action once, except to hosts `reach` has paused: the first action to a
/// host that does not answer pauses it, and the rest of its actions wait (untouched, still
/// due) instead of each trying the network in turn.
pub async fn sync_with<A: Applier>(
    store: &Store,
    applier: &A,
    key: &AuditKey,
    reach: &Reach,
    now: i64,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let lease = secs("FLIGHTDECK_OUTBOX_LEASE_SECS", LEASE_SECS);
    // A probe of a host that drops packets can take long: its pause counts from its answer.
    let started = std::time::Instant::now();
    for a in store.due_actions(now).await? {
        let host = applier.host(&a);
        if host
            .as_deref()
            .is_some_and(|h| reach.paused_until(h, now).is_some())
        {
            report.paused += 1;
            continue;
        }
        if !store
            .claim_action(&a.idempotency_key, now, now + lease)
            .await?
        {
            continue; // another sender has it
        }
        let payload: Payload = match serde_json::from_str(&a.payload) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("unreadable payload: {e}");
                report.failed += 1;
                finish(store, key, &a, Outcome::Failed(why), now).await?;
                continue;
            }
        };
        let (outcome, confirmed) = attempt(applier, &a, &payload).await;
        let answered = now + started.elapsed().as_secs() as i64;
        note_reach(reach, host.as_deref(), &outcome, answered);
        report.count(&outcome, confirmed);
        finish(store, key, &a, outcome, now).await?;
    }
    Ok(report)
}

/// One attempt at a claimed action, network only (nothing written): an action tried before is
/// looked up on the target first, and resent only when the target shows it not done; when the
/// target cannot say, it waits rather than risk a second application. `true` with an applied
/// outcome when it was found done.
async fn attempt<A: Applier>(applier: &A, a: &Action, payload: &Payload) -> (Outcome, bool) {
    if a.attempts >= 1 {
        match applier.check(a, payload).await {
            Checked::Done(evidence) => {
                return (Outcome::Applied(format!("found done: {evidence}")), true)
            }
            Checked::Unknown(why) => {
                let why = format!("cannot tell whether it was applied: {why}");
                return (Outcome::Retry(why), false);
            }
            Checked::Unreachable(why) => {
                let why = format!("cannot tell whether it was applied: {why}");
                return (Outcome::Unreachable(why), false);
            }
            Checked::NotDone => {}
        }
    }
    (applier.apply(a, payload).await, false)
}

/// A host that did not answer is paused; one that answered at all is not.
fn note_reach(reach: &Reach, host: Option<&str>, outcome: &Outcome, now: i64) {
    if let Some(h) = host {
        match outcome {
            Outcome::Unreachable(_) => reach.unreachable(h, now),
            _ => reach.reachable(h),
        }
    }
}

impl SyncReport {
    fn count(&mut self, outcome: &Outcome, confirmed: bool) {
        match outcome {
            Outcome::Applied(_) if confirmed => self.confirmed += 1,
            Outcome::Applied(_) => self.applied += 1,
            Outcome::Retry(_) | Outcome::Unreachable(_) => self.retrying += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }
}

/// Sends the action just queued when that is quick: always for a local one (git and the
/// store), for a remote one when its host is not paused and answers within `INLINE_WAIT`.
/// Otherwise it stays queued for the background sender; an attempt cut short is looked up on
/// the target before it is sent again, so it still lands once. An action queued behind an
/// earlier one on the same target (an approval the merge needs) waits for the sender, which
/// sends them in order.
async fn send_now(
    store: &Store,
    applier: &Appliers,
    key: &AuditKey,
    a: &Action,
    payload: &Payload,
    now: i64,
) -> Result<()> {
    let host = applier.host(a);
    if host
        .as_deref()
        .is_some_and(|h| applier.reach.avoid_inline(h, now))
    {
        return Ok(());
    }
    if store.earlier_pending_action(&a.idempotency_key).await? {
        return Ok(());
    }
    let lease = secs("FLIGHTDECK_OUTBOX_LEASE_SECS", LEASE_SECS);
    if !store
        .claim_action(&a.idempotency_key, now, now + lease)
        .await?
    {
        return Ok(());
    }
    let outcome = match &host {
        Some(h) => match tokio::time::timeout(INLINE_WAIT, attempt(applier, a, payload)).await {
            Ok((outcome, _)) => {
                note_reach(&applier.reach, Some(h), &outcome, now);
                outcome
            }
            // Slow is not down: the sender goes on (looking before it resends); decisions
            // stop waiting on this host for a while.
            Err(_) => {
                applier.reach.slow(h, now);
                Outcome::Retry(format!(
                    "no answer within {} s; the background sender goes on",
                    INLINE_WAIT.as_secs()
                ))
            }
        },
        None => attempt(applier, a, payload).await.0,
    };
    finish(store, key, a, outcome, now).await
}

/// Records an attempt's outcome; applied and failed ones also go into the audit log.
async fn finish(
    store: &Store,
    key: &AuditKey,
    a: &Action,
    outcome: Outcome,
    now: i64,
) -> Result<()> {
    let k = &a.idempotency_key;
    let (action, detail) = match &outcome {
        Outcome::Applied(result) => {
            // Recorded first, then settled: a crash in between leaves the change to the next
            // scan, never a merge result rewritten by a retry.
            store
                .finish_action(k, ActionState::Applied, Some(result), None, now)
                .await?;
            settle(store, a, result).await?;
            (format!("{} applied", a.kind), result.clone())
        }
        Outcome::Failed(why) => {
            store
                .finish_action(k, ActionState::Failed, None, Some(why), now)
                .await?;
            (format!("{} failed", a.kind), why.clone())
        }
        Outcome::Retry(why) | Outcome::Unreachable(why) => {
            let base = secs("FLIGHTDECK_OUTBOX_RETRY_SECS", RETRY_SECS);
            let backoff = (base << a.attempts.clamp(0, 6)).min(1_800);
            store.retry_action(k, why, now + backoff).await?;
            return Ok(()); // not an outcome yet
        }
    };
    store
        .append_audit(
            key,
            &Decision {
                at: now,
                actor: &a.actor,
                action: &action,
                target: &a.target,
                detail: &format!("{detail} (action {k})"),
            },
        )
        .await?;
    Ok(())
}

/// A merge or close that went through settles the change request's state at once, without
/// waiting for the next scan. A local branch holds that state at the head it was decided on; a
/// merge's result names the commit the base now holds (`{how} to SHA` here, `merged as SHA`
/// on GitHub), kept for the deploy phase of a squash merge.
async fn settle(store: &Store, a: &Action, result: &str) -> Result<()> {
    let state = match a.kind {
        ActionKind::Merge => ChangeState::Merged,
        ActionKind::Close => ChangeState::Closed,
        _ => return Ok(()),
    };
    let head = serde_json::from_str::<Payload>(&a.payload)
        .map(|p| p.sha)
        .unwrap_or_default();
    let local = !a.target.starts_with("github:");
    store
        .settle_change(
            &a.target,
            state,
            local.then_some(head.as_str()),
            chrono::Utc::now().timestamp(),
        )
        .await?;
    if state == ChangeState::Merged {
        let last = result.rsplit(' ').next().unwrap_or_default();
        if last.len() == 40 && last.bytes().all(|b| b.is_ascii_hexdigit()) {
            store.set_merge_sha(&a.target, last).await?;
        }
        if let Some(c) = store.change_request(&a.target).await? {
            crate::store::cycle::measure(store, &c.repo).await?;
        }
    }
    Ok(())
}

/// Every target: local branches always, GitHub and GrowthBook when a client is configured.
/// Routes each action by its target (`github:…`, `growthbook:…` or `local:…`).
pub struct Appliers {
    pub local: LocalApplier,
    pub github: Option<GitHubApplier>,
    pub growthbook: Option<GrowthBookApplier>,
    /// Which hosts answer, shared with everything else sending for the same lead.
    pub reach: Reach,
}

/// Where an action goes, by its target's prefix.
enum Route<'a> {
    Local,
    GitHub(Option<&'a GitHubApplier>),
    GrowthBook(Option<&'a GrowthBookApplier>),
}

impl Appliers {
    fn route(&self, a: &Action) -> Route<'_> {
        if a.target.starts_with("github:") {
            Route::GitHub(self.github.as_ref())
        } else if a.target.starts_with("growthbook:") {
            Route::GrowthBook(self.growthbook.as_ref())
        } else {
            Route::Local
        }
    }
}

const NO_GITHUB: &str = "GitHub is not configured here";
const NO_GROWTHBOOK: &str =
    "GrowthBook is not configured here (GROWTHBOOK_API_KEY or `flightdeck token set --for growthbook`)";

impl Applier for Appliers {
    async fn check(&self, a: &Action, p: &Payload) -> Checked {
        match self.route(a) {
            Route::Local => self.local.check(a, p).await,
            Route::GitHub(Some(gh)) => gh.check(a, p).await,
            Route::GitHub(None) => Checked::Unknown(NO_GITHUB.into()),
            Route::GrowthBook(Some(gb)) => gb.check(a, p).await,
            Route::GrowthBook(None) => Checked::Unknown(NO_GROWTHBOOK.into()),
        }
    }

    async fn apply(&self, a: &Action, p: &Payload) -> Outcome {
        match self.route(a) {
            Route::Local => self.local.apply(a, p).await,
            Route::GitHub(Some(gh)) => gh.apply(a, p).await,
            Route::GitHub(None) => Outcome::Retry(NO_GITHUB.into()),
            Route::GrowthBook(Some(gb)) => gb.apply(a, p).await,
            Route::GrowthBook(None) => Outcome::Retry(NO_GROWTHBOOK.into()),
        }
    }

    fn host(&self, a: &Action) -> Option<String> {
        match self.route(a) {
            Route::GitHub(Some(gh)) => Some(gh.gh.base().to_string()),
            Route::GrowthBook(Some(gb)) => gb.host(a),
            _ => None,
        }
    }
}

fn no_clone(repo: &str) -> String {
    format!("this machine has no clone of {repo} to merge in (`flightdeck repo add PATH`)")
}

/// Applies actions on local change requests: reviews are recorded in the store, merges done
/// with git2 in the repository.
pub struct LocalApplier {
    pub store: Store,
    /// Name and email merges are committed as.
    pub name: String,
    pub email: String,
}

impl Applier for LocalApplier {
    async fn check(&self, a: &Action, p: &Payload) -> Checked {
        if a.kind == ActionKind::Close {
            return match self.store.change_request(&a.target).await {
                Ok(Some(c)) if c.state == ChangeState::Closed => Checked::Done("closed".into()),
                Ok(_) => Checked::NotDone,
                Err(e) => Checked::Unknown(e.to_string()),
            };
        }
        if a.kind == ActionKind::Merge {
            // Done if the base contains the reviewed commit (fast-forward, merge commit) or its
            // reflog names this action (squash and rebase make new commits).
            let path = match self.store.repo_path(&p.repo).await {
                Ok(Some(path)) => std::path::PathBuf::from(path),
                Ok(None) => return Checked::Unknown(no_clone(&p.repo)),
                Err(e) => return Checked::Unknown(e.to_string()),
            };
            let (base, sha, key) = (p.base.clone(), p.sha.clone(), a.idempotency_key.clone());
            let contains = tokio::task::spawn_blocking(move || -> Option<bool> {
                let repo = git2::Repository::open(&path).ok()?;
                let tip = repo
                    .revparse_single(&format!("refs/heads/{base}"))
                    .ok()?
                    .id();
                let sha = git2::Oid::from_str(&sha).ok()?;
                let contains = tip == sha || repo.graph_descendant_of(tip, sha).ok()?;
                Some(contains || crate::forge::merge::reflog_mentions(&path, &base, &key).ok()?)
            })
            .await
            .ok()
            .flatten();
            return match contains {
                Some(true) => Checked::Done(format!("{} already contains {}", p.base, p.sha)),
                Some(false) => Checked::NotDone,
                None => Checked::Unknown(format!("cannot read {} in {}", p.base, p.repo)),
            };
        }
        match self.store.reviews().await {
            Ok(rs) if rs.iter().any(|r| r.action_key == a.idempotency_key) => {
                Checked::Done("review recorded".into())
            }
            Ok(_) => Checked::NotDone,
            Err(e) => Checked::Unknown(e.to_string()),
        }
    }

    async fn apply(&self, a: &Action, p: &Payload) -> Outcome {
        let state = match a.kind {
            ActionKind::Approve => ReviewState::Approved,
            ActionKind::RequestChanges => ReviewState::ChangesRequested,
            ActionKind::Comment => ReviewState::Commented,
            ActionKind::Merge => return self.merge(a, p).await,
            // The branch stays; the change is closed at this head (see `settle`).
            ActionKind::Close => {
                return Outcome::Applied(format!("closed at {}{}", short(&p.sha), because(p)))
            }
            other => {
                return Outcome::Failed(format!(
                    "`{other}` is not something a local branch can do; use git for it"
                ))
            }
        };
        let review = Review {
            action_key: a.idempotency_key.clone(),
            change_request: a.target.clone(),
            head_sha: p.sha.clone(),
            reviewer: a.actor.clone(),
            state,
            body: p.body.clone().unwrap_or_default(),
            at: a.created_at,
        };
        match self.store.add_review(&review).await {
            Ok(_) => Outcome::Applied(format!("{state} at {}", short(&p.sha))),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}

impl LocalApplier {
    async fn merge(&self, a: &Action, p: &Payload) -> Outcome {
        let mode = match p.method.as_deref() {
            None | Some("merge") => MergeMode::Merge,
            Some("squash") => MergeMode::Squash,
            Some("rebase") => MergeMode::Rebase,
            Some(other) => {
                return Outcome::Failed(format!(
                    "merge method `{other}` is not one of merge, squash, rebase"
                ))
            }
        };
        let clone = match self.store.repo_path(&p.repo).await {
            Ok(Some(path)) => path,
            // Another machine holding the clone may apply it; this one cannot.
            Ok(None) => return Outcome::Retry(no_clone(&p.repo)),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let (p, name, email) = (p.clone(), self.name.clone(), self.email.clone());
        let note = format!("(action {})", a.idempotency_key);
        let done = tokio::task::spawn_blocking(move || {
            let who = git2::Signature::now(&name, &email)
                .map_err(|e| format!("cannot sign the merge as {name} <{email}>: {e}"))?;
            merge_local(
                std::path::Path::new(&clone),
                &p.base,
                &p.head,
                &p.sha,
                mode,
                &who,
                &note,
            )
            .map_err(|e| e.to_string())
        })
        .await;
        match done {
            Ok(Ok(m)) => Outcome::Applied(format!("{} to {}", m.how, m.sha)),
            Ok(Err(why)) => Outcome::Failed(why),
            Err(e) => Outcome::Retry(format!("merge task failed: {e}")),
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

/// A lead's decision on one change request, as the CLI and the API take it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// approve, request_changes, comment, merge or close.
    pub kind: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// merge, squash or rebase (merges only).
    #[serde(default)]
    pub method: Option<String>,
    /// Merge although the policy refuses; the reason is audited.
    #[serde(default)]
    pub override_reason: Option<String>,
    /// With request_changes: the agent that gets the comments as its next prompt, on the same
    /// branch ("request changes and send back"). The decision itself is unaffected.
    #[serde(default)]
    pub send_back: Option<String>,
    /// The head commit the lead was shown. When given and the change has moved since (a sync
    /// or a push in between), nothing is decided: the lead judges what they saw, and a merge
    /// never lands a head they did not see.
    #[serde(default)]
    pub head_sha: Option<String>,
    /// A key the front end made for this decision (16 to 64 letters, digits, `-` or `_`). A
    /// decision sent again with the same key — a phone resending what it took offline after
    /// losing the answer — is the same decision: the action it made is returned, nothing new
    /// is queued. Without one, the outbox makes a key.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// From a paired device: the statement of this decision it signed, and the signature.
    #[serde(default)]
    pub signed: Option<crate::model::device::SignedDecision>,
    /// The paired device the request came from: set by the front end from the session, never
    /// read from the body. With it, `signed` is required and checked.
    #[serde(skip)]
    pub device: Option<crate::model::device::SignedBy>,
}

impl Decide {
    /// What a device signing this decision on `target` must have signed (its time aside).
    pub fn statement(&self, target: &str) -> crate::model::device::Statement {
        let mut s = crate::model::device::Statement::of(&self.kind, target);
        s.head = self.head_sha.clone();
        s.key = self.idempotency_key.clone();
        s.comment = self.comment.clone();
        s.method = self.method.clone();
        s.override_reason = self.override_reason.clone();
        s.send_back = self.send_back.clone();
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no change request `{0}`")]
    NotFound(String),
    #[error("{0}")]
    NotAllowed(#[from] crate::domain::team::Refusal),
    #[error("{id} is {state}, not open")]
    NotOpen { id: String, state: ChangeState },
    #[error("{id} was merged already, by {by} (action {key})")]
    MergedBy { id: String, by: String, key: String },
    #[error(
        "{id} is being merged already, by {by} (action {key}, {state}); one merge goes through"
    )]
    MergeUnderway {
        id: String,
        by: String,
        key: String,
        state: ActionState,
    },
    #[error(
        "{0}: GitHub pull requests are not synced yet; only local agent branches can be acted on"
    )]
    NotLocal(String),
    #[error("`{0}` is not an action (approve, request_changes, comment, merge, close)")]
    BadKind(String),
    #[error("a paired device must sign its decisions; this one came unsigned (reload the app on the device)")]
    Unsigned,
    #[error("a paired device's decision must name the head commit it was shown (head_sha)")]
    NoHead,
    #[error("{0}")]
    Signature(#[from] crate::model::device::SignatureError),
    #[error("`{0}` is not a merge method (merge, squash, rebase)")]
    BadMethod(String),
    #[error("{0} needs a comment saying what")]
    NeedsComment(String),
    #[error("the policy ({policy}) refuses this merge: {}. Pass an override reason to merge anyway (kept in the audit log)", reasons.join("; "))]
    Refused {
        policy: String,
        reasons: Vec<String>,
    },
    #[error("cannot judge the merge: {0}")]
    Policy(String),
    #[error("{id} moved since it was shown: you saw {shown}, it is at {now} now; look again")]
    Moved {
        id: String,
        shown: String,
        now: String,
    },
    #[error("idempotency_key `{0}`: use 16 to 64 letters, digits, `-` or `_`")]
    BadKey(String),
    #[error("idempotency_key `{key}` was used for another decision ({kind} on {target})")]
    KeyReused {
        key: String,
        kind: ActionKind,
        target: String,
    },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// Queues `d` on change request `id` as `by` (after the policy check, for a merge, and the team's
/// rule on who may override it) and sends what is due at once. Returns the action as it stands
/// afterwards: applied, failed or still queued.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    store: &Store,
    key: &AuditKey,
    applier: &Appliers,
    policy_file: &std::path::Path,
    id: &str,
    d: &Decide,
    by: crate::domain::team::Acting<'_>,
    now: i64,
) -> std::result::Result<Action, DecideError> {
    let kind = ActionKind::parse(&d.kind)
        .filter(|k| ActionKind::DECISIONS.contains(k))
        .ok_or_else(|| DecideError::BadKind(d.kind.clone()))?;
    let method = d.method.as_deref().unwrap_or("merge");
    if !["merge", "squash", "rebase"].contains(&method) {
        return Err(DecideError::BadMethod(method.into()));
    }
    let comment = d
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if comment.is_none() && matches!(kind, ActionKind::RequestChanges | ActionKind::Comment) {
        return Err(DecideError::NeedsComment(d.kind.clone()));
    }
    // A paired device's decision carries its signature, checked before anything is decided.
    let device = match (&d.device, &d.signed) {
        (Some(by), Some(signed)) => {
            // What the device approved is the head it was shown, never whatever is there when
            // the decision is applied.
            if d.head_sha.as_deref().is_none_or(|h| h.trim().is_empty()) {
                return Err(DecideError::NoHead);
            }
            crate::model::device::check_decision(&by.key, signed, &d.statement(id))?;
            Some(crate::model::device::DeviceDecision {
                by: by.clone(),
                signed: signed.clone(),
            })
        }
        (Some(_), None) => return Err(DecideError::Unsigned),
        (None, _) => None,
    };
    if let Some(k) = &d.idempotency_key {
        let ok = (16..=64).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(DecideError::BadKey(k.chars().take(80).collect()));
        }
        // Sent before: that decision stands, whatever happened to the change since.
        if let Some(done) = store.action(k).await? {
            let done = same_decision(done, kind, id, &by.person.name)?;
            if let Some(dd) = &device {
                crate::domain::access::record_signed(store, key, dd, id, kind.as_str(), now)
                    .await?;
            }
            return Ok(done);
        }
    }
    let c = store
        .change_request(id)
        .await?
        .ok_or_else(|| DecideError::NotFound(id.into()))?;
    let github = c.kind == crate::model::ChangeKind::Github;
    if github && applier.github.is_none() {
        return Err(DecideError::NotLocal(c.id));
    }
    if c.state != ChangeState::Open {
        return Err(not_open(store, c.id, c.state).await?);
    }
    if let Some(shown) = d.head_sha.as_deref().map(str::trim) {
        if shown != c.head_sha {
            return Err(DecideError::Moved {
                id: c.id,
                shown: shown.chars().take(12).collect(),
                now: c.head_sha.chars().take(12).collect(),
            });
        }
    }
    let actor = by.person.name.clone();
    // `github:owner/name#N`: the API wants the full name and the number.
    let (repo, number) = match c
        .id
        .strip_prefix("github:")
        .and_then(|r| r.rsplit_once('#'))
    {
        Some((full, n)) if github => (full.to_string(), n.parse().ok()),
        _ => (c.repo.clone(), None),
    };
    let mut payload = Payload {
        repo,
        number,
        head: c.head.clone(),
        base: c.base.clone(),
        sha: c.head_sha.clone(),
        body: comment.map(str::to_string),
        ..Default::default()
    };
    // Audited once the merge is queued (a merge refused as already under way overrides nothing).
    let mut overridden: Option<String> = None;
    if kind == ActionKind::Merge {
        payload.method = Some(method.into());
        let file = crate::domain::policy::PolicyFile::load(policy_file)
            .map_err(|e| DecideError::Policy(e.to_string()))?;
        let verdict = crate::domain::policy::judge_change(store, &file, &c, now)
            .await
            .map_err(DecideError::Policy)?;
        if !verdict.pass {
            let reasons: Vec<String> = verdict
                .reasons
                .iter()
                .filter(|r| !r.ok)
                .map(|r| r.message.clone())
                .collect();
            let reason = d
                .override_reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty());
            let Some(reason) = reason else {
                return Err(DecideError::Refused {
                    policy: verdict.policy,
                    reasons,
                });
            };
            by.team.may_override(by.person)?;
            overridden = Some(format!(
                "merged against policy ({}): {reason}",
                reasons.join("; ")
            ));
            payload.override_reason = Some(reason.to_string());
        }
    }
    let action = crate::domain::actions::new_action(
        kind,
        &c.id,
        &payload,
        &actor,
        d.idempotency_key.as_deref(),
        now,
    )?;
    let queued = if kind == ActionKind::Merge {
        // One merge per change, however many leads press Merge at once.
        match store.enqueue_merge(&action).await? {
            MergeQueued::Queued => true,
            MergeQueued::SameKey => false,
            MergeQueued::Underway(other) => {
                return Err(DecideError::MergeUnderway {
                    id: c.id,
                    by: other.actor,
                    key: other.idempotency_key,
                    state: other.state,
                })
            }
            MergeQueued::NotOpen => {
                // Another lead's merge of this very head may have gone through a moment ago,
                // before the change was marked merged: name them.
                if let Some(m) = store.last_applied_merge(&c.id).await? {
                    let same_head = serde_json::from_str::<Payload>(&m.payload)
                        .is_ok_and(|p| p.sha == c.head_sha);
                    if same_head {
                        return Err(DecideError::MergedBy {
                            id: c.id,
                            by: m.actor,
                            key: m.idempotency_key,
                        });
                    }
                }
                let now_state = store
                    .change_request(&c.id)
                    .await?
                    .map_or(ChangeState::Closed, |c| c.state);
                return Err(not_open(store, c.id, now_state).await?);
            }
        }
    } else {
        store.enqueue_action(&action).await?
    };
    if let (Some(detail), true) = (&overridden, queued) {
        store
            .append_audit(
                key,
                &Decision {
                    at: now,
                    actor: &actor,
                    action: "override",
                    target: &c.id,
                    detail,
                },
            )
            .await?;
    }
    let k = action.idempotency_key.clone();
    // Two requests with one key at once: the one whose insert lost answers with the winner's
    // action and sends nothing of its own.
    if !queued {
        if let Some(winner) = store.action(&k).await? {
            return same_decision(winner, kind, id, &actor);
        }
    }
    if let Some(dd) = &device {
        crate::domain::access::record_signed(store, key, dd, &c.id, kind.as_str(), now).await?;
    }
    send_now(store, applier, key, &action, &payload, now).await?;
    Ok(store.action(&k).await?.unwrap_or(action))
}

/// Why a change that is not open cannot be decided: who merged it, when a merge through
/// Flightdeck did.
async fn not_open(
    store: &Store,
    id: String,
    state: ChangeState,
) -> std::result::Result<DecideError, DecideError> {
    if state == ChangeState::Merged {
        if let Some(m) = store.last_applied_merge(&id).await? {
            return Ok(DecideError::MergedBy {
                id,
                by: m.actor,
                key: m.idempotency_key,
            });
        }
    }
    Ok(DecideError::NotOpen { id, state })
}

/// A decision already queued under the key a front end sent again: it stands if it is this
/// decision (same kind, same change); a key sent for another decision is refused.
/// The decision sent before with this key, when it is this one by this person: a key names one
/// person's decision, so another's resend (and their device's signature) does not attach to it.
fn same_decision(
    done: Action,
    kind: ActionKind,
    id: &str,
    actor: &str,
) -> std::result::Result<Action, DecideError> {
    if done.kind != kind || done.target != id || done.actor != actor {
        return Err(DecideError::KeyReused {
            key: done.idempotency_key,
            kind: done.kind,
            target: done.target,
        });
    }
    Ok(done)
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no action `{0}` in the outbox")]
    NotFound(String),
    #[error("{0}")]
    NotAllowed(#[from] crate::domain::team::Refusal),
    #[error("action {key} is {state}; only failed actions can be retried or dismissed")]
    NotFailed { key: String, state: ActionState },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// What the lead does with a failed action: send it again (after fixing the cause — resolving
/// a conflict, say) or let it go. Both are audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    Retry,
    Dismiss,
}

/// Retries or dismisses failed action `action_key`; a retry is sent at once. Returns the action
/// as it stands afterwards.
pub async fn resolve(
    store: &Store,
    key: &AuditKey,
    applier: &Appliers,
    action_key: &str,
    how: Resolve,
    by: crate::domain::team::Acting<'_>,
    now: i64,
) -> std::result::Result<Action, ResolveError> {
    let find = || async {
        store
            .actions()
            .await
            .map(|all| all.into_iter().find(|a| a.idempotency_key == action_key))
    };
    let a = find()
        .await?
        .ok_or_else(|| ResolveError::NotFound(action_key.into()))?;
    let (state, verb) = match how {
        Resolve::Retry => (ActionState::Queued, "retry"),
        Resolve::Dismiss => (ActionState::Dismissed, "dismiss"),
    };
    // Sending a decision again, or dropping it, is taking it: the same team rules apply.
    if matches!(
        a.kind,
        ActionKind::ReleaseApprove | ActionKind::ReleaseReject
    ) {
        if let Some(r) = store
            .releases()
            .await?
            .into_iter()
            .find(|r| r.id == a.target)
        {
            by.team.may_decide_release(by.person, &r.environment)?;
        }
    }
    let overrides = serde_json::from_str::<Payload>(&a.payload)
        .ok()
        .is_some_and(|p| p.override_reason.is_some());
    if overrides {
        by.team.may_override(by.person)?;
    }
    if !store.reopen_failed_action(action_key, state, now).await? {
        return Err(ResolveError::NotFailed {
            key: action_key.into(),
            state: a.state,
        });
    }
    store
        .append_audit(
            key,
            &Decision {
                at: now,
                actor: &by.person.name,
                action: &format!("{} {verb}", a.kind),
                target: &a.target,
                detail: &format!(
                    "after: {} (action {action_key})",
                    a.last_error.as_deref().unwrap_or("failed")
                ),
            },
        )
        .await?;
    if how == Resolve::Retry {
        if let Some(again) = find().await? {
            // An unreadable payload fails when the sender reaches it, as any other would.
            if let Ok(p) = serde_json::from_str::<Payload>(&again.payload) {
                send_now(store, applier, key, &again, &p, now).await?;
            }
        }
    }
    Ok(find().await?.unwrap_or(a))
}

/// Who acts from this machine: `FLIGHTDECK_USER`, else git's `user.name`, else the login
/// name; with git's `user.email` (for merge commits).
pub fn lead_identity() -> (String, String) {
    let git = git2::Config::open_default().ok();
    let get = |k: &str| git.as_ref().and_then(|c| c.get_string(k).ok());
    let name = std::env::var("FLIGHTDECK_USER")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| get("user.name"))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "lead".into());
    let email = get("user.email").unwrap_or_else(|| format!("{name}@localhost"));
    (name, email)
}

/// The bus sources that announce a decision (on a change, on a release): the sender wakes.
const DECISION_SOURCES: [&str; 3] = ["actions", "releases", "experiments"];

/// Sends due actions in the background every `every` (queued while offline, waiting for a
/// retry, or left by a sender that died), and at once when a decision is announced on the bus
/// (`DECISION_SOURCES`), telling the UI when something was decided. Hosts that do not answer are
/// paused in `appliers.reach`, shared with the decisions.
pub fn spawn_sender(
    store: Store,
    bus: crate::model::events::EventBus,
    key_path: std::path::PathBuf,
    appliers: Appliers,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    use crate::model::events::Event;
    use tokio::sync::broadcast::error::RecvError;
    let mut decisions = bus.subscribe();
    tokio::spawn(async move {
        // One timer for the whole loop: other events (a running agent publishes several a
        // second) must not put the sweep off.
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                got = decisions.recv() => match got {
                    Ok(Event::Changed { source, .. }) if DECISION_SOURCES.contains(&source.as_str()) => {}
                    // Missed some events: one of them may have been a decision.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => {
                        tick.tick().await;
                    }
                    Ok(_) => continue,
                },
            }
            let now = chrono::Utc::now().timestamp();
            // Decisions on GrowthBook experiments an instance took but did not queue.
            if let Err(e) = crate::domain::experiments::queue_unsent(&store, now).await {
                tracing::warn!("outbox: {e}");
            }
            match store.due_actions(now).await {
                Ok(due) if due.is_empty() => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("outbox: {e}");
                    continue;
                }
            }
            let key = match AuditKey::load_or_create(&key_path) {
                Ok(k) => k,
                Err(e) => {
                    tracing::warn!("outbox: {e}");
                    continue;
                }
            };
            match sync_with(&store, &appliers, &key, &appliers.reach, now).await {
                Ok(r) if r.applied + r.confirmed + r.retrying + r.failed > 0 => {
                    bus.publish(Event::Changed {
                        source: "outbox".into(),
                        topics: ["changes", "inbox", "audit", "outbox"]
                            .map(String::from)
                            .to_vec(),
                    })
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("outbox: {e}"),
            }
        }
    })
}
