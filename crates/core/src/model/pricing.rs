//! The price table: USD per token for each model and token kind, from the versioned
//! `assets/prices.json` compiled into the binary, with dated price changes (usage is priced at
//! the prices of its day), the user's overrides and negotiated discounts (`[prices]` in the
//! config) on top. Costs of agent runs are tokens × these prices; a model without a price is
//! unpriced (`None`), never free.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::toml_file::ConfigError;
use crate::model::Tokens;

const BUILTIN: &str = include_str!("../../../../assets/prices.json");

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    /// 5-minute cache write.
    pub cache_write: f64,
    pub cache_read: f64,
    /// 1-hour cache write; when absent, 2x input (how Anthropic and ccusage bill it).
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    #[serde(default)]
    pub fast_multiplier: Option<f64>,
    /// Long-context rates for the tokens of each kind beyond `threshold` in one request.
    #[serde(default)]
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub threshold: i64,
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

/// A price that takes effect on a day (UTC, `YYYY-MM-DD`) and holds until the next change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceChange {
    pub from: String,
    #[serde(flatten)]
    pub price: ModelPrice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    vendor: String,
    #[serde(flatten)]
    price: ModelPrice,
    /// Later prices, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changes: Vec<PriceChange>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceTable {
    pub version: String,
    models: BTreeMap<String, Entry>,
    /// Share off the list price per vendor (0.15 = 15 % off).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    discounts: BTreeMap<String, f64>,
    /// Models the user priced from a day on that the table did not know: unpriced before.
    #[serde(skip)]
    starts: BTreeMap<String, String>,
}

/// The user's prices, from `[prices]` in the config file:
///
/// ```toml
/// [prices.models."claude-sonnet-4-5"]   # a negotiated or missing price, USD per token
/// input = 2.5e-6
/// output = 1.2e-5
/// cache_write = 3.1e-6
/// cache_read = 2.5e-7
/// from = "2026-11-01"                   # optional: from this day (UTC) on; else always
/// [prices.discounts]
/// anthropic = 0.10                      # 10 % off every Anthropic list price
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriceOverrides {
    #[serde(default)]
    pub models: BTreeMap<String, ModelOverride>,
    #[serde(default)]
    pub discounts: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelOverride {
    /// Needed for a model the table does not know (else guessed from its name).
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(flatten)]
    pub price: ModelPrice,
}

/// One model's prices as listed by `flightdeck prices list`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ListedPrice {
    pub model: String,
    pub vendor: String,
    /// `None`: since always.
    pub from: Option<String>,
    pub price: ModelPrice,
    pub discount: f64,
}

