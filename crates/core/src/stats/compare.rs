//! A variation against control: the lift, its interval and its p-value.

use super::dist::{normal_sf, t_ppf, t_sf};
use super::Stat;

/// Lift as a difference of means (absolute) or as a share of control's mean (relative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lift {
    Absolute,
    Relative,
}

/// Why a comparison has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoAnswer {
    #[error("control's mean is zero, so a relative lift is undefined")]
    ZeroBaseline,
    #[error("a variation has no variance (too few units, or every unit alike)")]
    ZeroVariance,
    #[error("a variation has no units")]
    NoUnits,
}

/// The estimate of a lift.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Estimate {
    /// The lift itself: μb − μa, or (μb − μa) / μa.
    pub estimate: f64,
    /// Its standard error.
    pub stddev: f64,
    /// The (1 − α) interval.
    pub ci: (f64, f64),
    pub p_value: f64,
}

/// The point estimate and its variance.
///
/// Absolute: d = μb − μa, Var(d) = σb²/nb + σa²/na.
/// Relative (delta method, a = control's unadjusted mean ma, b's mb):
/// r = (μb − μa)/ma, Var(r) = σb²/(ma²·nb) + σa²·mb²/(ma⁴·na).
pub fn lift(a: &Stat, b: &Stat, kind: Lift) -> Result<(f64, f64), NoAnswer> {
    if a.n() == 0.0 || b.n() == 0.0 {
        return Err(NoAnswer::NoUnits);
    }
    let (va, vb, na, nb) = (a.variance(), b.variance(), a.n(), b.n());
    if va <= 0.0 || vb <= 0.0 {
        return Err(NoAnswer::ZeroVariance);
    }
    match kind {
        Lift::Absolute => Ok((b.mean() - a.mean(), vb / nb + va / na)),
        Lift::Relative => {
            let (ma, mb) = (a.unadjusted_mean(), b.unadjusted_mean());
            if a.mean() == 0.0 || ma == 0.0 {
                return Err(NoAnswer::ZeroBaseline);
            }
            Ok((
                (b.mean() - a.mean()) / ma,
                vb / (ma * ma * nb) + va * mb * mb / (ma.powi(4) * na),
            ))
        }
    }
}

/// Welch–Satterthwaite degrees of freedom:
/// ν = (σb²/nb + σa²/na)² / (σb⁴/(nb²(nb−1)) + σa⁴/(na²(na−1))).
pub fn welch_dof(a: &Stat, b: &Stat) -> f64 {
    let (va, vb, na, nb) = (a.variance(), b.variance(), a.n(), b.n());
    (vb / nb + va / na).powi(2)
        / (vb * vb / (nb * nb * (nb - 1.0)) + va * va / (na * na * (na - 1.0)))
}

/// Welch's two-sided t-test of b against a: t = lift / se with [`welch_dof`] degrees of
/// freedom, p = 2·P(T > |t|), interval lift ± t₁₋α/₂,ν · se.
pub fn welch(a: &Stat, b: &Stat, kind: Lift, alpha: f64) -> Result<Estimate, NoAnswer> {
    let (estimate, variance) = lift(a, b, kind)?;
    let se = variance.sqrt();
    let dof = welch_dof(a, b);
    let width = t_ppf(1.0 - alpha / 2.0, dof) * se;
    Ok(Estimate {
        estimate,
        stddev: se,
        ci: (estimate - width, estimate + width),
        p_value: (2.0 * t_sf((estimate / se).abs(), dof)).min(1.0),
    })
}

/// The pooled two-proportion z-test of b against a: p̂ = (xa + xb)/(na + nb),
/// z = (xb/nb − xa/na) / √(p̂(1 − p̂)(1/na + 1/nb)), p = 2·(1 − Φ(|z|)).
pub fn two_proportion_z(na: f64, xa: f64, nb: f64, xb: f64) -> Result<(f64, f64), NoAnswer> {
    if na == 0.0 || nb == 0.0 {
        return Err(NoAnswer::NoUnits);
    }
    let pooled = (xa + xb) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se == 0.0 {
        return Err(NoAnswer::ZeroVariance);
    }
    let z = (xb / nb - xa / na) / se;
    Ok((z, 2.0 * normal_sf(z.abs())))
}

/// The default tuning of the sequential test: the total sample size at which its intervals
/// are tightest (GrowthBook's default).
pub const SEQUENTIAL_TUNING: f64 = 5_000.0;

/// The sequential test: an asymptotic confidence sequence (Waudby-Smith et al. 2023,
/// arXiv:2103.06476, eq. 9 and 155), valid however often and whenever it is looked at, so a
/// lead who peeks daily is not fooled by a fluke. With N = na + nb, s² = Var(lift)·N and
/// ρ = √((−2 ln α + ln(−2 ln α + 1)) / tuning):
///
/// half-width = s · √( 2(Nρ² + 1) · ln(√(Nρ² + 1) / α) / (Nρ)² ),
/// p = min(1, 1/E), E = e^(ρ²·N·lift²/Var(lift) / (2(Nρ² + 1))) / √(Nρ² + 1).
pub fn sequential(
    a: &Stat,
    b: &Stat,
    kind: Lift,
    alpha: f64,
    tuning: f64,
) -> Result<Estimate, NoAnswer> {
    let (estimate, variance) = lift(a, b, kind)?;
    let n = a.n() + b.n();
    let rho = ((-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning).sqrt();
    let nr2 = n * rho * rho + 1.0;
    let s2 = variance * n;
    let width = s2.sqrt() * (2.0 * nr2 * (nr2.sqrt() / alpha).ln() / (n * rho).powi(2)).sqrt();
    let st2 = estimate * estimate * n / variance;
    let e_value = (rho * rho * st2 / (2.0 * nr2)).exp() / nr2.sqrt();
    Ok(Estimate {
        estimate,
        stddev: variance.sqrt(),
        ci: (estimate - width, estimate + width),
        p_value: (1.0 / e_value).min(1.0),
    })
}
