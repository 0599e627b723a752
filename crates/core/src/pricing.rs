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

    /// Cost in USD; an unknown model costs 0 (and is reported by the caller).
    pub fn cost(&self, model: &str, t: &Tokens) -> f64 {
        match self.price(model) {
            Some(p) => {
                t.input as f64 * p.input
                    + t.output as f64 * p.output
                    + t.cache_write as f64 * p.cache_write
                    + t.cache_read as f64 * p.cache_read
            }
            None => 0.0,
        }
    }
}

/// The vendor of a model, from the table or the model's family name.
pub fn vendor_of(table: &PriceTable, model: &str) -> String {
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
    }
}
