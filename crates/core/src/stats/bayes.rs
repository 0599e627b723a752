//! The Bayesian reading of a lift: with a flat prior the posterior of the lift is normal,
//! N(lift, se²) (GrowthBook's effect engine without a proper prior), so the chance that b
//! beats control and the expected loss of choosing either follow in closed form.

use super::compare::{lift, Lift, NoAnswer};
use super::dist::{normal_cdf, normal_pdf, normal_ppf};
use super::Stat;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Posterior {
    /// P(lift > 0) = Φ(μ/σ).
    pub chance_to_win: f64,
    /// The (1 − α) credible interval, μ ± Φ⁻¹(1 − α/2)·σ.
    pub ci: (f64, f64),
    /// Expected loss of keeping control, E[max(lift, 0)] = P(lift > 0)·μ + σφ(μ/σ).
    pub risk_control: f64,
    /// Expected loss of shipping b, E[max(−lift, 0)] = σφ(μ/σ) − Φ(−μ/σ)·μ.
    pub risk_variation: f64,
}

/// The posterior of b's lift over a.
pub fn posterior(a: &Stat, b: &Stat, kind: Lift, alpha: f64) -> Result<Posterior, NoAnswer> {
    let (mu, variance) = lift(a, b, kind)?;
    let sigma = variance.sqrt();
    let z = mu / sigma;
    let win = normal_cdf(z);
    let half = normal_ppf(1.0 - alpha / 2.0) * sigma;
    // The truncated normal's tails in closed form: no division by a vanishing probability.
    let tail = sigma * normal_pdf(z);
    Ok(Posterior {
        chance_to_win: win,
        ci: (mu - half, mu + half),
        risk_control: win * mu + tail,
        risk_variation: tail - normal_cdf(-z) * mu,
    })
}
