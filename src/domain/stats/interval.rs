//! The interval of one arm's mean (a per-issued metric of one variant), by the same method as
//! the comparisons: a fixed-horizon normal interval, or the normal-mixture confidence sequence.

use super::compare::{sequential_halfwidth, sequential_rho_sq, Method, Moments};
use super::normal;

/// Two-sided `1 − alpha` interval of `m.mean()`: fixed, `mean ± z_{1−α/2}·√(v/n)`; sequential,
/// `mean ± halfwidth` of the confidence sequence after `n` units (valid at every look).
/// `None` with fewer than 2 units, a per-unit variance of 0, `alpha` outside `(0, 1)`, a bad
/// tuning parameter or a non-finite result.
pub fn mean_interval<M: Moments>(m: &M, alpha: f64, method: Method) -> Option<(f64, f64)> {
    if !(alpha > 0.0 && alpha < 1.0) || m.n() < 2 {
        return None;
    }
    let (n, mean, v) = (m.n() as f64, m.mean(), m.variance());
    if v <= 0.0 {
        return None;
    }
    let var = v / n;
    let half = match method {
        Method::Fixed => normal::upper_quantile(alpha / 2.0) * var.sqrt(),
        Method::Sequential { tuning } => {
            sequential_halfwidth(var, n, alpha, sequential_rho_sq(alpha, tuning)?)
        }
    };
    let ci = (mean - half, mean + half);
    (ci.0.is_finite() && ci.1.is_finite()).then_some(ci)
}

#[cfg(test)]
mod tests {
    use super::super::SampleMoments;
    use super::*;

    #[test]
    fn fixed_is_the_normal_interval_and_sequential_is_wider_at_small_n() {
        // 80 of 1,000 redeemed: sd = sqrt(0.08 * 0.92 * 1000 / 999) / sqrt(1000).
        let m = SampleMoments::bernoulli(1000, 80);
        let (lo, hi) = mean_interval(&m, 0.05, Method::Fixed).unwrap();
        let se = (m.variance() / 1000.0).sqrt();
        assert!((hi - lo - 2.0 * 1.959963984540054 * se).abs() < 1e-12);
        assert!((lo + hi) / 2.0 - 0.08 < 1e-15);
        let (slo, shi) = mean_interval(&m, 0.05, Method::default()).unwrap();
        assert!(slo < lo && shi > hi);
        assert_eq!(mean_interval(&SampleMoments::bernoulli(1000, 0), 0.05, Method::Fixed), None);
        assert_eq!(mean_interval(&SampleMoments::bernoulli(1, 1), 0.05, Method::Fixed), None);
    }
}
