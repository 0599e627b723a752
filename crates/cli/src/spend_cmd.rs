//! `flightdeck report spend` and `flightdeck prices list | check`: what the agents cost, from
//! the per-day rollup, as a table, JSON or CSV; the effective price table (built-in, the
//! user's prices and discounts) and the models seen in logs that have no price.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flightdeck_core::config::Settings;
use flightdeck_core::metrics::reports::{self, SpendBy};
use flightdeck_core::model::pricing::PriceTable;
use flightdeck_core::store::Store;

#[derive(Clone, Copy, ValueEnum)]
pub enum SpendByArg {
    Vendor,
    Model,
    Agent,
    Repo,
    Person,
    Day,
    Week,
    Month,
}

#[derive(Args)]
pub struct SpendArgs {
    #[arg(long, value_enum, default_value = "vendor")]
    by: SpendByArg,
    /// First day to include (YYYY-MM-DD, UTC).
    #[arg(long)]
    since: Option<String>,
    /// Last day to include (YYYY-MM-DD, UTC).
    #[arg(long)]
    until: Option<String>,
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    #[arg(long)]
    csv: bool,
}

#[derive(Subcommand)]
pub enum PricesCmd {
    /// Every model's prices (USD per million tokens) with the dates they hold from and the
    /// vendor's discount.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Models in the agent logs without a price: their usage is counted but not costed. Exits
    /// 1 when there are any.
    Check {
        #[arg(long)]
        json: bool,
    },
}

/// A `--since`/`--until` as given, checked to be a day.
pub fn checked_day<'a>(flag: &str, given: &'a Option<String>) -> Result<Option<&'a str>> {
    match given.as_deref() {
        Some(d) if flightdeck_core::model::days::parse(d).is_none() => {
            bail!("{flag} `{d}` is not a date like 2026-11-25")
        }
        other => Ok(other),
    }
}

/// A `--since`/`--until` as given (checked), else the UTC day holding `default_ts`.
fn day_or(flag: &str, given: &Option<String>, default_ts: i64) -> Result<String> {
    Ok(checked_day(flag, given)?.map_or_else(
        || flightdeck_core::model::days::of(default_ts),
        str::to_string,
    ))
}