fn is_day(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

impl PriceOverrides {
    /// Every price non-negative and finite, every date a day, every discount in [0, 1).
    pub fn validate(&self, path: &std::path::Path) -> Result<(), ConfigError> {
        let bad = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        for (model, o) in &self.models {
            let p = &o.price;
            let rates = [
                ("input", p.input),
                ("output", p.output),
                ("cache_write", p.cache_write),
                ("cache_read", p.cache_read),
                ("cache_write_1h", p.cache_write_1h.unwrap_or(0.0)),
            ];
            for (k, v) in rates {
                if !v.is_finite() || v < 0.0 {
                    return Err(bad(
                        format!("prices.models.\"{model}\".{k}"),
                        format!("{v} is not a price (USD per token, 0 or more)"),
                    ));
                }
            }
            if let Some(from) = o.from.as_deref().filter(|f| !is_day(f)) {
                return Err(bad(
                    format!("prices.models.\"{model}\".from"),
                    format!("`{from}` is not a day (YYYY-MM-DD)"),
                ));
            }
        }
        for (vendor, d) in &self.discounts {
            if !(0.0..1.0).contains(d) {
                return Err(bad(
                    format!("prices.discounts.{vendor}"),
                    format!("{d} is not a share off the list price (0 to below 1; 0.1 is 10 %)"),
                ));
            }
        }
        Ok(())
    }
}

impl PriceTable {
    pub fn builtin() -> Self {
        // The asset is part of the source tree and checked by the test below.
        serde_json::from_str(BUILTIN).expect("assets/prices.json is valid")
    }

    /// The built-in table with the user's prices and discounts on top.
    pub fn with_overrides(o: &PriceOverrides) -> Self {
        let mut t = Self::builtin();
        for (model, m) in &o.models {
            let vendor = m.vendor.clone().unwrap_or_else(|| vendor_of(&t, model));
            let fresh = Entry {
                vendor,
                price: m.price,
                changes: vec![],
            };
            match (&m.from, t.models.get_mut(model)) {
                // Always this price: it replaces the list price and its changes.
                (None, _) => {
                    t.models.insert(model.clone(), fresh);
                }
                (Some(from), Some(e)) => {
                    e.changes.retain(|c| c.from != *from);
                    e.changes.push(PriceChange {
                        from: from.clone(),
                        price: m.price,
                    });
                    e.changes.sort_by(|a, b| a.from.cmp(&b.from));
                }
                // Unknown before `from`: unpriced until then.
                (Some(from), None) => {
                    t.models.insert(model.clone(), fresh);
                    t.starts.insert(model.clone(), from.clone());
                }
            }
        }
        t.discounts = o.discounts.clone();
        t
    }

    /// Identifies the effective table: stored costs are recomputed when it changes.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let starts = serde_json::to_string(&self.starts).unwrap_or_default();
        hex::encode(&Sha256::digest(format!("{text}{starts}").as_bytes())[..12])
    }

    /// Every model with each of its prices, in name order.
    pub fn list(&self) -> Vec<ListedPrice> {
        let mut out = Vec::new();
        for (model, e) in &self.models {
            let discount = self.discounts.get(&e.vendor).copied().unwrap_or(0.0);
            let listed = |from: Option<String>, price: ModelPrice| ListedPrice {
                model: model.clone(),
                vendor: e.vendor.clone(),
                from,
                price,
                discount,
            };
            out.push(listed(self.starts.get(model).cloned(), e.price));
            for c in &e.changes {
                out.push(listed(Some(c.from.clone()), c.price));
            }
        }
        out
    }

    /// Exact name, then without a `-YYYYMMDD` date suffix, then the longest known prefix.
    fn entry(&self, model: &str) -> Option<&Entry> {
        self.keyed(model).map(|(_, e)| e)
    }

    /// `entry` with the table's name for the model.
    fn keyed(&self, model: &str) -> Option<(&str, &Entry)> {
        if let Some((k, e)) = self.models.get_key_value(model) {
            return Some((k, e));
        }
        let undated = match model.rsplit_once('-') {
            Some((head, tail)) if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) => {
                head
            }
            _ => model,
        };
        if let Some((k, e)) = self.models.get_key_value(undated) {
            return Some((k, e));
        }
        self.models
            .iter()
            .filter(|(k, _)| {
                undated.starts_with(k.as_str()) && undated[k.len()..].starts_with(['-', '.'])
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(k, e)| (k.as_str(), e))
    }

    /// The model's price today (its newest).
    pub fn price(&self, model: &str) -> Option<ModelPrice> {
        self.entry(model)
            .map(|e| e.changes.last().map_or(e.price, |c| c.price))
    }

    /// The model's price on `day` (`YYYY-MM-DD`, UTC): the newest change from that day or
    /// before, else the list price; `None` when unknown then.
    pub fn price_on(&self, model: &str, day: &str) -> Option<ModelPrice> {
        let (key, e) = self.keyed(model)?;
        if self
            .starts
            .get(key)
            .is_some_and(|start| day < start.as_str())
        {
            return None;
        }
        Some(
            e.changes
                .iter()
                .rev()
                .find(|c| c.from.as_str() <= day)
                .map_or(e.price, |c| c.price),
        )
    }

    /// Cost in USD of one request on `day` (or of totals, when no tier applies), after the
    /// vendor's discount; `None` for a model without a price then. `cache_write_1h` is the part
    /// of `t.cache_write` written for one hour. A model name ending in `-fast` is the base model
    /// at its fast multiplier.
    pub fn cost_on(&self, model: &str, t: &Tokens, cache_write_1h: i64, day: &str) -> Option<f64> {
        let (base, fast) = match model.strip_suffix("-fast") {
            Some(b) => (b, true),
            None => (model, false),
        };
        let p = self.price_on(base, day)?;
        // Per token kind: the first `threshold` tokens at the base rate, the rest at the tier's.
        let part = |n: i64, base_rate: f64, tier_rate: Option<f64>| match (p.tier, tier_rate) {
            (Some(tier), Some(rate)) if n > tier.threshold => {
                tier.threshold as f64 * base_rate + (n - tier.threshold) as f64 * rate
            }
            _ => n as f64 * base_rate,
        };
        let tier = p.tier;
        let cw_5m = (t.cache_write - cache_write_1h).max(0);
        let sum = part(t.input, p.input, tier.map(|x| x.input))
            + part(t.output, p.output, tier.map(|x| x.output))
            + part(cw_5m, p.cache_write, tier.map(|x| x.cache_write))
            + cache_write_1h as f64 * p.cache_write_1h.unwrap_or(2.0 * p.input)
            + part(t.cache_read, p.cache_read, tier.map(|x| x.cache_read));
        let sum = if fast {
            sum * p.fast_multiplier.unwrap_or(1.0)
        } else {
            sum
        };
        let discount = self
            .entry(base)
            .and_then(|e| self.discounts.get(&e.vendor))
            .copied()
            .unwrap_or(0.0);
        Some(sum * (1.0 - discount))
    }

    /// `cost_on` at today's prices, 0 when unpriced (for sample data and quick estimates).
    pub fn cost_of(&self, model: &str, t: &Tokens, cache_write_1h: i64) -> f64 {
        let today = crate::model::days::of(chrono::Utc::now().timestamp());
        self.cost_on(model, t, cache_write_1h, &today)
            .unwrap_or(0.0)
    }

    pub fn cost(&self, model: &str, t: &Tokens) -> f64 {
        self.cost_of(model, t, 0)
    }
}

