//! Merge policy: the team's rules for a change request, and the verdict (pass, or fail with
//! every reason) shown before any merge.
//!
//! Rules: required checks green; human approvals for agent-authored changes (and, optionally,
//! for human ones); protected paths (globs) that need more approvers or one of named owners;
//! an agent never counts as an approver — least of all of its own work; a maximum agent cost
//! per change; freeze windows.
//!
//! Where a repo's policy comes from, strongest first: `.flightdeck/policy.toml` committed on the
//! repo's base branch (read from the base, so a branch cannot loosen the rules it is judged
//! by); the `[repo."<name or path>"]` table of the policy file in the config dir; its
//! `[default]` table; built-in defaults (no required checks, one human approval for agent
//! work). Each field falls through on its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::toml_file::{parse_toml, ConfigError};
use crate::model::{Author, ChangeRequest, Check, ReviewState};
use crate::store::Store;

/// Where a committed repo policy lives, relative to the work tree.
pub const REPO_POLICY: &str = ".flightdeck/policy.toml";

/// The policy file of the config dir: defaults and per-repo tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub default: RawPolicy,
    /// Keyed by the repo's folder name or its full path.
    #[serde(default)]
    pub repo: BTreeMap<String, RawPolicy>,
    #[serde(skip)]
    path: PathBuf,
}

