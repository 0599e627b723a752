//! The distributions the tests need: standard normal, Student t and chi-square, built on the
//! log-gamma function and the regularized incomplete gamma and beta functions (continued
//! fractions evaluated by the modified Lentz method, as in Numerical Recipes §6.2 and §6.4).
//! Accurate to about 1e-14 over the ranges experiments reach; `tests/stats.rs` checks them
//! against scipy.

use std::f64::consts::PI;

/// A series or fraction stops when its next term or factor is within this of nothing or 1: a
/// few units in the last place (a tolerance below f64's spacing, 2.2e-16, could only be met
/// by an exact 1, and a flickering last digit would run the loop to `MAX_ITER`).
const EPS: f64 = 4.0 * f64::EPSILON;
const TINY: f64 = 1e-300;
const MAX_ITER: usize = 20_000;

/// ln Γ(x) for x > 0: Lanczos' approximation (g = 7, 9 terms), with the reflection formula
/// below 1/2.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Γ(x)Γ(1−x) = π / sin(πx)
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized lower incomplete gamma P(a, x) and upper Q(a, x) = 1 − P(a, x), each
/// computed directly where it is small so neither loses digits to a subtraction.
fn gamma_pq(a: f64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    let front = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // P(a, x) = e^−x x^a / Γ(a) · Σ x^n / (a (a+1) … (a+n))
        let (mut ap, mut sum, mut del) = (a, 1.0 / a, 1.0 / a);
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        let p = sum * front;
        (p, 1.0 - p)
    } else {
        // Q(a, x) = e^−x x^a / Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …)))
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        let q = front * h;
        (1.0 - q, q)
    }
}

/// One step of the modified Lentz method with partial numerator `aa`: the new `(d, c)`,
/// kept away from zero; the fraction's value is multiplied by `d·c`.
fn lentz(aa: f64, d: f64, c: f64) -> (f64, f64) {
    let mut d = 1.0 + aa * d;
    if d.abs() < TINY {
        d = TINY;
    }
    let mut c = 1.0 + aa / c;
    if c.abs() < TINY {
        c = TINY;
    }
    (1.0 / d, c)
}

/// The continued fraction of the incomplete beta function (Numerical Recipes `betacf`): its
/// even and odd partial numerators alternate.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        (d, c) = lentz(m * (b - m) * x / ((qam + m2) * (a + m2)), d, c);
        h *= d * c;
        (d, c) = lentz(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), d, c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The fraction converges fast on this side of the mean; the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) covers the other.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The density of the standard normal, φ(x) = e^(−x²/2) / √(2π).
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Φ(x), the standard normal distribution function: Φ(x) = ½ erfc(−x/√2), with musl's erfc
/// (libm), exact to about an ulp: the scorecard list evaluates it thousands of times, and
/// erfc(z) = Q(½, z²) through the incomplete gamma took a tenth of that list's time.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// 1 − Φ(x), computed without the subtraction for large x.
pub fn normal_sf(x: f64) -> f64 {
    normal_cdf(-x)
}

