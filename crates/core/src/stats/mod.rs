//! Experiment statistics: what a variation's numbers say against control, and how sure to be.
//! Pure functions over sufficient statistics (counts, sums, sums of squares and products), so
//! ten million rows reduce to a few numbers per variation before any of this runs.
//!
//! - [`dist`]: normal, Student t and chi-square distributions.
//! - [`Stat`]: a variation's summary for a binomial, mean, ratio (delta method) or
//!   CUPED-adjusted metric, with its mean and variance.
//! - [`compare`]: absolute and relative lift with Welch's t-test and interval (relative by the
//!   delta method), the pooled two-proportion z-test, and the sequential (always-valid) test.
//! - [`bayes`]: chance to beat control, expected loss and credible interval.
//! - [`design`]: sample-ratio mismatch, power and minimum detectable effect.
//! - [`multiple`]: Holm and Benjamini–Hochberg adjusted p-values.
//! - [`scorecard`]: an experiment's metrics × variations judged with all of the above.
//!
//! The formulas follow GrowthBook's open-source engine (gbstats) and statsmodels, and
//! `tests/stats.rs` matches every one to 1e-6 against values those libraries computed on the
//! same data (`tests/fixtures/stats/make_reference.py` says how).

pub mod bayes;
pub mod compare;
pub mod design;
pub mod dist;
pub mod multiple;
pub mod scorecard;

/// Sums of one per-unit value: n, Σx, Σx².
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sums {
    pub n: f64,
    pub sum: f64,
    pub sum_squares: f64,
}

impl Sums {
    pub fn mean(&self) -> f64 {
        if self.n == 0.0 {
            0.0
        } else {
            self.sum / self.n
        }
    }

    /// The sample variance, (Σx² − (Σx)²/n) / (n − 1); 0 below two units.
    pub fn variance(&self) -> f64 {
        if self.n <= 1.0 {
            0.0
        } else {
            (self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1.0)
        }
    }
}

/// One variation's summary of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// Units converted out of n: mean p = x/n, variance p(1 − p).
    Proportion { n: f64, conversions: f64 },
    /// A per-unit value.
    Mean(Sums),
    /// Σ numerator / Σ denominator over units (revenue per session): `sum_products` is
    /// Σ mᵢdᵢ. Its variance is the delta method's:
    /// Var(m)/μd² − 2·Cov(m,d)·μm/μd³ + μm²·Var(d)/μd⁴.
    Ratio {
        n: f64,
        m: Sums,
        d: Sums,
        sum_products: f64,
    },
    /// CUPED: the metric `post` adjusted by a pre-period covariate `pre`, mean
    /// μpost − θ·μpre and variance Var(post) + θ²·Var(pre) − 2θ·Cov(post, pre), with one θ
    /// for all variations ([`cuped_theta`]).
    Adjusted {
        n: f64,
        post: Sums,
        pre: Sums,
        sum_products: f64,
        theta: f64,
    },
}

fn covariance(n: f64, a: &Sums, b: &Sums, sum_products: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        (sum_products - a.sum * b.sum / n) / (n - 1.0)
    }
}

impl Stat {
    pub fn n(&self) -> f64 {
        match *self {
            Stat::Proportion { n, .. } | Stat::Ratio { n, .. } | Stat::Adjusted { n, .. } => n,
            Stat::Mean(s) => s.n,
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Stat::Proportion { n, conversions } => {
                if n == 0.0 {
                    0.0
                } else {
                    conversions / n
                }
            }
            Stat::Mean(s) => s.mean(),
            Stat::Ratio { d, m, .. } => {
                if d.sum == 0.0 {
                    0.0
                } else {
                    m.sum / d.sum
                }
            }
            Stat::Adjusted {
                post, pre, theta, ..
            } => post.mean() - theta * pre.mean(),
        }
    }

    /// The mean before any adjustment (CUPED's μpost): relative lift divides by it.
    pub fn unadjusted_mean(&self) -> f64 {
        match *self {
            Stat::Adjusted { post, .. } => post.mean(),
            _ => self.mean(),
        }
    }

    /// The per-unit variance.
    pub fn variance(&self) -> f64 {
        match *self {
            Stat::Proportion { .. } => {
                let p = self.mean();
                p * (1.0 - p)
            }
            Stat::Mean(s) => s.variance(),
            Stat::Ratio {
                n,
                m,
                d,
                sum_products,
            } => {
                let (mu_m, mu_d) = (m.mean(), d.mean());
                if mu_d == 0.0 || n <= 1.0 {
                    return 0.0;
                }
                let cov = covariance(n, &m, &d, sum_products);
                m.variance() / mu_d.powi(2) - 2.0 * cov * mu_m / mu_d.powi(3)
                    + mu_m.powi(2) * d.variance() / mu_d.powi(4)
            }
            Stat::Adjusted {
                n,
                post,
                pre,
                sum_products,
                theta,
            } => {
                if n <= 1.0 {
                    return 0.0;
                }
                post.variance() + theta * theta * pre.variance()
                    - 2.0 * theta * covariance(n, &post, &pre, sum_products)
            }
        }
    }
}

/// CUPED's θ for two adjusted variations: Cov(post, pre) / Var(pre) over both pooled. `None`
/// when either pooled variance is zero (nothing to adjust by: use the unadjusted metric).
pub fn cuped_theta(a: &Stat, b: &Stat) -> Option<f64> {
    let (
        Stat::Adjusted {
            n: na,
            post: pa,
            pre: qa,
            sum_products: sa,
            ..
        },
        Stat::Adjusted {
            n: nb,
            post: pb,
            pre: qb,
            sum_products: sb,
            ..
        },
    ) = (*a, *b)
    else {
        return None;
    };
    let n = na + nb;
    let join = |x: Sums, y: Sums| Sums {
        n,
        sum: x.sum + y.sum,
        sum_squares: x.sum_squares + y.sum_squares,
    };
    let (post, pre) = (join(pa, pb), join(qa, qb));
    if post.variance() == 0.0 || pre.variance() == 0.0 {
        return None;
    }
    Some(covariance(n, &post, &pre, sa + sb) / pre.variance())
}

/// `a` and `b` with CUPED's shared θ set, or their unadjusted metrics when θ cannot be had.
pub fn with_theta(a: Stat, b: Stat) -> (Stat, Stat) {
    let set = |s: Stat, t: f64| match s {
        Stat::Adjusted {
            n,
            post,
            pre,
            sum_products,
            ..
        } => Stat::Adjusted {
            n,
            post,
            pre,
            sum_products,
            theta: t,
        },
        other => other,
    };
    let plain = |s: Stat| match s {
        Stat::Adjusted { post, .. } => Stat::Mean(post),
        other => other,
    };
    match cuped_theta(&a, &b) {
        Some(t) => (set(a, t), set(b, t)),
        None => (plain(a), plain(b)),
    }
}