/// One policy as written; every field optional so layers can be stacked.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Check names that must have succeeded.
    pub required_checks: Option<Vec<String>>,
    /// Human approvals an agent-authored change needs.
    pub agent_approvals: Option<u32>,
    /// Human approvals a human-authored change needs.
    pub human_approvals: Option<u32>,
    /// Largest agent cost (USD) one change may carry.
    pub max_agent_cost_usd: Option<f64>,
    pub protected: Option<Vec<RawProtected>>,
    pub freeze: Option<Vec<RawFreeze>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawProtected {
    /// Globs over repo-relative paths, e.g. `migrations/**`.
    pub paths: Vec<String>,
    /// Human approvals a change touching these paths needs (at least).
    pub approvals: Option<u32>,
    /// People of whom at least one must approve.
    #[serde(default)]
    pub owners: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawFreeze {
    /// RFC 3339 times; merges between them are refused.
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Human approvals agent work needs when no layer says.
const DEFAULT_AGENT_APPROVALS: u32 = 1;

impl RawPolicy {
    /// The lead's policy (`self`) with a committed `.flightdeck/policy.toml` on top, which may
    /// only make it stricter: its checks, protected paths and freezes are added, its approvals
    /// count where higher, its cost limit where lower. One merged change to that file (an
    /// agent's, say) could otherwise set `agent_approvals = 0` for everything after it.
    pub fn tightened_by(self, committed: RawPolicy) -> RawPolicy {
        fn both<T: PartialEq>(a: Option<Vec<T>>, b: Option<Vec<T>>) -> Option<Vec<T>> {
            match (a, b) {
                (Some(mut a), Some(b)) => {
                    for x in b {
                        if !a.contains(&x) {
                            a.push(x);
                        }
                    }
                    Some(a)
                }
                (a, b) => a.or(b),
            }
        }
        let higher = |lead: Option<u32>, default: u32, c: Option<u32>| {
            Some(lead.unwrap_or(default).max(c.unwrap_or(0)))
        };
        RawPolicy {
            required_checks: both(self.required_checks, committed.required_checks),
            agent_approvals: higher(
                self.agent_approvals,
                DEFAULT_AGENT_APPROVALS,
                committed.agent_approvals,
            ),
            human_approvals: higher(self.human_approvals, 0, committed.human_approvals),
            // A limit that is not a number stays for `build` to refuse, whichever side set it.
            max_agent_cost_usd: match (self.max_agent_cost_usd, committed.max_agent_cost_usd) {
                (Some(a), Some(b)) if a.is_nan() || b.is_nan() => Some(f64::NAN),
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            protected: both(self.protected, committed.protected),
            freeze: both(self.freeze, committed.freeze),
        }
    }

    /// `self` over `base`: each field `self` sets wins.
    pub fn over(self, base: RawPolicy) -> RawPolicy {
        RawPolicy {
            required_checks: self.required_checks.or(base.required_checks),
            agent_approvals: self.agent_approvals.or(base.agent_approvals),
            human_approvals: self.human_approvals.or(base.human_approvals),
            max_agent_cost_usd: self.max_agent_cost_usd.or(base.max_agent_cost_usd),
            protected: self.protected.or(base.protected),
            freeze: self.freeze.or(base.freeze),
        }
    }

    /// The policy to apply; `source` says where it came from (shown with the verdict).
    fn build(self, source: String, path: &Path) -> Result<Policy, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let mut protected = Vec::new();
        for (i, p) in self.protected.unwrap_or_default().into_iter().enumerate() {
            let globs =
                glob_set(&p.paths).map_err(|m| invalid(&format!("protected[{i}].paths"), m))?;
            protected.push(Protected {
                patterns: p.paths,
                globs,
                approvals: p.approvals.unwrap_or(0),
                owners: p.owners,
            });
        }
        let mut freezes = Vec::new();
        for (i, f) in self.freeze.unwrap_or_default().into_iter().enumerate() {
            let time = |key: &str, v: &str| {
                crate::sources::parse_ts(v).ok_or_else(|| {
                    invalid(
                        &format!("freeze[{i}].{key}"),
                        format!("`{v}` is not an RFC 3339 time"),
                    )
                })
            };
            let (start, end) = (time("start", &f.start)?, time("end", &f.end)?);
            if end <= start {
                return Err(invalid(
                    &format!("freeze[{i}]"),
                    "end is not after start".into(),
                ));
            }
            freezes.push(Freeze {
                start,
                end,
                reason: f.reason.unwrap_or_else(|| "freeze window".into()),
            });
        }
        if let Some(c) = self
            .max_agent_cost_usd
            .filter(|c| !c.is_finite() || *c < 0.0)
        {
            return Err(invalid("max_agent_cost_usd", format!("{c} is not a cost")));
        }
        Ok(Policy {
            source,
            required_checks: self.required_checks.unwrap_or_default(),
            agent_approvals: self.agent_approvals.unwrap_or(DEFAULT_AGENT_APPROVALS),
            human_approvals: self.human_approvals.unwrap_or(0),
            max_agent_cost_usd: self.max_agent_cost_usd,
            protected,
            freezes,
        })
    }
}

/// A policy ready to judge changes.
#[derive(Debug, Clone)]
pub struct Policy {
    pub source: String,
    pub required_checks: Vec<String>,
    pub agent_approvals: u32,
    pub human_approvals: u32,
    pub max_agent_cost_usd: Option<f64>,
    pub protected: Vec<Protected>,
    pub freezes: Vec<Freeze>,
}

#[derive(Debug, Clone)]
pub struct Protected {
    pub patterns: Vec<String>,
    globs: GlobSet,
    pub approvals: u32,
    pub owners: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Freeze {
    pub start: i64,
    pub end: i64,
    pub reason: String,
}

impl PolicyFile {
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut f: PolicyFile = parse_toml(text, path)?;
        f.path = path.to_path_buf();
        Ok(f)
    }

    /// The file at `path`; a missing file is an empty one (built-in defaults).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PolicyFile {
                path: path.to_path_buf(),
                ..Default::default()
            }),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The policy for a repo (its folder name and full path), with the policy committed on its
    /// base branch, if any, on top.
    pub fn for_repo(
        &self,
        name: &str,
        path: &str,
        committed: Option<&CommittedPolicy>,
    ) -> Result<Policy, ConfigError> {
        let configured = self.repo.get(path).or_else(|| self.repo.get(name)).cloned();
        let mut source = match &configured {
            Some(_) => format!("{} [repo.\"{name}\"]", self.path.display()),
            None => format!("{} [default]", self.path.display()),
        };
        let mut raw = configured.unwrap_or_default().over(self.default.clone());
        if let Some(c) = committed {
            raw = raw.tightened_by(c.raw.clone());
            source = format!("{source}, tightened by {REPO_POLICY} on {}", c.base);
        }
        let error_path = committed
            .map(|c| PathBuf::from(format!("{path}/{REPO_POLICY} ({})", c.base)))
            .unwrap_or_else(|| self.path.clone());
        let mut policy = raw.build(source, &error_path)?;
        // Changing the committed rules is itself guarded: where the repo has the file, a change
        // to it needs a person's approval, whatever the layers say (it cannot go below the
        // lead's policy, but it can drop what the team added there).
        if committed.is_some()
            && !policy
                .protected
                .iter()
                .any(|p| p.approvals >= 1 && p.globs.is_match(REPO_POLICY))
        {
            let patterns = vec![REPO_POLICY.to_string()];
            let globs = glob_set(&patterns).map_err(|message| ConfigError::Invalid {
                path: error_path.clone(),
                key: "protected".into(),
                message,
            })?;
            policy.protected.push(Protected {
                patterns,
                globs,
                approvals: 1,
                owners: Vec::new(),
            });
        }
        Ok(policy)
    }
}

