//! The nouns of Flightdeck as the store and the API see them. Every type here that crosses the
//! API derives `TS`, so the UI's TypeScript types are generated from these definitions (see
//! `ui/src/generated/`); timestamps are Unix seconds (UTC) and travel as JSON numbers.

//!
//! Beside the nouns, the foundation every other layer stands on: days, the crate's error, the
//! event bus, TOML reading, the OS keyring, audit signing and the price table. Nothing in this
//! layer reads or writes the store.

pub mod audit;
pub mod days;
pub mod device;
pub mod error;
pub mod events;
pub mod logs;
pub mod pake;
pub mod pricing;
pub mod repo_id;
pub mod secrets;
pub mod toml_file;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A closed set of states or kinds, kept in the store as text and sent as JSON strings: the
/// store, serde and the UI's generated types (a string union) all use the same names.
pub trait Named: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
    /// The names, for an error message: `open, merged, closed`.
    fn names() -> String {
        Self::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Declares a `Named` enum: each variant with the name it is stored and sent as.
macro_rules! named_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            ::serde::Serialize,
            ::serde::Deserialize,
            ::ts_rs::TS,
        )]
        #[ts(export)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant,)+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$($name::$variant,)+];
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }
            pub fn parse(s: &str) -> Option<Self> {
                <Self as $crate::model::Named>::parse(s)
            }
        }
        impl $crate::model::Named for $name {
            const ALL: &'static [Self] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, not `write_str`: a table's `{:<10}` lines up as it did for strings.
                f.pad(self.as_str())
            }
        }
    };
}

