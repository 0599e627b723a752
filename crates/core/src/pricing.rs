//! The price table: USD per token for each model and token kind, from the versioned
//! `assets/prices.json` compiled into the binary. Costs of agent runs are tokens × these prices.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::Tokens;

const BUILTIN: &str = include_str!("../../../assets/prices.json");

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
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

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct Tier {
    pub threshold: i64,
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    vendor: String,
    #[serde(flatten)]
    price: ModelPrice,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    pub version: String,
    models: BTreeMap<String, Entry>,
}

impl PriceTable {
    pub fn builtin() -> Self {
        // The asset is part of the source tree and checked by the test below.
        serde_json::from_str(BUILTIN).expect("assets/prices.json is valid")
    }

    /// Exact name, then without a `-YYYYMMDD` date suffix, then the longest known prefix.
    fn entry(&self, model: &str) -> Option<&Entry> {
        if let Some(e) = self.models.get(model) {
            return Some(e);
        }
        let undated = match model.rsplit_once('-') {
            Some((head, tail)) if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) => {
                head
            }
            _ => model,
        };
        if let Some(e) = self.models.get(undated) {
            return Some(e);
        }
        self.models
            .iter()
            .filter(|(k, _)| {
                undated.starts_with(k.as_str()) && undated[k.len()..].starts_with(['-', '.'])
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(_, e)| e)
    }

    pub fn price(&self, model: &str) -> Option<ModelPrice> {
        self.entry(model).map(|e| e.price)
    }

    /// Cost in USD of one request (or of totals, when no tier applies); an unknown model costs
    /// 0. `cache_write_1h` is the part of `t.cache_write` written for one hour. A model name
    /// ending in `-fast` is the base model at its fast multiplier.
    pub fn cost_of(&self, model: &str, t: &Tokens, cache_write_1h: i64) -> f64 {
        let (base, fast) = match model.strip_suffix("-fast") {
            Some(b) => (b, true),
            None => (model, false),
        };
        let Some(p) = self.price(base) else {
            return 0.0;
        };
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
        if fast {
            sum * p.fast_multiplier.unwrap_or(1.0)
        } else {
            sum
        }
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
