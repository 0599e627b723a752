//! Monthly budgets — for the team, a repo, an agent or a vendor — what is spent against them,
//! a month-end forecast with its uncertainty, and alerts at 50, 80 and 100 % that fire exactly
//! once per month and threshold (the alert row in the store is the proof, across restarts and
//! machines sharing one database).

use serde::Serialize;
use ts_rs::TS;

use crate::model::error::Result;
pub use crate::model::{Budget, BudgetAlert, Scope};
use crate::store::Store;

/// The thresholds alerts fire at, in percent of the budget.
pub const THRESHOLDS: [i64; 3] = [50, 80, 100];

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("`{0}` is not a budget scope (team, repo, agent, vendor)")]
    Scope(String),
    #[error("a {0} budget needs a target (which {0})")]
    NoTarget(&'static str),
    #[error("a team budget has no target")]
    TeamTarget,
    #[error("{0} is not a monthly amount (USD, more than 0)")]
    Amount(f64),
    #[error("no {scope} `{target}` to budget (known: {known})")]
    UnknownTarget {
        scope: &'static str,
        target: String,
        known: String,
    },
    #[error("{scope} `{target}` is ambiguous: it could be {candidates}; give one of those")]
    Ambiguous {
        scope: &'static str,
        target: String,
        candidates: String,
    },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// The month-end spend expected from this month's days so far, with an 80 % interval.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Forecast {
    pub expected_usd: f64,
    pub low_usd: f64,
    pub high_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct BudgetStatus {
    pub budget: Budget,
    /// `YYYY-MM`.
    pub month: String,
    pub spent_usd: f64,
    /// spent / budget.
    pub used: f64,
    pub forecast: Forecast,
    /// Thresholds (percent) that fired this month.
    #[ts(type = "number[]")]
    pub fired: Vec<i64>,
}

/// Sets (or replaces) the monthly budget of a scope.
/// Sets a budget. Its target must name something that exists, as the user sees it: a repo by
/// its name, `owner/name`, identity or this machine's path (stored as its identity, which is
/// what spend is recorded under); a vendor or agent case-insensitively, among those with spend
/// or, for vendors, in the price table (`prices`). Anything else is refused by name: a budget
/// that can never match would never warn.
pub async fn set(
    store: &Store,
    scope: &str,
    target: Option<&str>,
    monthly_usd: f64,
    prices: &crate::model::pricing::PriceTable,
    now: i64,
) -> std::result::Result<Budget, BudgetError> {
    let scope = Scope::parse(scope).ok_or_else(|| BudgetError::Scope(scope.into()))?;
    let target = target.map(str::trim).filter(|t| !t.is_empty());
    let target = match (scope, target) {
        (Scope::Team, None) => (Scope::Team, ""),
        (Scope::Team, Some(_)) => return Err(BudgetError::TeamTarget),
        (s, None) => return Err(BudgetError::NoTarget(s.as_str())),
        (s, Some(t)) => (s, t),
    };
    if !monthly_usd.is_finite() || monthly_usd <= 0.0 {
        return Err(BudgetError::Amount(monthly_usd));
    }
    let target = match target {
        (Scope::Team, _) => String::new(),
        (s, t) => resolve_target(store, s, t, prices).await?,
    };
    let id = match scope {
        Scope::Team => "team".to_string(),
        s => format!("{}:{target}", s.as_str()),
    };
    let budget = Budget {
        id,
        scope,
        target,
        monthly_usd,
    };
    store.upsert_budget(&budget, now).await?;
    Ok(budget)
}

/// The stored key a budget's target means (see [`set`]).
async fn resolve_target(
    store: &Store,
    scope: Scope,
    target: &str,
    prices: &crate::model::pricing::PriceTable,
) -> std::result::Result<String, BudgetError> {
    let unknown = |known: Vec<String>| BudgetError::UnknownTarget {
        scope: scope.as_str(),
        target: target.to_string(),
        known: if known.is_empty() {
            "none yet".into()
        } else {
            known.join(", ")
        },
    };
    if scope == Scope::Repo {
        // Spend recorded under a key no scanned repo has (a repo since removed) still counts.
        if store
            .spend_targets(scope)
            .await?
            .iter()
            .any(|k| k == target)
        {
            return Ok(target.to_string());
        }
        let repos = store.repos().await?;
        let path = std::path::Path::new(target)
            .canonicalize()
            .ok()
            .map(|p| p.display().to_string());
        let by = |f: &dyn Fn(&crate::model::Repo) -> bool| -> Vec<&crate::model::Repo> {
            repos.iter().filter(|r| f(r)).collect()
        };
        // The most exact reading first: identity, this machine's clone, owner/name, name.
        let tries: [Vec<&crate::model::Repo>; 4] = [
            by(&|r| r.id == target),
            by(&|r| r.path.is_some() && (r.path == path || r.path.as_deref() == Some(target))),
            by(&|r| r.id.ends_with(&format!("/{target}")) && target.contains('/')),
            by(&|r| r.name == target),
        ];
        return match tries.into_iter().find(|t| !t.is_empty()) {
            Some(found) if found.len() == 1 => Ok(found[0].id.clone()),
            Some(found) => Err(BudgetError::Ambiguous {
                scope: "repo",
                target: target.to_string(),
                candidates: found
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            None => Err(unknown(repos.iter().map(|r| r.name.clone()).collect())),
        };
    }
    let mut known = store.spend_targets(scope).await?;
    match scope {
        Scope::Vendor => known.extend(prices.list().into_iter().map(|p| p.vendor)),
        // The agents Flightdeck reads logs of, before any of them has spent anything.
        Scope::Agent => known.extend(
            [
                crate::sources::claude::AGENT,
                crate::sources::codex::AGENT,
                crate::sources::gemini::AGENT,
            ]
            .map(String::from),
        ),
        Scope::Team | Scope::Repo => {}
    }
    known.sort();
    known.dedup();
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(target))
        .cloned()
        .ok_or_else(|| unknown(known.clone()))
}

/// Removes a budget (and its alerts); false when there was none.
pub async fn remove(store: &Store, id: &str) -> Result<bool> {
    store.remove_budget(id).await
}

pub async fn budgets(store: &Store) -> Result<Vec<Budget>> {
    store.budgets().await
}

/// `YYYY-MM` and the number of days of the month holding `now`, and the day of month (1-based).
fn month_of(now: i64) -> (String, u32, u32) {
    use chrono::Datelike;
    let d = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .date_naive();
    let first = d.with_day(1).unwrap_or(d);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    let days = (next - first).num_days() as u32;
    (d.format("%Y-%m").to_string(), days, d.day())
}

/// Cost per day of the month so far (days without spend count as 0).
async fn daily_spend(store: &Store, b: &Budget, month: &str, today: u32) -> Result<Vec<f64>> {
    let mut days = vec![0.0; today as usize];
    for (day, cost) in store.spend_by_day(b.scope, &b.target, month).await? {
        let n: usize = day.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(0);
        if (1..=today as usize).contains(&n) {
            days[n - 1] += cost;
        }
    }
    Ok(days)
}

/// Month-end spend: what is spent, plus the mean daily spend so far for each day left; the
/// interval is 80 % under the assumption that days are independent draws like the days seen
/// (z = 1.2816 on the standard deviation of the remaining days' sum), never below what is
/// already spent.
pub fn forecast(days_so_far: &[f64], days_in_month: u32) -> Forecast {
    let spent: f64 = days_so_far.iter().sum();
    let n = days_so_far.len() as f64;
    let left = (days_in_month as f64 - n).max(0.0);
    if n == 0.0 {
        return Forecast {
            expected_usd: spent,
            low_usd: spent,
            high_usd: spent,
        };
    }
    let mean = spent / n;
    let var = if n > 1.0 {
        days_so_far.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let expected = spent + mean * left;
    let half = 1.2816 * (var * left).sqrt();
    Forecast {
        expected_usd: expected,
        low_usd: (expected - half).max(spent),
        high_usd: expected + half,
    }
}

/// Every budget's standing this month.
pub async fn status(store: &Store, now: i64) -> Result<Vec<BudgetStatus>> {
    let (month, days_in_month, today) = month_of(now);
    let mut out = Vec::new();
    for b in budgets(store).await? {
        let days = daily_spend(store, &b, &month, today).await?;
        let spent: f64 = days.iter().sum();
        let fired = store.fired_thresholds(&b.id, &month).await?;
        out.push(BudgetStatus {
            used: spent / b.monthly_usd,
            spent_usd: spent,
            forecast: forecast(&days, days_in_month),
            month: month.clone(),
            fired,
            budget: b,
        });
    }
    Ok(out)
}

/// Fires the thresholds crossed this month that have not fired yet; returns those that fired
/// now. Run after each ingest: a threshold fires once, however often this runs.
pub async fn check(store: &Store, now: i64) -> Result<Vec<BudgetAlert>> {
    let mut fired = Vec::new();
    for s in status(store, now).await? {
        for t in THRESHOLDS {
            if s.spent_usd < s.budget.monthly_usd * t as f64 / 100.0 || s.fired.contains(&t) {
                continue;
            }
            let alert = BudgetAlert {
                budget_id: s.budget.id.clone(),
                month: s.month.clone(),
                threshold: t,
                spent_usd: s.spent_usd,
                monthly_usd: s.budget.monthly_usd,
                at: now,
            };
            // The insert decides: of two machines racing, one gets the row.
            if store.record_budget_alert(&alert).await? {
                fired.push(alert);
            }
        }
    }
    Ok(fired)
}

/// This month's alerts, newest first (for the inbox).
pub async fn alerts(store: &Store, now: i64) -> Result<Vec<BudgetAlert>> {
    let (month, _, _) = month_of(now);
    store.budget_alerts(&month).await
}