pub async fn spend(settings: &Settings, a: &SpendArgs) -> Result<ExitCode> {
    let since = checked_day("--since", &a.since)?;
    let until = checked_day("--until", &a.until)?;
    let by = match a.by {
        SpendByArg::Vendor => SpendBy::Vendor,
        SpendByArg::Model => SpendBy::Model,
        SpendByArg::Agent => SpendBy::Agent,
        SpendByArg::Repo => SpendBy::Repo,
        SpendByArg::Person => SpendBy::Person,
        SpendByArg::Day => SpendBy::Day,
        SpendByArg::Week => SpendBy::Week,
        SpendByArg::Month => SpendBy::Month,
    };
    let store = Store::open_existing(&settings.database_url).await?;
    let r = reports::spend(&store, by, since, until).await?;
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&r).context("serialising")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if a.csv {
        let mut w = crate::output::csv();
        w.write_record([
            "key",
            "cost_usd",
            "share",
            "unpriced_tokens",
            "input",
            "output",
            "cache_write",
            "cache_read",
            "reasoning",
        ])?;
        for row in r.rows.iter().chain(std::iter::once(&r.total)) {
            let t = &row.tokens;
            w.write_record([
                row.key.clone(),
                format!("{:.6}", row.cost_usd),
                format!("{:.6}", row.share),
                row.unpriced_tokens.to_string(),
                t.input.to_string(),
                t.output.to_string(),
                t.cache_write.to_string(),
                t.cache_read.to_string(),
                t.reasoning.to_string(),
            ])?;
        }
        w.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:<44} {:>12} {:>7} {:>16} {:>16}",
        "key",
        "cost USD",
        "share",
        "tokens",
        "unpriced tokens"
    );
    for row in r.rows.iter().chain(std::iter::once(&r.total)) {
        outln!(
            "{:<44} {:>12.4} {:>6.1}% {:>16} {:>16}",
            if row.key.is_empty() {
                "(none)"
            } else {
                &row.key
            },
            row.cost_usd,
            row.share * 100.0,
            row.tokens.total(),
            row.unpriced_tokens
        );
    }
    if !r.unpriced_models.is_empty() {
        outln!(
            "\nunpriced (usage counted, cost unknown): {}; add prices under [prices.models] in the config",
            r.unpriced_models.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn prices(settings: &Settings, cmd: &PricesCmd) -> Result<ExitCode> {
    match cmd {
        PricesCmd::List { json } => {
            let table = PriceTable::with_overrides(&settings.prices);
            let list = table.list();
            if *json {
                outln!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(ExitCode::SUCCESS);
            }
            outln!("price table {} (USD per million tokens)", table.version);
            outln!(
                "{:<30} {:<10} {:<11} {:>9} {:>9} {:>11} {:>11} {:>10} {:>9}",
                "model",
                "vendor",
                "from",
                "input",
                "output",
                "write 5m",
                "write 1h",
                "read",
                "discount"
            );
            let m = |x: f64| x * 1e6;
            for p in &list {
                let r = &p.price;
                outln!(
                    "{:<30} {:<10} {:<11} {:>9.3} {:>9.3} {:>11.3} {:>11.3} {:>10.3} {:>8.0}%",
                    p.model,
                    p.vendor,
                    p.from.as_deref().unwrap_or("always"),
                    m(r.input),
                    m(r.output),
                    m(r.cache_write),
                    m(r.cache_write_1h.unwrap_or(2.0 * r.input)),
                    m(r.cache_read),
                    p.discount * 100.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PricesCmd::Check { json } => {
            let store = Store::open_existing(&settings.database_url).await?;
            let missing = reports::unpriced_models(&store).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&missing)?);
            } else if missing.is_empty() {
                outln!("every model in the agent logs has a price");
            } else {
                for u in &missing {
                    outln!(
                        "{}: no price — {} tokens in {} requests, {} to {}",
                        u.model,
                        u.tokens,
                        u.requests,
                        u.first_day,
                        u.last_day
                    );
                }
                outln!(
                    "add them under [prices.models.\"NAME\"] in the config file (USD per token)"
                );
            }
            Ok(if missing.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

#[derive(Subcommand)]
pub enum BudgetCmd {
    /// Set (or replace) a monthly budget: `budget set team 500`, `budget set repo 200 --target
    /// /path/to/repo`, `budget set vendor 300 --target anthropic`.
    Set {
        /// team, repo, agent or vendor.
        scope: String,
        /// USD per month.
        monthly_usd: f64,
        /// Which repo (path), agent or vendor.
        #[arg(long)]
        target: Option<String>,
    },
    /// This month's spend against every budget, the month-end forecast and the alerts fired.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a budget by its id (as `budget list` shows it).
    Remove { id: String },
}

pub async fn budget(settings: &Settings, cmd: &BudgetCmd) -> Result<ExitCode> {
    use flightdeck_core::domain::budgets;
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    match cmd {
        BudgetCmd::Set {
            scope,
            monthly_usd,
            target,
        } => {
            let prices = PriceTable::with_overrides(&settings.prices);
            let b =
                budgets::set(&store, scope, target.as_deref(), *monthly_usd, &prices, now).await?;
            outln!("budget {}: ${:.2} a month", b.id, b.monthly_usd);
            // Spend already past a threshold fires now, not at the next ingest.
            for a in budgets::check(&store, now).await? {
                outln!("  {} % reached: ${:.2} spent", a.threshold, a.spent_usd);
            }
        }
        BudgetCmd::List { json } => {
            let status = budgets::status(&store, now).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(ExitCode::SUCCESS);
            }
            if status.is_empty() {
                outln!("no budgets; `flightdeck budget set team 500` sets one");
            }
            for s in &status {
                let f = &s.forecast;
                outln!(
                    "{:<32} ${:>10.2} of ${:>10.2} ({:>5.1}%)  month end ~${:.2} (80%: ${:.2}–${:.2})  fired: {}",
                    s.budget.id,
                    s.spent_usd,
                    s.budget.monthly_usd,
                    s.used * 100.0,
                    f.expected_usd,
                    f.low_usd,
                    f.high_usd,
                    if s.fired.is_empty() {
                        "none".to_string()
                    } else {
                        s.fired.iter().map(|t| format!("{t}%")).collect::<Vec<_>>().join(", ")
                    }
                );
            }
        }
        BudgetCmd::Remove { id } => {
            if !budgets::remove(&store, id).await? {
                bail!("no budget `{id}`; `flightdeck budget list` shows them");
            }
            outln!("removed budget {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ConcentrationArgs {
    /// First day counted (YYYY-MM-DD, UTC); default 30 days ago.
    #[arg(long)]
    since: Option<String>,
    /// Also list what stops if this vendor is down (repos and agents on it alone).
    #[arg(long, value_name = "VENDOR")]
    down: Option<String>,
    #[arg(long)]
    json: bool,
}

/// `flightdeck report concentration`: vendor shares of spend and merged agent work, the HHI
/// against the configured threshold; with `--down VENDOR`, what depends on it alone.
pub async fn concentration(settings: &Settings, a: &ConcentrationArgs) -> Result<ExitCode> {
    use flightdeck_core::metrics::concentration;
    let now = chrono::Utc::now().timestamp();
    let since = day_or("--since", &a.since, now - 30 * 86_400)?;
    let store = Store::open_existing(&settings.database_url).await?;
    let c = concentration::concentration(&store, &since, settings.concentration_threshold).await?;
    let since_ts = flightdeck_core::model::days::start_of(&since).unwrap_or(0);
    let down = match &a.down {
        Some(v) => Some(concentration::if_down(&store, v, since_ts).await?),
        None => None,
    };
    if a.json {
        let v = serde_json::json!({ "concentration": c, "down": down });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "since {since}: spend HHI {:.0}, merged agent work HHI {:.0} (threshold {:.0}{})",
        c.hhi_spend,
        c.hhi_merged,
        c.threshold,
        if c.over { ": ABOVE" } else { "" }
    );
    for (title, shares) in [
        ("spend by vendor", &c.spend_by_vendor),
        ("merged agent changes by vendor", &c.merged_by_vendor),
        ("spend by model", &c.spend_by_model),
    ] {
        outln!("{title}:");
        for s in shares {
            outln!(
                "  {:<32} {:>10.2} {:>6.1}%",
                s.key,
                s.value,
                s.share * 100.0
            );
        }
    }
    if let Some(d) = down {
        outln!("if {} is down:", d.vendor);
        outln!(
            "  repos that stop: {}",
            if d.repos_only.is_empty() {
                "none".into()
            } else {
                d.repos_only.join(", ")
            }
        );
        for p in &d.repos_partly {
            outln!(
                "  {} loses {:.0} % of its agent runs",
                p.key,
                p.share * 100.0
            );
        }
        outln!(
            "  agents that stop: {}",
            if d.agents_only.is_empty() {
                "none".into()
            } else {
                d.agents_only.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum BillingCmd {
    /// Fetch the vendors' cost reports (admin keys from ANTHROPIC_ADMIN_KEY / OPENAI_ADMIN_KEY
    /// or the OS keyring: `flightdeck token set --for anthropic|openai`).
    Sync,
}

pub async fn billing(settings: &Settings, cmd: &BillingCmd) -> Result<ExitCode> {
    use flightdeck_core::sources::billing::{self, Vendor};
    let BillingCmd::Sync = cmd;
    let store = Store::open(&settings.database_url).await?;
    let apis = billing::configured(&settings.anthropic_api_url, &settings.openai_api_url);
    for v in [Vendor::Anthropic, Vendor::OpenAi] {
        if v.key().is_none() {
            outln!(
                "{}: no admin key (set {}_ADMIN_KEY or run `flightdeck token set --for {}`)",
                v.name(),
                v.name().to_uppercase(),
                v.name()
            );
        }
    }
    let mut failed = false;
    for api in &apis {
        match billing::sync(api, &store, chrono::Utc::now().timestamp()).await {
            Ok(s) => outln!(
                "{}: {} to {}: {} lines, ${:.2} billed",
                s.vendor,
                s.from,
                s.to,
                s.lines,
                s.billed_usd
            ),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args)]
pub struct ReconcileArgs {
    /// First day (YYYY-MM-DD, UTC); default 30 days ago.
    #[arg(long)]
    since: Option<String>,
    /// Last day (YYYY-MM-DD, UTC); default today.
    #[arg(long)]
    until: Option<String>,
    #[arg(long)]
    json: bool,
}

/// `flightdeck report reconcile`: billed cost beside log-derived cost per day and vendor.
pub async fn reconcile(settings: &Settings, a: &ReconcileArgs) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    let since = day_or("--since", &a.since, now - 30 * 86_400)?;
    let until = day_or("--until", &a.until, now)?;
    let store = Store::open_existing(&settings.database_url).await?;
    let rows = flightdeck_core::sources::billing::reconcile(&store, &since, &until).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("no billing data from {since} to {until}; `flightdeck billing sync` fetches it");
    }
    outln!(
        "{:<11} {:<10} {:>12} {:>12} {:>12}",
        "day",
        "vendor",
        "from logs",
        "billed",
        "gap"
    );
    for r in &rows {
        outln!(
            "{:<11} {:<10} {:>12.2} {:>12.2} {:>+12.2}",
            r.day,
            r.vendor,
            r.logs_usd,
            r.billed_usd,
            r.gap_usd
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum CostsCmd {
    /// Import fixed costs from a CSV with the columns month (YYYY-MM), vendor, amount_usd and
    /// optionally description; bad rows are named and skipped.
    Import { file: std::path::PathBuf },
    /// Add one fixed cost (a seat licence, a subscription) for a month.
    Add {
        #[arg(long)]
        vendor: String,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        #[arg(long)]
        amount_usd: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The fixed costs stored.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// Budget thresholds the new costs crossed fire now (once, as always), not at the next ingest.
async fn report_crossings(store: &Store) -> Result<()> {
    for a in flightdeck_core::domain::budgets::check(store, chrono::Utc::now().timestamp()).await? {
        outln!(
            "budget {}: {} % reached (${:.2} of ${:.2})",
            a.budget_id,
            a.threshold,
            a.spent_usd,
            a.monthly_usd
        );
    }
    Ok(())
}

pub async fn costs(settings: &Settings, cmd: &CostsCmd) -> Result<ExitCode> {
    use flightdeck_core::domain::fixed_costs::{self, FixedCost};
    let store = Store::open(&settings.database_url).await?;
    match cmd {
        CostsCmd::Import { file } => {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {name}"))?;
            let (costs, problems) = fixed_costs::parse_csv(&text, &name)?;
            for p in &problems {
                eprintln!("warning: {p} (row skipped)");
            }
            let n = fixed_costs::save(&store, &costs).await?;
            let total: f64 = costs.iter().map(|c| c.amount_usd).sum();
            outln!(
                "imported {n} fixed costs (${total:.2}) from {name}; {} rows skipped",
                problems.len()
            );
            report_crossings(&store).await?;
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        CostsCmd::Add {
            vendor,
            month,
            amount_usd,
            description,
        } => {
            let c = FixedCost::new(vendor, month, description, amount_usd, "--")
                .map_err(|e| anyhow::anyhow!("{}", e.trim_start_matches("--: ")))?;
            fixed_costs::save(&store, std::slice::from_ref(&c)).await?;
            outln!(
                "{} {}: {} ${:.2}",
                c.month,
                c.vendor,
                c.description,
                c.amount_usd
            );
            Ok(ExitCode::SUCCESS)
        }
        CostsCmd::List { json } => {
            let all = fixed_costs::list(&store).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                outln!("no fixed costs; `flightdeck costs import seats.csv` adds them");
            } else {
                for c in &all {
                    outln!(
                        "{}  {:<12} {:>10.2}  {}",
                        c.month,
                        c.vendor,
                        c.amount_usd,
                        c.description
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Args)]
pub struct ValueArgs {
    /// First day counted (YYYY-MM-DD, UTC); default 30 days ago.
    #[arg(long)]
    since: Option<String>,
    #[arg(long)]
    json: bool,
}

/// `flightdeck report value`: cost per merged change and line, abandoned runs, review time.
pub async fn value(settings: &Settings, a: &ValueArgs) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    let since = match checked_day("--since", &a.since)? {
        Some(d) => flightdeck_core::model::days::start_of(d).unwrap_or(0),
        None => now - 30 * 86_400,
    };
    let store = Store::open(&settings.database_url).await?;
    let v = flightdeck_core::metrics::value::value(&store, since, now).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let money = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("${x:.4}"));
    outln!(
        "merged agent changes:      {} (agent cost ${:.2})",
        v.merged_changes,
        v.merged_cost_usd
    );
    outln!(
        "cost per merged change:    {}",
        money(v.cost_per_merged_change)
    );
    outln!(
        "cost per merged line:      {}",
        money(v.cost_per_merged_line)
    );
    outln!(
        "abandoned runs:            {} (${:.2}: ended over a week ago, nothing merged)",
        v.abandoned_runs,
        v.abandoned_cost_usd
    );
    outln!(
        "human review:              {:.1} h to first review; {} of agent cost per review hour",
        v.review_hours,
        money(v.cost_per_review_hour)
    );
    Ok(ExitCode::SUCCESS)
}

/// `flightdeck report team`: per person and per team, changes merged, agent runs and spend.
pub async fn team(settings: &Settings, a: &ValueArgs) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    let since = match checked_day("--since", &a.since)? {
        Some(d) => flightdeck_core::model::days::start_of(d).unwrap_or(0),
        None => now - 30 * 86_400,
    };
    let store = Store::open(&settings.database_url).await?;
    let v =
        flightdeck_core::metrics::team::team_view(&store, &settings.team, since, now + 1).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let line = |who: &str, f: &flightdeck_core::metrics::team::TeamFigures| {
        outln!(
            "{who:<28} {:>7} {:>7} {:>6} {:>10}",
            f.merged_changes,
            f.merged_agent_changes,
            f.agent_runs,
            format!("${:.2}", f.agent_cost_usd)
        );
    };
    outln!(
        "{:<28} {:>7} {:>7} {:>6} {:>10}",
        "person",
        "merged",
        "agents",
        "runs",
        "spend"
    );
    for p in &v.people {
        line(&p.person, &p.figures);
    }
    if !v.teams.is_empty() {
        outln!(
            "\n{:<28} {:>7} {:>7} {:>6} {:>10}",
            "team",
            "merged",
            "agents",
            "runs",
            "spend"
        );
        for t in &v.teams {
            line(&t.team, &t.figures);
        }
    }
    Ok(ExitCode::SUCCESS)
}
