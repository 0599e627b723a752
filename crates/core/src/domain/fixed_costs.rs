//! Fixed costs — seats, subscriptions, anything billed per month rather than per token — added
//! by hand or imported from CSV. Each is kept in the spend rollup on the first day of its month
//! (source `fixed`, the description as its model), so reports, budgets and concentration count
//! it with the rest. Importing the same vendor, month and description again replaces it.

use serde::Serialize;

use crate::model::{SpendRecord, Tokens};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixedCost {
    pub vendor: String,
    /// `YYYY-MM`.
    pub month: String,
    pub description: String,
    pub amount_usd: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum FixedCostError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Csv { path: String, message: String },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl FixedCost {
    /// Checks the fields; `at` names where they came from in the message.
    pub fn new(
        vendor: &str,
        month: &str,
        description: &str,
        amount: &str,
        at: &str,
    ) -> Result<Self, String> {
        let vendor = vendor.trim().to_ascii_lowercase();
        if vendor.is_empty() {
            return Err(format!("{at}: vendor is empty"));
        }
        let month = month.trim();
        if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() {
            return Err(format!("{at}: month `{month}` is not YYYY-MM"));
        }
        let amount_usd: f64 = amount
            .trim()
            .trim_start_matches('$')
            .parse()
            .map_err(|_| format!("{at}: amount_usd `{}` is not a number", amount.trim()))?;
        if !amount_usd.is_finite() || amount_usd < 0.0 {
            return Err(format!(
                "{at}: amount_usd {amount_usd} is not a cost (0 or more)"
            ));
        }
        let description = match description.trim() {
            "" => "fixed cost".to_string(),
            d => d.to_string(),
        };
        Ok(FixedCost {
            vendor,
            month: month.to_string(),
            description,
            amount_usd,
        })
    }
}

/// Reads a CSV with a header naming `month`, `vendor`, `amount_usd` and optionally
/// `description` (any order, other columns ignored). A bad row is skipped and named
/// (`file:line: why`), the rest are read.
pub fn parse_csv(text: &str, path: &str) -> Result<(Vec<FixedCost>, Vec<String>), FixedCostError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| FixedCostError::Csv {
            path: path.into(),
            message: format!("no header row: {e}"),
        })?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(month), Some(vendor), Some(amount)) =
        (col("month"), col("vendor"), col("amount_usd"))
    else {
        return Err(FixedCostError::Csv {
            path: path.into(),
            message: format!(
                "the header must name month, vendor and amount_usd (and may name description); it has: {}",
                header.iter().collect::<Vec<_>>().join(", ")
            ),
        });
    };
    let description = col("description");
    let (mut costs, mut problems) = (Vec::new(), Vec::new());
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let at = format!("{path}:{line}");
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        let field = |c: usize| row.get(c).unwrap_or("");
        match FixedCost::new(
            field(vendor),
            field(month),
            description.map(field).unwrap_or(""),
            field(amount),
            &at,
        ) {
            Ok(c) => costs.push(c),
            Err(why) => problems.push(why),
        }
    }
    Ok((costs, problems))
}

fn record(c: &FixedCost) -> SpendRecord {
    SpendRecord {
        vendor: c.vendor.clone(),
        model: c.description.clone(),
        day: format!("{}-01", c.month),
        source: "fixed".into(),
        agent: String::new(),
        repo: String::new(),
        person: String::new(),
        tokens: Tokens::default(),
        cost_usd: c.amount_usd,
        unpriced_tokens: 0,
    }
}

/// Stores the costs (replacing the same vendor, month and description).
pub async fn save(store: &Store, costs: &[FixedCost]) -> Result<usize, FixedCostError> {
    for c in costs {
        store.upsert_spend(&record(c)).await?;
    }
    Ok(costs.len())
}

pub async fn list(store: &Store) -> Result<Vec<FixedCost>, FixedCostError> {
    Ok(store
        .spend_records()
        .await?
        .into_iter()
        .filter(|r| r.source == "fixed")
        .map(|r| FixedCost {
            month: r.day.get(..7).unwrap_or(&r.day).to_string(),
            vendor: r.vendor,
            description: r.model,
            amount_usd: r.cost_usd,
        })
        .collect())
}
