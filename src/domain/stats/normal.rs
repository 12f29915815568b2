//! Standard-normal helpers shared by the submodules: `Φ`, `1 − Φ`, `φ` and the upper quantile.
//!
//! `erfc` is the `libm` crate's (a port of musl's, within about one ulp), so tail probabilities
//! keep their relative precision instead of rounding `1 − Φ(z)` to 0. statrs' `erfc` is off by up
//! to ~3e-11 relative (e.g. `Φ(−1.5)`), which is why it is not used here.

use libm::erfc;
use statrs::function::erf::erfc_inv;
use std::f64::consts::SQRT_2;

/// `1 / √(2π)`.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `Φ(x) = erfc(−x/√2) / 2`.
pub(super) fn cdf(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// `1 − Φ(x) = erfc(x/√2) / 2`, without cancellation for large `x`.
pub(super) fn sf(x: f64) -> f64 {
    0.5 * erfc(x / SQRT_2)
}

/// `φ(x) = exp(−x²/2) / √(2π)`.
pub(super) fn pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// The upper `q` quantile `z` with `1 − Φ(z) = q`, i.e. `√2 · erfc⁻¹(2q)`, for `q` in `(0, 1)`:
/// statrs' `erfc_inv` refined by two Newton steps on the accurate [`sf`].
/// `upper_quantile(0.025) = 1.959963984540054`.
pub(super) fn upper_quantile(q: f64) -> f64 {
    let mut z = SQRT_2 * erfc_inv(2.0 * q);
    for _ in 0..2 {
        let d = pdf(z);
        if !(z.is_finite() && d > 0.0) {
            break;
        }
        z += (sf(z) - q) / d;
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    // python3 -c "from scipy.stats import norm; print(norm.isf([0.025, 0.2, 1e-10, 0.5, 0.9]), \
    //   norm.cdf([-1.5, 0.3, -40]), norm.pdf([0.7]))"   # scipy 1.17.1
    #[test]
    fn matches_scipy() {
        let close = |a: f64, b: f64| (a - b).abs() <= 2e-15 * b.abs().max(1e-300);
        assert!(close(upper_quantile(0.025), 1.9599639845400545));
        assert!(close(upper_quantile(0.2), 0.8416212335729142));
        assert!(close(upper_quantile(1e-10), 6.361340902404056));
        assert!(upper_quantile(0.5).abs() < 1e-15);
        assert!(close(upper_quantile(0.9), -1.2815515655446004));
        assert!(close(cdf(-1.5), 0.06680720126885807));
        assert!(close(cdf(0.3), 0.6179114221889526));
        assert!((0.0..1e-300).contains(&cdf(-40.0)));
        // Tail: python3 -c "import mpmath as mp; mp.mp.dps = 30; print(mp.ncdf(-8))"  (mpmath 1.4.1);
        // rounding 8/√2 alone costs 64ε relative there, so compare to 1e-14.
        assert!((sf(8.0) - 6.220960574271784e-16).abs() <= 1e-14 * 6.22e-16);
        assert!(close(pdf(0.7), 0.31225393336676127));
    }
}