/// Who produced a commit, branch or change: a person, or a named agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    Human { name: String },
    Agent { agent: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Repo {
    /// The repo's identity, its natural key: the normalised origin URL (`github.com/acme/api`)
    /// or `root:<sha>` (see `model::repo_id`). The same on every machine that has a clone.
    pub id: String,
    /// This machine's clone (canonical absolute path of its work tree), when it has one.
    pub path: Option<String>,
    pub name: String,
    pub default_branch: String,
    pub remote_url: Option<String>,
    #[ts(type = "number | null")]
    pub last_scanned_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Branch {
    pub repo: String,
    pub name: String,
    pub head_sha: String,
    /// The agent that owns the branch (from its name pattern or its commits' trailers).
    pub agent: Option<String>,
    #[ts(type = "number")]
    pub ahead: i64,
    #[ts(type = "number")]
    pub behind: i64,
    /// Path of the linked worktree that has this branch checked out, if any.
    pub worktree_path: Option<String>,
    #[ts(type = "number")]
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Commit {
    pub repo: String,
    pub sha: String,
    pub author_name: String,
    pub author_email: String,
    #[ts(type = "number")]
    pub authored_at: i64,
    #[ts(type = "number")]
    pub committed_at: i64,
    pub summary: String,
    /// Agent that wrote the commit, from a `Co-Authored-By` trailer, the author identity or
    /// the branch it was first seen on. `None` means a person.
    pub agent: Option<String>,
    /// The diffstat against the first parent, as `git log --numstat` counts it; all three
    /// `None` when it could not be computed (a partial or shallow clone, a lost object): unknown,
    /// never guessed.
    #[ts(type = "number | null")]
    pub files_changed: Option<i64>,
    #[ts(type = "number | null")]
    pub insertions: Option<i64>,
    #[ts(type = "number | null")]
    pub deletions: Option<i64>,
}

/// Tokens by the kinds vendors bill separately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Tokens {
    /// Non-cached input.
    #[ts(type = "number")]
    pub input: i64,
    #[ts(type = "number")]
    pub output: i64,
    #[ts(type = "number")]
    pub cache_write: i64,
    #[ts(type = "number")]
    pub cache_read: i64,
    /// Reasoning output; already part of `output` for vendors that report it so.
    #[ts(type = "number")]
    pub reasoning: i64,
}

impl Tokens {
    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_write += other.cache_write;
        self.cache_read += other.cache_read;
        self.reasoning += other.reasoning;
    }
    /// Everything the model read or wrote, counting each token once.
    pub fn total(&self) -> i64 {
        self.input + self.output + self.cache_write + self.cache_read
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Idle,
    Finished,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Idle => "idle",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> RunState {
        match s {
            "running" => RunState::Running,
            "idle" => RunState::Idle,
            "failed" => RunState::Failed,
            _ => RunState::Finished,
        }
    }
}

/// One agent session, read from the agent's own log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AgentRun {
    /// `<agent>:<session id>`.
    pub id: String,
    pub agent: String,
    pub session_id: String,
    /// The model that did most of the work (most output tokens).
    pub model: String,
    pub cwd: String,
    /// The watched repo the working directory belongs to, if any.
    pub repo: Option<String>,
    pub branch: Option<String>,
    /// The first user prompt, shortened.
    pub title: String,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number")]
    pub ended_at: i64,
    pub state: RunState,
    #[ts(type = "number")]
    pub turns: i64,
    #[ts(type = "number")]
    pub tool_calls: i64,
    /// API errors and aborted turns.
    #[ts(type = "number")]
    pub errors: i64,
    /// Distinct files the agent edited or read by path.
    #[ts(type = "number")]
    pub files_touched: i64,
    /// Every model the session used.
    pub models: Vec<String>,
    pub tokens: Tokens,
    pub cost_usd: f64,
    pub source_path: String,
    /// Lines of the log that could not be read (corrupt JSON and the like).
    #[ts(type = "number")]
    pub skipped_lines: i64,
}

/// What a run's log shows it doing, one step at a time (read from the log when a run is
/// opened, not stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RunEvent {
    #[ts(type = "number")]
    pub at: i64,
    pub kind: RunEventKind,
    /// The prompt; the tool and what it acted on; the error message. Shortened when long.
    pub text: String,
    /// Where in the log it is (file:line), so a lead can go and read it.
    pub file: String,
    #[ts(type = "number")]
    pub line: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum RunEventKind {
    Prompt,
    Tool,
    Error,
}

named_enum! {
    /// Where a change lives.
    pub enum ChangeKind {
        /// An agent branch in a watched repo, ahead of its base.
        Local = "local",
        /// A pull request on GitHub.
        Github = "github",
    }
}

// Usable by any module that declares its own kinds (`crate::model::named_enum!`).
pub(crate) use named_enum;

named_enum! {
    /// How a deploy went (a pipeline's word for it; GitHub's `error` and `inactive` are read as
    /// failure and success).
    pub enum DeployStatus {
        Success = "success",
        Failure = "failure",
        InProgress = "in_progress",
        Queued = "queued",
    }
}

impl DeployStatus {
    /// Succeeded or failed: no longer running or waiting.
    pub fn finished(self) -> bool {
        matches!(self, DeployStatus::Success | DeployStatus::Failure)
    }
}

named_enum! {
    /// Where a release stands.
    pub enum ReleaseState {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        Deployed = "deployed",
    }
}

named_enum! {
    /// Where a work item stands.
    pub enum WorkState {
        Todo = "todo",
        InProgress = "in_progress",
        InReview = "in_review",
        Done = "done",
        Dropped = "dropped",
    }
}

named_enum! {
    /// What a work item links to.
    pub enum WorkLinkKind {
        /// An agent run (its id).
        Run = "run",
        /// A branch (its name, in the item's repo).
        Branch = "branch",
        /// A change request (its id).
        Change = "change",
    }
}

named_enum! {
    /// What a dispatch asks of its agent.
    pub enum DispatchKind {
        /// A new branch from the base.
        Start = "start",
        /// Review comments to address on the same branch.
        SendBack = "send_back",
    }
}

named_enum! {
    /// Where a dispatch stands.
    pub enum DispatchState {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

named_enum! {
    /// What a queued decision does when it is applied.
    pub enum ActionKind {
        Approve = "approve",
        RequestChanges = "request_changes",
        Comment = "comment",
        Merge = "merge",
        Close = "close",
        /// A GitHub issue's new assignee.
        Assign = "assign",
        /// A deployment review of a GitHub Actions run waiting on an environment.
        ReleaseApprove = "release_approve",
        ReleaseReject = "release_reject",
        /// An experiment decided here, stopped in GrowthBook (with the shipped variation
        /// rolled out to everyone).
        ExperimentStop = "experiment_stop",
    }
}

impl ActionKind {
    /// A decision on a change (not an issue or a release).
    pub const DECISIONS: [ActionKind; 5] = [
        ActionKind::Approve,
        ActionKind::RequestChanges,
        ActionKind::Comment,
        ActionKind::Merge,
        ActionKind::Close,
    ];
}

named_enum! {
    /// Where a queued decision stands in the outbox.
    pub enum ActionState {
        Queued = "queued",
        /// Leased by a sender (a lease that runs out puts it back in the queue).
        Sending = "sending",
        Applied = "applied",
        Failed = "failed",
        /// Given up by the lead; never sent.
        Dismissed = "dismissed",
    }
}

named_enum! {
    /// A review's verdict.
    pub enum ReviewState {
        Approved = "approved",
        ChangesRequested = "changes_requested",
        Commented = "commented",
        /// Withdrawn on the forge.
        Dismissed = "dismissed",
    }
}

named_enum! {
    /// Where a change stands.
    pub enum ChangeState {
        Open = "open",
        Merged = "merged",
        Closed = "closed",
    }
}

/// A change waiting for (or past) review: a local agent branch or a forge pull request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChangeRequest {
    /// `local:<repo path>:<branch>` or `github:<owner>/<repo>#<number>`.
    pub id: String,
    pub kind: ChangeKind,
    pub repo: String,
    pub title: String,
    pub head: String,
    pub base: String,
    pub head_sha: String,
    pub author: Author,
    pub state: ChangeState,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    #[ts(type = "number")]
    pub commits: i64,
    /// The change's diffstat; `None` while unknown (a forge listing that does not give it, a
    /// partial clone without the objects), never guessed.
    #[ts(type = "number | null")]
    pub files_changed: Option<i64>,
    #[ts(type = "number | null")]
    pub insertions: Option<i64>,
    #[ts(type = "number | null")]
    pub deletions: Option<i64>,
    /// Cost of the agent runs linked to this change (same repo and branch).
    pub agent_cost_usd: f64,
    /// GitHub labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Logins asked to review (GitHub).
    #[serde(default)]
    pub requested_reviewers: Vec<String>,
    /// Whether it would merge now; none while unknown (GitHub still computing, or a state it
    /// added that the cockpit has no word for yet).
    #[serde(default)]
    pub mergeable: Option<Mergeable>,
    /// When it was merged; none while open or when closed unmerged.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub merged_at: Option<i64>,
    /// Author time of its first commit, when known (the start of cycle time).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub first_commit_at: Option<i64>,
}

impl ChangeRequest {
    /// `+12 −3`, or `lines unknown` when the diffstat is not known: for one-line summaries.
    pub fn lines_text(&self) -> String {
        match (self.insertions, self.deletions) {
            (Some(i), Some(d)) => format!("+{i} −{d}"),
            _ => "lines unknown".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Check {
    pub change_request: String,
    pub name: String,
    /// queued, in_progress or completed.
    pub status: String,
    /// success, failure, neutral, cancelled, skipped, timed_out or none yet.
    pub conclusion: Option<String>,
    pub url: Option<String>,
    /// It failed (or timed out) at some point on this change, also when it passes now: kept
    /// by the store across re-runs and pushes.
    #[serde(default)]
    pub ever_failed: bool,
}

impl Check {
    /// Whether its conclusion is a failure (failure or timed out).
    pub fn failed(&self) -> bool {
        matches!(self.conclusion.as_deref(), Some("failure" | "timed_out"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Deployment {
    pub id: String,
    pub repo: String,
    pub environment: String,
    pub sha: String,
    pub status: DeployStatus,
    #[ts(type = "number")]
    pub created_at: i64,
    /// Who reported it (`webhook`, `github`, …): part of a generated id, so an open label.
    pub source: String,
    #[serde(default)]
    pub contents: Contents,
}

named_enum! {
    /// Whether what a deploy shipped is known: `exact` once its commits are found in the
    /// commit graph, `unknown` while its sha is not in the local clone.
    #[derive(Default)]
    pub enum Contents {
        Exact = "exact",
        #[default]
        Unknown = "unknown",
    }
}

named_enum! {
    /// Whether a change would merge now, in the cockpit's words (GitHub's `dirty` is
    /// `conflicts`, its `has_hooks` is `clean`).
    pub enum Mergeable {
        Clean = "clean",
        Conflicts = "conflicts",
        Blocked = "blocked",
        Behind = "behind",
        Unstable = "unstable",
        Draft = "draft",
    }
}

/// An incident as the forge records it: an issue labelled `incident`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Incident {
    /// `github:OWNER/REPO#N`.
    pub id: String,
    pub repo: String,
    pub title: String,
    pub url: String,
    #[ts(type = "number")]
    pub opened_at: i64,
    /// None while it is open.
    #[ts(type = "number | null")]
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Release {
    pub id: String,
    pub repo: String,
    pub environment: String,
    pub name: String,
    pub state: ReleaseState,
    #[ts(type = "number")]
    pub created_at: i64,
    /// Who decided (approved or rejected).
    pub approved_by: Option<String>,
    /// The candidate commit: the release is what it brings over the last successful deploy to
    /// the environment.
    #[serde(default)]
    pub sha: Option<String>,
    /// The GitHub Actions run waiting on the environment's approval, when there is one.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub decided_at: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Variant {
    pub name: String,
    #[ts(type = "number")]
    pub units: i64,
    #[ts(type = "number")]
    pub conversions: i64,
    /// The configured share of traffic; `None`: an equal split.
    #[serde(default)]
    pub weight: Option<f64>,
}

named_enum! {
    /// What an experiment metric measures per unit.
    pub enum MetricKind {
        /// Converted or not (0 or 1).
        Binomial = "binomial",
        /// A number (revenue, time on page).
        Mean = "mean",
        /// Σ numerator / Σ denominator over units (revenue per session).
        Ratio = "ratio",
    }
}

named_enum! {
    /// What a lead decides about an experiment.
    pub enum ExperimentCall {
        /// Roll the winning variation out to everyone.
        Ship = "ship",
        /// End it and keep control.
        Stop = "stop",
        /// End it and try again with a changed variation.
        Iterate = "iterate",
    }
}

/// Where a synced experiment comes from: the service (`growthbook`), its id there, the API
/// base URL it was read from, its variations' ids there (in the experiment's order, control
/// first), and what the last sync read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentOrigin {
    pub source: String,
    pub external_id: String,
    pub api_url: String,
    pub variation_ids: Vec<String>,
    /// The results snapshot read last.
    pub snapshot: String,
    /// The experiment's own last-updated time there, as it wrote it.
    pub updated_at: String,
}

/// A name an experiment goes by in code: its tracking key (`tracking`) or a feature flag
/// (`flag`). Changes whose diffs add it are linked to the experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExperimentKey {
    pub key: String,
    pub kind: String,
}

/// An experiment's decision as taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExperimentDecided {
    pub call: ExperimentCall,
    /// The variation shipped (ship only).
    pub variation: Option<String>,
    pub by: String,
    #[ts(type = "number")]
    pub at: i64,
    pub reason: Option<String>,
}

/// One metric an experiment is judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExperimentMetric {
    pub name: String,
    pub kind: MetricKind,
    /// Must not get significantly worse; the primary metric is the first that is not one.
    pub guardrail: bool,
    /// Lower is better.
    pub inverse: bool,
}

/// One variation's sufficient statistics for one metric (see `stats::Stat`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MetricSums {
    pub metric: String,
    pub variation: String,
    pub n: f64,
    pub sum: f64,
    pub sum_squares: f64,
    /// A ratio's denominator: (Σd, Σd², Σmd).
    pub denominator: Option<(f64, f64, f64)>,
    /// The pre-period covariate: (Σx, Σx², Σmx).
    pub pre: Option<(f64, f64, f64)>,
}

/// An experiment's sums as they stood at the end of `day` (UTC, `YYYY-MM-DD`): over the units
/// first exposed by then. The points of cumulative lift over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HistoryPoint {
    pub day: String,
    pub sums: Vec<MetricSums>,
}

/// What a read of an experiment adds to its history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Days, oldest first; each replaces that day stored before.
    pub points: Vec<HistoryPoint>,
    /// The points are every day there is (read from exposure times): other days stored are
    /// dropped. Otherwise (totals read now) they are added to what is there.
    pub whole: bool,
}

impl History {
    /// Totals read at `at` (Unix seconds): one point, that day's.
    pub fn read_at(at: i64, sums: &[MetricSums]) -> Self {
        History {
            points: vec![HistoryPoint {
                day: days::of(at),
                sums: sums.to_vec(),
            }],
            whole: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    pub metric: String,
    pub state: ExperimentState,
    #[ts(type = "number")]
    pub started_at: i64,
    pub variants: Vec<Variant>,
}

named_enum! {
    /// Whether an experiment still collects data.
    pub enum ExperimentState {
        Running = "running",
        Stopped = "stopped",
    }
}

named_enum! {
    /// Where a work item came from: made in the cockpit (CLI, API, the Work view), a GitHub
    /// issue of a watched repo, or an agent run nobody filed.
    #[derive(Default)]
    pub enum WorkSource {
        #[default]
        Cockpit = "cockpit",
        Github = "github",
        Run = "run",
    }
}

/// Spend for one vendor, model, day and origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SpendRecord {
    pub vendor: String,
    pub model: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// `logs` (agent logs x price table) or a billing source.
    pub source: String,
    pub agent: String,
    pub repo: String,
    /// Who launched the work (the user of the machine that read the logs); '' when unknown.
    #[serde(default)]
    pub person: String,
    pub tokens: Tokens,
    pub cost_usd: f64,
    /// Tokens of models without a price that day: not in `cost_usd`, not free either.
    #[serde(default)]
    #[ts(type = "number")]
    pub unpriced_tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkItem {
    pub id: String,
    pub title: String,
    /// The task as given to whoever does it (an agent's prompt).
    #[serde(default)]
    pub body: String,
    pub repo: Option<String>,
    /// `person:NAME`, `agent:NAME`, or none yet.
    pub assignee: Option<String>,
    pub state: WorkState,
    #[serde(default)]
    pub source: WorkSource,
    /// GitHub's labels for an issue; `agent:NAME` marks work handed to an agent.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    /// Runs, branches and change requests working on it.
    #[serde(default)]
    pub links: Vec<WorkLink>,
}

impl WorkItem {
    /// The (repo, branch) of each branch it links, when it has a repo: what its runs and local
    /// changes are found by.
    pub fn branch_links(&self) -> impl Iterator<Item = (&str, &str)> {
        let repo = self.repo.as_deref();
        self.links
            .iter()
            .filter(|l| l.kind == WorkLinkKind::Branch)
            .filter_map(move |l| Some((repo?, l.target.as_str())))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkLink {
    pub kind: WorkLinkKind,
    pub target: String,
}

/// A work item handed to a configured agent: its process, worktree, branch and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Dispatch {
    /// `D-` and eight hex digits.
    pub id: String,
    pub work_item: String,
    pub agent: String,
    /// The repo's path.
    pub repo: String,
    pub branch: String,
    pub worktree: String,
    pub kind: DispatchKind,
    pub prompt: String,
    pub state: DispatchState,
    pub host: String,
    /// The process group while it runs.
    #[ts(type = "number | null")]
    pub pid: Option<i64>,
    #[ts(type = "number | null")]
    pub exit_code: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The last lines it printed (stdout and stderr as they came).
    pub output_tail: String,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub started_at: Option<i64>,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
}

/// A user decision waiting in (or done from) the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Action {
    /// Made when the action is queued; the forge sees it too, so a resend is recognised.
    pub idempotency_key: String,
    pub kind: ActionKind,
    /// The change request.
    pub target: String,
    /// JSON: what applying needs (the reviewed head, the merge method, a comment).
    pub payload: String,
    pub actor: String,
    pub state: ActionState,
    #[ts(type = "number")]
    pub attempts: i64,
    pub last_error: Option<String>,
    /// What applying produced (a merge's new tip, a review's id).
    pub result: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub next_attempt_at: i64,
    #[ts(type = "number | null")]
    pub applied_at: Option<i64>,
}

/// A review given to a local change request through Flightdeck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Review {
    pub action_key: String,
    pub change_request: String,
    /// The commit reviewed: an approval of an older head does not approve a newer one.
    pub head_sha: String,
    pub reviewer: String,
    pub state: ReviewState,
    pub body: String,
    #[ts(type = "number")]
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditEntry {
    #[ts(type = "number")]
    pub seq: i64,
    #[ts(type = "number")]
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// The signer's Ed25519 public key, hex.
    pub signer: String,
    /// The signer's signature of `hash`, hex.
    pub signature: String,
    /// A paired device's public key (hex P-256 point) when the entry is its enrolment or a
    /// decision it signed; empty otherwise.
    #[serde(default)]
    pub device_key: String,
    /// The device's signature of `detail` (the statement it signed), hex; empty otherwise.
    #[serde(default)]
    pub device_signature: String,
}

// ---- Budgets (`crate::domain::budgets` owns the rules) ----

named_enum! {
    /// What a monthly budget covers.
    pub enum Scope {
        Team = "team",
        Repo = "repo",
        Agent = "agent",
        Vendor = "vendor",
    }
}

impl Scope {
    /// The spend rollup's column this scope filters on (none for the team).
    pub(crate) fn column(self) -> Option<&'static str> {
        match self {
            Scope::Team => None,
            Scope::Repo => Some("repo"),
            Scope::Agent => Some("agent"),
            Scope::Vendor => Some("vendor"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Budget {
    /// `team`, or `<scope>:<target>`.
    pub id: String,
    pub scope: Scope,
    pub target: String,
    pub monthly_usd: f64,
}

/// A threshold crossed for the first time this month.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct BudgetAlert {
    pub budget_id: String,
    pub month: String,
    #[ts(type = "number")]
    pub threshold: i64,
    pub spent_usd: f64,
    pub monthly_usd: f64,
    #[ts(type = "number")]
    pub at: i64,
}
