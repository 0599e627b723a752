//! The Spend view: cost by vendor, model, agent and day, budgets and concentration.

use super::*;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SpendSlice {
    pub key: String,
    pub cost_usd: f64,
    /// Fraction of the total, 0..1.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SpendView {
    pub total_usd: f64,
    pub by_vendor: Vec<SpendSlice>,
    pub by_model: Vec<SpendSlice>,
    pub by_agent: Vec<SpendSlice>,
    pub by_day: Vec<SpendSlice>,
    /// Tokens of models without a price (not in any cost above).
    #[ts(type = "number")]
    pub unpriced_tokens: i64,
    pub unpriced_models: Vec<String>,
    /// This month's standing of every budget.
    pub budgets: Vec<crate::domain::budgets::BudgetStatus>,
    /// Vendor shares over the last 30 days, and what stops if each vendor is down.
    pub concentration: crate::metrics::concentration::Concentration,
    pub if_down: Vec<crate::metrics::concentration::Dependence>,
    /// Billed beside log-derived cost per day and vendor (vendors with billing data, 30 days).
    pub reconciliation: Vec<crate::sources::billing::ReconRow>,
    /// What the spend bought over the last 30 days.
    pub value: crate::metrics::value::ValueView,
}

fn slices(map: BTreeMap<String, f64>, total: f64, by_cost: bool) -> Vec<SpendSlice> {
    let mut v: Vec<SpendSlice> = map
        .into_iter()
        .map(|(key, cost_usd)| SpendSlice {
            key,
            cost_usd,
            share: if total > 0.0 { cost_usd / total } else { 0.0 },
        })
        .collect();
    if by_cost {
        v.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then_with(|| a.key.cmp(&b.key))
        });
    }
    v
}

pub async fn spend(store: &Store) -> Result<SpendView> {
    let now = chrono::Utc::now().timestamp();
    let threshold = concentration_threshold(store).await?;
    let since_ts = now - 30 * 86_400;
    let since = crate::model::days::of(since_ts);
    // Grouped in the database from the per-day rollup (never row by row here), the
    // independent parts at once: each is a read, and the pool has several connections.
    use crate::metrics::reports::SpendBy;
    let group = |by| crate::metrics::reports::spend_rows(store, by, None, None);
    let (
        (vendor, total),
        (model, _),
        (agent, _),
        (day, _),
        concentration,
        if_down,
        budgets,
        reconciliation,
        value,
    ) = tokio::try_join!(
        group(SpendBy::Vendor),
        group(SpendBy::Model),
        group(SpendBy::Agent),
        group(SpendBy::Day),
        crate::metrics::concentration::concentration(store, &since, threshold),
        crate::metrics::concentration::if_down_all(store, since_ts),
        crate::domain::budgets::status(store, now),
        crate::sources::billing::reconcile(store, &since, "9999-12-31"),
        crate::metrics::value::value(store, since_ts, now),
    )?;
    // Models without a price: those whose rows carry unpriced tokens.
    let unpriced_models = model
        .iter()
        .filter(|r| r.unpriced_tokens > 0)
        .map(|r| r.key.clone())
        .collect();
    let costs = |rows: Vec<crate::metrics::reports::SpendRow>| -> BTreeMap<String, f64> {
        rows.into_iter().map(|r| (r.key, r.cost_usd)).collect()
    };
    let (vendor, model, agent, day) = (costs(vendor), costs(model), costs(agent), costs(day));
    Ok(SpendView {
        total_usd: total.cost_usd,
        by_vendor: slices(vendor, total.cost_usd, true),
        by_model: slices(model, total.cost_usd, true),
        by_agent: slices(agent, total.cost_usd, true),
        by_day: slices(day, total.cost_usd, false),
        unpriced_tokens: total.unpriced_tokens,
        unpriced_models,
        budgets,
        reconciliation,
        value,
        if_down,
        concentration,
    })
}
