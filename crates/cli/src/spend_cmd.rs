//! `flightdeck report spend` and `flightdeck prices list | check`: what the agents cost, from
//! the per-day rollup, as a table, JSON or CSV; the effective price table (built-in, the
//! user's prices and discounts) and the models seen in logs that have no price.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flightdeck_core::config::Settings;
use flightdeck_core::pricing::PriceTable;
use flightdeck_core::reports::{self, SpendBy};
use flightdeck_core::store::Store;

#[derive(Clone, Copy, ValueEnum)]
pub enum SpendByArg {
    Vendor,
    Model,
    Agent,
    Repo,
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

pub async fn spend(settings: &Settings, a: &SpendArgs) -> Result<ExitCode> {
    for d in [&a.since, &a.until].into_iter().flatten() {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            bail!("--since/--until `{d}` is not a date like 2026-11-25");
        }
    }
    let by = match a.by {
        SpendByArg::Vendor => SpendBy::Vendor,
        SpendByArg::Model => SpendBy::Model,
        SpendByArg::Agent => SpendBy::Agent,
        SpendByArg::Repo => SpendBy::Repo,
        SpendByArg::Day => SpendBy::Day,
        SpendByArg::Week => SpendBy::Week,
        SpendByArg::Month => SpendBy::Month,
    };
    let store = Store::open(&settings.database_url).await?;
    let r = reports::spend(&store, by, a.since.as_deref(), a.until.as_deref()).await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).context("serialising")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if a.csv {
        println!(
            "key,cost_usd,share,unpriced_tokens,input,output,cache_write,cache_read,reasoning"
        );
        for row in r.rows.iter().chain(std::iter::once(&r.total)) {
            let t = &row.tokens;
            println!(
                "{},{:.6},{:.6},{},{},{},{},{},{}",
                csv_field(&row.key),
                row.cost_usd,
                row.share,
                row.unpriced_tokens,
                t.input,
                t.output,
                t.cache_write,
                t.cache_read,
                t.reasoning
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<44} {:>12} {:>7} {:>16} {:>16}",
        "key", "cost USD", "share", "tokens", "unpriced tokens"
    );
    for row in r.rows.iter().chain(std::iter::once(&r.total)) {
        println!(
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
        println!(
            "\nunpriced (usage counted, cost unknown): {}; add prices under [prices.models] in the config",
            r.unpriced_models.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub async fn prices(settings: &Settings, cmd: &PricesCmd) -> Result<ExitCode> {
    match cmd {
        PricesCmd::List { json } => {
            let table = PriceTable::with_overrides(&settings.prices);
            let list = table.list();
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("price table {} (USD per million tokens)", table.version);
            println!(
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
                println!(
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
            let store = Store::open(&settings.database_url).await?;
            let missing = reports::unpriced_models(&store).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&missing)?);
            } else if missing.is_empty() {
                println!("every model in the agent logs has a price");
            } else {
                for u in &missing {
                    println!(
                        "{}: no price — {} tokens in {} requests, {} to {}",
                        u.model, u.tokens, u.requests, u.first_day, u.last_day
                    );
                }
                println!(
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