/// Φ⁻¹(p): Acklam's rational approximation (relative error 1.15e-9), then one Halley step
/// on Φ, which brings it to the precision of Φ itself.
pub fn normal_ppf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let x = if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // Halley: e = Φ(x) − p (taken on the smaller tail), u = e·√(2π)·e^(x²/2).
    let e = if x < 0.0 {
        normal_cdf(x) - p
    } else {
        (1.0 - p) - normal_sf(x)
    };
    let u = e * (2.0 * PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// The Student t distribution function with `dof` degrees of freedom (any real dof > 0):
/// for t > 0, F(t) = 1 − ½ I_{ν/(ν+t²)}(ν/2, ½).
pub fn t_cdf(t: f64, dof: f64) -> f64 {
    let tail = 0.5 * beta_inc(0.5 * dof, 0.5, dof / (dof + t * t));
    if t < 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// 1 − F(t), without the subtraction for large t.
pub fn t_sf(t: f64, dof: f64) -> f64 {
    t_cdf(-t, dof)
}

/// F⁻¹(p) of the Student t: Newton's method kept inside a bracket that bisection narrows
/// whenever a step would leave it. It starts from the Cornish–Fisher expansion in 1/ν around
/// the normal quantile z (Abramowitz & Stegun 26.7.5; from 4 degrees of freedom, where it is
/// already close), t ≈ z + (z³ + z)/4ν + (5z⁵ + 16z³ + 3z)/96ν² + (3z⁷ + 19z⁵ + 17z³ − 15z)/384ν³,
/// so two or three evaluations suffice. Above p = 0.75 it solves on the upper tail
/// (1 − F(t) = 1 − p, computed without a subtraction): F(t) − p near 1 is only known to the
/// last bit of 1, and steps in that noise fell back to bisection for a dozen evaluations more.
pub fn t_ppf(p: f64, dof: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    // Symmetric: solve in the upper half.
    if p < 0.5 {
        return -t_ppf(1.0 - p, dof);
    }
    let z = normal_ppf(p);
    let start = if dof >= 4.0 {
        let (z2, v) = (z * z, dof);
        z + z * (z2 + 1.0) / (4.0 * v)
            + z * ((5.0 * z2 + 16.0) * z2 + 3.0) / (96.0 * v * v)
            + z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / (384.0 * v * v * v)
    } else {
        z
    };
    // How far F(t) is above p, rising with t: on the tail when p is near 1.
    let upper = p > 0.75;
    let q = 1.0 - p;
    let above = |t: f64| {
        if upper {
            q - t_sf(t, dof)
        } else {
            t_cdf(t, dof) - p
        }
    };
    // The bracket's upper end is found as the steps go (doubling past a point still below p),
    // not probed first: from a close start that probe is an evaluation in four.
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    let mut x = start.max(f64::MIN_POSITIVE);
    for _ in 0..400 {
        let f = above(x);
        if f > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        let next = x - f / t_pdf(x, dof);
        // Converged before the bracket is asked: a step below the last digit lands on x
        // itself, which the bracket would refuse. 1e-10, as F itself is known to about
        // 1e-12 up to ν ≈ 10⁴ (its prefactor is a difference of large log-gammas): a tighter
        // mark is a step in noise that never comes. Beyond, the bracket closing ends it.
        if (next - x).abs() <= 1e-10 * x.abs().max(1.0) || hi - lo <= 1e-10 * x.max(1.0) {
            return next;
        }
        let before = x;
        x = if next > lo && next < hi && next.is_finite() {
            next
        } else if hi.is_infinite() {
            if x > 1e300 {
                return f64::INFINITY;
            }
            2.0 * x.max(1.0)
        } else {
            0.5 * (lo + hi)
        };
        if x == before {
            return x; // the bracket is two neighbouring numbers
        }
    }
    x
}

/// The Student t density.
pub fn t_pdf(t: f64, dof: f64) -> f64 {
    (ln_gamma(0.5 * (dof + 1.0))
        - ln_gamma(0.5 * dof)
        - 0.5 * (dof * PI).ln()
        - 0.5 * (dof + 1.0) * (1.0 + t * t / dof).ln())
    .exp()
}

/// The upper tail of the chi-square distribution with `dof` degrees of freedom:
/// P(X² > x) = Q(k/2, x/2).
pub fn chi2_sf(x: f64, dof: f64) -> f64 {
    gamma_pq(0.5 * dof, 0.5 * x).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The t quantile inverts the distribution function over the whole range, from one degree
    /// of freedom to many and from p near ½ to p near 1 (scipy's values are in tests/stats.rs).
    #[test]
    fn t_quantile_inverts_the_distribution() {
        for dof in [1.0, 2.5, 4.0, 7.0, 30.0, 150.5, 9_998.7, 1e6] {
            for p in [0.6, 0.75, 0.76, 0.9, 0.975, 0.995, 0.999_999, 1.0 - 1e-12] {
                let t = t_ppf(p, dof);
                assert!(t.is_finite() && t > 0.0, "ν {dof}, p {p}: {t}");
                let back = if p > 0.75 {
                    (t_sf(t, dof) - (1.0 - p)).abs() / (1.0 - p)
                } else {
                    (t_cdf(t, dof) - p).abs() / p
                };
                assert!(back < 1e-8, "ν {dof}, p {p}: t {t}, off by {back}");
                assert_eq!(t_ppf(1.0 - p, dof), -t);
            }
        }
    }
}