/// The set matching any of `patterns`; `Err` names the one that is not a glob.
fn glob_set(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for g in patterns {
        set.add(Glob::new(g).map_err(|e| format!("`{g}`: {e}"))?);
    }
    set.build().map_err(|e| e.to_string())
}

/// A repo's `.flightdeck/policy.toml` as committed on its base branch.
#[derive(Debug, Clone, PartialEq)]
pub struct CommittedPolicy {
    pub base: String,
    pub raw: RawPolicy,
}

/// Reads `.flightdeck/policy.toml` from the tip of `base` (not the work tree, not the change's
/// branch). `Ok(None)` when the base has no such file.
pub fn committed_policy(repo: &Path, base: &str) -> Result<Option<CommittedPolicy>, ConfigError> {
    let label = PathBuf::from(format!("{}/{REPO_POLICY} ({base})", repo.display()));
    let git_err = |e: git2::Error| ConfigError::Invalid {
        path: label.clone(),
        key: "git".into(),
        message: e.message().to_string(),
    };
    let r = git2::Repository::open(repo).map_err(git_err)?;
    let tree = match r.revparse_single(&format!("refs/heads/{base}")) {
        Ok(obj) => obj.peel_to_tree().map_err(git_err)?,
        Err(_) => return Ok(None),
    };
    let Ok(entry) = tree.get_path(Path::new(REPO_POLICY)) else {
        return Ok(None);
    };
    let blob = entry
        .to_object(&r)
        .and_then(|o| o.peel_to_blob())
        .map_err(git_err)?;
    let text = std::str::from_utf8(blob.content()).map_err(|e| ConfigError::Invalid {
        path: label.clone(),
        key: "file".into(),
        message: format!("not UTF-8: {e}"),
    })?;
    let raw: RawPolicy = parse_toml(text, &label)?;
    Ok(Some(CommittedPolicy {
        base: base.to_string(),
        raw,
    }))
}

/// Someone's approval of a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub by: String,
    /// The agent, when the approver is one.
    pub agent: Option<String>,
}

