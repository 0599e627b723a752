//! Corrections for testing many metrics and variations at once: with twenty comparisons one
//! is "significant" at 5 % by chance alone.

/// Holm's step-down adjusted p-values (family-wise error): with p₍₁₎ ≤ … ≤ p₍ₘ₎,
/// adj₍ᵢ₎ = min(1, maxⱼ≤ᵢ (m − j + 1)·p₍ⱼ₎), returned in the input's order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let order = sorted(p);
    let mut out = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max((m - rank) as f64 * p[i]);
        out[i] = running.min(1.0);
    }
    out
}

/// Benjamini–Hochberg adjusted p-values (false discovery rate):
/// adj₍ᵢ₎ = min(1, minⱼ≥ᵢ m·p₍ⱼ₎/j), returned in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let order = sorted(p);
    let mut out = vec![0.0; m];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(m as f64 * p[i] / (rank + 1) as f64);
        out[i] = running.min(1.0);
    }
    out
}

/// Indices of `p` from the smallest value up (ties in input order).
fn sorted(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    order
}