/// The vendor of a model, from the table or the model's family name.
pub fn vendor_of(table: &PriceTable, model: &str) -> String {
    let model = model.strip_suffix("-fast").unwrap_or(model);
    if let Some(e) = table.entry(model) {
        return e.vendor.clone();
    }
    let m = model.to_ascii_lowercase();
    if m.starts_with("claude") {
        "anthropic".into()
    } else if m.starts_with("gpt")
        || m.starts_with("o1")
        || m.starts_with("o3")
        || m.starts_with("o4")
    {
        "openai".into()
    } else if m.starts_with("gemini") {
        "google".into()
    } else {
        "unknown".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_prices_by_exact_dated_and_prefix_names() {
        let t = PriceTable::builtin();
        let sonnet = t.price("claude-sonnet-4-5").unwrap();
        assert_eq!(t.price("claude-sonnet-4-5-20250929"), Some(sonnet));
        assert_eq!(t.price("claude-opus-4-20250514").unwrap().input, 15e-6);
        assert!(t.price("llama-3").is_none());
        let tokens = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            ..Default::default()
        };
        assert!((t.cost("gpt-5", &tokens) - 11.25).abs() < 1e-9);
        assert_eq!(vendor_of(&t, "gpt-5.3-codex"), "openai");
        assert_eq!(vendor_of(&t, "gemini-2.5-pro"), "google");
        // 1-hour cache writes at 2x input, fast at the model's multiplier.
        let b = Tokens {
            input: 6,
            output: 1450,
            cache_write: 3000,
            cache_read: 19456,
            reasoning: 0,
        };
        assert!((t.cost_of("claude-opus-4-7", &b, 2100) - 0.072633).abs() < 1e-9);
        let f = Tokens {
            input: 2,
            output: 40,
            cache_write: 0,
            cache_read: 22000,
            reasoning: 0,
        };
        assert!((t.cost_of("claude-opus-4-7-fast", &f, 0) - 0.07206).abs() < 1e-9);
        // Long context: tokens past the threshold at the tier's rate.
        let long = Tokens {
            input: 250_000,
            ..Default::default()
        };
        assert!(
            (t.cost("claude-sonnet-4", &long) - (200_000.0 * 3e-6 + 50_000.0 * 6e-6)).abs() < 1e-9
        );
    }
}
