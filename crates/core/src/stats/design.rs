//! Whether an experiment is sound and big enough: the sample-ratio-mismatch check, power and
//! the minimum detectable effect.

use super::dist::{chi2_sf, normal_cdf, normal_pdf, normal_ppf, normal_sf};

/// Below this p-value the split is flagged as a sample-ratio mismatch: traffic is not reaching
/// the variations as configured, and the results should not be trusted.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Pearson's chi-square test of observed units against the configured weights:
/// X² = Σ (oᵢ − eᵢ)²/eᵢ with eᵢ = wᵢ/Σw · Σo (variations weighted 0 left out), on k − 1
/// degrees of freedom. Returns the p-value (1 with no units).
pub fn srm_p_value(units: &[f64], weights: &[f64]) -> f64 {
    let total: f64 = units.iter().sum();
    let total_weight: f64 = weights.iter().sum();
    if total == 0.0 || total_weight <= 0.0 || units.len() < 2 {
        return 1.0;
    }
    let x2: f64 = units
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(o, w)| {
            let e = w / total_weight * total;
            (o - e).powi(2) / e
        })
        .sum();
    chi2_sf(x2, (units.len() - 1) as f64)
}

/// The power of a two-sided two-sample z-test to detect a standardized effect d (difference
/// over the per-unit standard deviation) with n₁ units in one arm and ratio·n₁ in the other:
/// with n = 1/(1/n₁ + 1/n₂) and c = Φ⁻¹(1 − α/2),
/// power = 1 − Φ(c − d√n) + Φ(−c − d√n).
pub fn power(effect_size: f64, n1: f64, ratio: f64, alpha: f64) -> f64 {
    let n = 1.0 / (1.0 / n1 + 1.0 / (n1 * ratio));
    let crit = normal_ppf(1.0 - alpha / 2.0);
    let shift = effect_size * n.sqrt();
    normal_sf(crit - shift) + normal_cdf(-crit - shift)
}

/// The smallest standardized effect detected with probability `target` (80 % is usual): the
/// root of [`power`] in d. Newton's method from the one-sided answer d₀ = (c + Φ⁻¹(target))/√n
/// (an upper bound: power(d₀) = target plus the far tail's sliver Φ(−2c − Φ⁻¹(target))), with
/// the slope dpower/dd = √n·(φ(c − d√n) − φ(−c − d√n)), kept inside the bracket [0, d₀] that
/// bisection narrows whenever a step would leave it: a few steps where bisection alone took
/// fifty (a list of 500 scorecards states 1,500 of these).
pub fn minimum_detectable_effect(n1: f64, ratio: f64, alpha: f64, target: f64) -> f64 {
    let n = 1.0 / (1.0 / n1 + 1.0 / (n1 * ratio));
    if n.is_nan() || n <= 0.0 || n.is_infinite() {
        return f64::INFINITY;
    }
    let crit = normal_ppf(1.0 - alpha / 2.0);
    if target <= alpha {
        return 0.0; // power(0) = α already
    }
    if target >= 1.0 {
        return f64::INFINITY; // no finite effect is detected surely
    }
    let root_n = n.sqrt();
    let (mut lo, mut hi) = (0.0_f64, (crit + normal_ppf(target)) / root_n);
    let mut d = hi;
    for _ in 0..200 {
        let (near, far) = (crit - d * root_n, -crit - d * root_n);
        let f = normal_sf(near) + normal_cdf(far) - target;
        if f > 0.0 {
            hi = d;
        } else {
            lo = d;
        }
        let slope = root_n * (normal_pdf(near) - normal_pdf(far));
        let mut next = d - f / slope;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - d).abs() <= 1e-15 * d.abs().max(f64::MIN_POSITIVE) {
            return next;
        }
        d = next;
    }
    d
}