/// What the policy judges about one change.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub author: &'a Author,
    pub checks: &'a [Check],
    pub approvals: &'a [Approval],
    /// Repo-relative paths the change touches; `None` when they are not known (a pull
    /// request whose files were not fetched), which protected paths report as unchecked.
    pub paths: Option<&'a [String]>,
    pub agent_cost_usd: f64,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Verdict {
    pub pass: bool,
    /// Where the policy came from.
    pub policy: String,
    /// Every rule that applied, passed or not.
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Reason {
    /// checks, approvals, protected, cost or freeze.
    pub rule: String,
    pub ok: bool,
    pub message: String,
}

impl Policy {
    pub fn judge(&self, f: &Facts) -> Verdict {
        let mut reasons = Vec::new();
        let mut say = |rule: &str, ok: bool, message: String| {
            reasons.push(Reason {
                rule: rule.into(),
                ok,
                message,
            })
        };

        for name in &self.required_checks {
            let runs: Vec<&Check> = f.checks.iter().filter(|c| &c.name == name).collect();
            let failed = runs.iter().find(|c| {
                c.status == "completed"
                    && !matches!(
                        c.conclusion.as_deref(),
                        Some("success" | "neutral" | "skipped")
                    )
            });
            if runs.is_empty() {
                say(
                    "checks",
                    false,
                    format!("required check `{name}` has not run"),
                );
            } else if let Some(c) = failed {
                let how = c.conclusion.as_deref().unwrap_or("no conclusion");
                say("checks", false, format!("required check `{name}` {how}"));
            } else if runs.iter().any(|c| c.status != "completed") {
                say(
                    "checks",
                    false,
                    format!("required check `{name}` is still running"),
                );
            } else {
                say("checks", true, format!("required check `{name}` passed"));
            }
        }

        // Approvals: people only, never the author, each person once.
        let author_agent = match f.author {
            Author::Agent { agent } => Some(agent.as_str()),
            Author::Human { .. } => None,
        };
        let author_name = match f.author {
            Author::Human { name } => Some(name.as_str()),
            Author::Agent { .. } => None,
        };
        let mut approvers: Vec<&str> = Vec::new();
        for a in f.approvals {
            // Approvals that do not count are listed (as notes, not failures): the count below
            // decides.
            let note = match (&a.agent, author_agent) {
                (Some(agent), Some(author)) if agent == author => {
                    Some(format!("{} approved its own work: not counted", a.by))
                }
                (Some(_), _) => Some(format!("{} is an agent: its approval is not counted", a.by)),
                (None, _) if Some(a.by.as_str()) == author_name => Some(format!(
                    "{} wrote this change: their approval is not counted",
                    a.by
                )),
                (None, _) => {
                    if !approvers.iter().any(|p| p.eq_ignore_ascii_case(&a.by)) {
                        approvers.push(&a.by);
                    }
                    None
                }
            };
            if let Some(n) = note {
                say("approvals", true, n);
            }
        }
        let needed = if author_agent.is_some() {
            self.agent_approvals
        } else {
            self.human_approvals
        };
        let who = if author_agent.is_some() {
            "an agent-authored"
        } else {
            "a human-authored"
        };
        let have = approvers.len() as u32;
        say(
            "approvals",
            have >= needed,
            format!("{have} of {needed} human approvals {who} change needs"),
        );

        if f.paths.is_none() && !self.protected.is_empty() {
            say(
                "protected",
                false,
                "the files of this pull request are not known yet, so protected paths cannot \
                 be checked"
                    .into(),
            );
        }
        for p in &self.protected {
            let touched: Vec<&String> = f
                .paths
                .unwrap_or_default()
                .iter()
                .filter(|x| p.globs.is_match(x))
                .collect();
            let Some(first) = touched.first() else {
                continue;
            };
            let what = format!(
                "{} protected path{} ({}, e.g. {first})",
                touched.len(),
                if touched.len() == 1 { "" } else { "s" },
                p.patterns.join(", ")
            );
            if p.approvals > 0 {
                say(
                    "protected",
                    have >= p.approvals,
                    format!("{what}: {have} of {} approvals", p.approvals),
                );
            }
            if !p.owners.is_empty() {
                let owner = approvers
                    .iter()
                    .find(|a| p.owners.iter().any(|o| o.eq_ignore_ascii_case(a)));
                match owner {
                    Some(o) => say("protected", true, format!("{what}: owner {o} approved")),
                    None => say(
                        "protected",
                        false,
                        format!("{what}: needs an approval from {}", p.owners.join(" or ")),
                    ),
                }
            }
        }

        if let (Some(max), Some(_)) = (self.max_agent_cost_usd, author_agent) {
            say(
                "cost",
                f.agent_cost_usd <= max,
                format!(
                    "agent cost ${:.2} of at most ${max:.2} per change",
                    f.agent_cost_usd
                ),
            );
        }

        for w in &self.freezes {
            if f.now >= w.start && f.now < w.end {
                say(
                    "freeze",
                    false,
                    format!("{} until {}", w.reason, fmt_time(w.end)),
                );
            }
        }

        Verdict {
            pass: reasons.iter().all(|r| r.ok),
            policy: self.source.clone(),
            reasons,
        }
    }
}

fn fmt_time(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// The verdict on one change request as it stands: its checks, the approvals of its current
/// head (an approval of an older head does not carry over), the paths it touches and its agent
/// cost, under the policy for its repo (committed on its base branch, else the policy file).
pub async fn judge_change(
    store: &crate::store::Store,
    file: &PolicyFile,
    change: &crate::model::ChangeRequest,
    now: i64,
) -> Result<Verdict, String> {
    let read = |e: crate::Error| e.to_string();
    // This change's only: a store of years holds 100,000s of others'.
    let checks = store.checks_of(&change.id).await.map_err(read)?;
    let reviews = store.reviews_of(&change.id).await.map_err(read)?;
    let repos = store.repos().await.map_err(read)?;
    let known = Known {
        checks: &checks,
        reviews: &reviews,
        repos: &repos,
        files: None,
    };
    judge_change_among(store, file, change, now, &known).await
}

/// What judging reads besides the change itself, read once by a caller judging many changes:
/// checks and reviews (every change's, or just this one's) and the repos (names and this
/// machine's clones).
pub struct Known<'a> {
    pub checks: &'a [Check],
    pub reviews: &'a [crate::model::Review],
    pub repos: &'a [crate::model::Repo],
    /// The stored paths of the changes being judged (id → (head, paths)), when read at once;
    /// `None`: each change's are read from the store.
    pub files: Option<&'a std::collections::HashMap<String, (String, Vec<String>)>>,
}

/// `judge_change` with what it reads already read.
pub async fn judge_change_among(
    store: &crate::store::Store,
    file: &PolicyFile,
    change: &crate::model::ChangeRequest,
    now: i64,
    known: &Known<'_>,
) -> Result<Verdict, String> {
    let checks: Vec<Check> = known
        .checks
        .iter()
        .filter(|c| c.change_request == change.id)
        .cloned()
        .collect();
    // Each reviewer's latest word on this head decides whether they approve.
    let mut latest: BTreeMap<&str, ReviewState> = BTreeMap::new();
    for r in known.reviews {
        if r.change_request == change.id
            && r.head_sha == change.head_sha
            && r.state != ReviewState::Commented
        {
            latest.insert(&r.reviewer, r.state);
        }
    }
    let approvals: Vec<Approval> = latest
        .into_iter()
        .filter(|(_, state)| *state == ReviewState::Approved)
        // A bot account's approval is an agent's: it does not count as a person's.
        .map(|(by, _)| Approval {
            agent: by.ends_with("[bot]").then(|| by.to_string()),
            by: by.to_string(),
        })
        .collect();
    // The repo's name and this machine's clone, for `[repo."…"]` and the committed policy.
    let row = known.repos.iter().find(|r| r.id == change.repo);
    let name = match row {
        Some(r) => r.name.clone(),
        None => Path::new(&change.repo)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let clone =
        crate::model::repo_id::clone_or_legacy(row.and_then(|r| r.path.clone()), &change.repo);
    let key = clone.clone().unwrap_or_else(|| change.repo.clone());
    let (repo, base, head) = (
        clone.map(PathBuf::from),
        change.base.clone(),
        change.head_sha.clone(),
    );
    // A pull request's head need not be in the local clone: its paths come from GitHub's
    // files list, stored by the sync for its current head. A local branch's are stored by the
    // scan for each head it sees ([`record_change_paths`]); judging never writes, and only
    // works them out from the clone when none are stored (a head not scanned yet).
    let local = change.kind == crate::model::ChangeKind::Local;
    let stored = match known.files {
        Some(files) => files
            .get(&change.id)
            .filter(|(head, _)| *head == change.head_sha)
            .map(|(_, paths)| paths.clone()),
        None => store
            .change_files(&change.id, &change.head_sha)
            .await
            .map_err(|e| e.to_string())?,
    };
    let compute = local && stored.is_none();
    let kept = stored.clone();
    let (committed, paths) = tokio::task::spawn_blocking(move || {
        // With no clone on this machine, the paths stored by the machine that has one serve.
        let Some(repo) = repo else {
            return Ok::<_, String>((None, kept));
        };
        let committed = committed_policy(&repo, &base).map_err(|e| e.to_string())?;
        let paths = if compute {
            Some(
                changed_paths(&repo, &base, &head)
                    .map_err(|e| format!("{}: {}", repo.display(), e.message()))?,
            )
        } else {
            kept
        };
        Ok::<_, String>((committed, paths))
    })
    .await
    .map_err(|e| e.to_string())??;
    let policy = file
        .for_repo(&name, &key, committed.as_ref())
        .map_err(|e| e.to_string())?;
    Ok(policy.judge(&Facts {
        author: &change.author,
        checks: &checks,
        approvals: &approvals,
        paths: paths.as_deref(),
        agent_cost_usd: change.agent_cost_usd,
        now,
    }))
}

/// Stores the paths open local change `change` touches, worked out from the clone at `repo`
/// on each scan that reads the repo (when its refs changed): the Changes view then judges
/// without a diff per request, and a merged branch (whose diff from the base is empty) keeps
/// the paths it had while open. Worked out again even at the same head, because the merge
/// base moves when part of the branch lands on the base (a stacked branch whose parent was
/// merged): kept paths would then name files the branch no longer changes, or miss one it
/// now does. A head whose objects are not all here keeps what was stored, and is judged from
/// the clone or as unknown.
pub async fn record_change_paths(
    store: &Store,
    repo: &Path,
    change: &ChangeRequest,
) -> crate::Result<()> {
    let (repo, base, head) = (
        repo.to_path_buf(),
        change.base.clone(),
        change.head_sha.clone(),
    );
    let paths = tokio::task::spawn_blocking(move || changed_paths(&repo, &base, &head)).await;
    let Ok(Ok(paths)) = paths else {
        return Ok(());
    };
    let mut stored = store.change_files(&change.id, &change.head_sha).await?;
    // Compared in one order: the database sorts by its own collation.
    if let Some(s) = stored.as_mut() {
        s.sort();
    }
    if !paths.is_empty() && stored.as_ref() != Some(&paths) {
        store
            .set_change_files(&change.id, &change.head_sha, &paths)
            .await?;
    }
    Ok(())
}

/// Repo-relative paths a branch changes since it left `base` (both sides of a rename).
fn changed_paths(repo: &Path, base: &str, head: &str) -> Result<Vec<String>, git2::Error> {
    let r = git2::Repository::open(repo)?;
    let (_, diff) = crate::forge::diff::branch_diff(&r, base, head, None)?;
    let mut paths: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}
