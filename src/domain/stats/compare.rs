//! Decision-grade comparison of one treatment arm with the control: per-issued metrics as sample
//! moments, the absolute and relative difference of their means, fixed-horizon and sequential
//! (always-valid) confidence intervals and p-values.
//!
//! The methods are GrowthBook's `gbstats` (packages/stats/gbstats: `models/statistics.py`,
//! `models/tests.py`, `utils.py`, `frequentist/tests.py`), with one deliberate difference: the
//! fixed-horizon test uses the normal `z` quantile where gbstats uses Student's `t` with
//! Welch–Satterthwaite degrees of freedom. Voucher arms have thousands of issued vouchers, where
//! the two agree to better than 0.1% of the interval width (the `t` correction is O(1/dof)); the
//! sequential method, which is what the reports use by default, is identical to gbstats'.

use super::normal;

/// GrowthBook's default sequential tuning parameter `N*` (`sequential_tuning_parameter = 5000`):
/// the total sample size (both arms) at which the confidence sequence is tightest relative to a
/// fixed-horizon interval.
pub const DEFAULT_TUNING: f64 = 5000.0;

/// How an interval or p-value accounts for looking at the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Fixed horizon: valid only when the data are looked at once, at a sample size fixed in
    /// advance. Looking daily and stopping at the first "significant" day inflates the false
    /// positive rate far above `alpha` (the A/A simulation measures 28% over 30 daily looks).
    Fixed,
    /// Always valid: the normal-mixture confidence sequence of Waudby-Smith et al. (2023,
    /// arXiv:2103.06476v7, eq. 9 with ρ from eq. 161) as gbstats' `SequentialTwoSidedTTest`
    /// applies it. The interval may be looked at after every voucher and the test stopped at any
    /// time; `tuning` is `N*` (> 0), the total sample size where the sequence is tightest.
    Sequential {
        /// The tuning parameter `N*`, total issued vouchers over both arms; must be finite and > 0.
        tuning: f64,
    },
}

impl Default for Method {
    /// `Sequential { tuning: 5000.0 }`, GrowthBook's default.
    fn default() -> Self {
        Method::Sequential { tuning: DEFAULT_TUNING }
    }
}

/// Anything with a sample size, a mean and a per-unit variance: [`SampleMoments`] (a mean per
/// issued voucher) or [`RatioMoments`] (a ratio of two such means, delta method).
///
/// The variance of the mean's estimate is `variance() / n()`.
pub trait Moments {
    /// The number of units (issued vouchers) the statistic is computed over.
    fn n(&self) -> u64;
    /// The point estimate; 0 when there is nothing to average over.
    fn mean(&self) -> f64;
    /// The per-unit variance (so that `Var(mean) ≈ variance / n`); 0 when it is unknown
    /// (fewer than two units), never negative and never NaN.
    fn variance(&self) -> f64;
}

/// Sufficient statistics of one per-issued-voucher metric in one arm: `n` units and the sums of
/// the metric and of its square (a voucher that was not redeemed contributes 0 to both).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SampleMoments {
    /// Number of units (issued vouchers).
    pub n: u64,
    /// `Σ x`.
    pub sum: f64,
    /// `Σ x²`.
    pub sum_sq: f64,
}

impl SampleMoments {
    /// From the raw sums.
    pub fn new(n: u64, sum: f64, sum_sq: f64) -> Self {
        SampleMoments { n, sum, sum_sq }
    }

    /// A 0/1 metric (a voucher was redeemed or not): `Σ x = Σ x² = successes`, with the
    /// successes clamped to `n`. Its [`variance`](Moments::variance) is the sample variance
    /// `p (1 − p) · n / (n − 1)`; gbstats' `ProportionStatistic` uses `p (1 − p)`, a relative
    /// difference of `1/(n − 1)` (gbstats' `SampleMeanStatistic(n, sum=k, sum_squares=k)` agrees
    /// exactly).
    pub fn bernoulli(n: u64, successes: u64) -> Self {
        let k = successes.min(n) as f64;
        SampleMoments { n, sum: k, sum_sq: k }
    }

    /// The linear combination `z = a·x + b·y` per unit, from the sums of `x` and `y`:
    /// `sums = [Σx, Σy, Σx², Σy², Σxy]`, so `Σz = aΣx + bΣy` and
    /// `Σz² = a²Σx² + b²Σy² + 2abΣxy`; hence `Var(z) = a²Var(x) + b²Var(y) + 2ab·Cov(x, y)`.
    /// Net contribution per issued voucher `m·R − D` is `linear(n, (m, −1), [ΣR, ΣD, ΣR², ΣD², ΣRD])`.
    pub fn linear(n: u64, (a, b): (f64, f64), sums: [f64; 5]) -> Self {
        let [sx, sy, sxx, syy, sxy] = sums;
        SampleMoments { n, sum: a * sx + b * sy, sum_sq: a * a * sxx + b * b * syy + 2.0 * a * b * sxy }
    }
}

impl Moments for SampleMoments {
    fn n(&self) -> u64 {
        self.n
    }

    /// `Σx / n`; 0 when `n = 0` or the sum is not finite.
    fn mean(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        finite_or_zero(self.sum / self.n as f64)
    }

    /// The unbiased sample variance `(Σx² − (Σx)²/n) / (n − 1)` (gbstats
    /// `SampleMeanStatistic.variance`); 0 when `n < 2`. Rounding can make the numerator slightly
    /// negative for a constant metric, so the result is clamped at 0; non-finite input gives 0.
    fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        finite_or_zero((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// Sufficient statistics of a ratio metric `Σm / Σd` over `n` units (gbstats `RatioStatistic`),
/// e.g. average order value = order value per issued voucher / redemptions per issued voucher.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RatioMoments {
    /// Number of units (issued vouchers).
    pub n: u64,
    /// `Σ m` (numerator, e.g. order value).
    pub sum_m: f64,
    /// `Σ m²`.
    pub sum_mm: f64,
    /// `Σ d` (denominator, e.g. 1 per redemption).
    pub sum_d: f64,
    /// `Σ d²`.
    pub sum_dd: f64,
    /// `Σ m·d`.
    pub sum_md: f64,
}

impl Moments for RatioMoments {
    fn n(&self) -> u64 {
        self.n
    }

    /// `Σm / Σd`; 0 when `Σd = 0` (gbstats' convention).
    fn mean(&self) -> f64 {
        if self.sum_d == 0.0 {
            return 0.0;
        }
        finite_or_zero(self.sum_m / self.sum_d)
    }

    /// Delta method (gbstats `RatioStatistic.variance` / `utils.variance_of_ratios`), with
    /// `μ_m = Σm/n`, `μ_d = Σd/n`, sample variances and covariance (divisor `n − 1`):
    /// `Var(m)/μ_d² + μ_m² Var(d)/μ_d⁴ − 2 μ_m Cov(m, d)/μ_d³`. 0 when `n < 2` or `μ_d = 0`;
    /// clamped at 0.
    fn variance(&self) -> f64 {
        if self.n < 2 || self.sum_d == 0.0 {
            return 0.0;
        }
        let n = self.n as f64;
        let (mu_m, mu_d) = (self.sum_m / n, self.sum_d / n);
        let var_m = SampleMoments::new(self.n, self.sum_m, self.sum_mm).variance();
        let var_d = SampleMoments::new(self.n, self.sum_d, self.sum_dd).variance();
        let cov = (self.sum_md - self.sum_m * self.sum_d / n) / (n - 1.0);
        let v = var_m / (mu_d * mu_d) + mu_m * mu_m * var_d / mu_d.powi(4) - 2.0 * mu_m * cov / mu_d.powi(3);
        finite_or_zero(v).max(0.0)
    }
}

/// What the report knows about one variant, over its issued vouchers (a voucher that was not
/// redeemed contributes 0 to every sum). Money is in major units (e.g. EUR) as `f64`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VariantSums {
    /// Vouchers issued (the unit of every per-issued metric).
    pub issued: u64,
    /// Vouchers redeemed.
    pub redeemed: u64,
    /// `Σ R`, order value.
    pub sum_r: f64,
    /// `Σ D`, discount granted.
    pub sum_d: f64,
    /// `Σ R²`.
    pub sum_rr: f64,
    /// `Σ D²`.
    pub sum_dd: f64,
    /// `Σ R·D`.
    pub sum_rd: f64,
}

impl VariantSums {
    /// Redemption rate per issued voucher (Bernoulli).
    pub fn redemption(&self) -> SampleMoments {
        SampleMoments::bernoulli(self.issued, self.redeemed)
    }

    /// Order value per issued voucher, `R`.
    pub fn order_value(&self) -> SampleMoments {
        SampleMoments::new(self.issued, self.sum_r, self.sum_rr)
    }

    /// Discount per issued voucher, `D`.
    pub fn discount(&self) -> SampleMoments {
        SampleMoments::new(self.issued, self.sum_d, self.sum_dd)
    }

    /// Net contribution per issued voucher, `m·R − D` with `m = gross_margin` clamped into
    /// `[0, 1]` (NaN counts as 0): `Var = m²Var(R) + Var(D) − 2m·Cov(R, D)`.
    pub fn net(&self, gross_margin: f64) -> SampleMoments {
        let m = if gross_margin.is_nan() { 0.0 } else { gross_margin.clamp(0.0, 1.0) };
        SampleMoments::linear(
            self.issued,
            (m, -1.0),
            [self.sum_r, self.sum_d, self.sum_rr, self.sum_dd, self.sum_rd],
        )
    }

    /// Average order value per redemption, `ΣR / redeemed`, as a ratio metric over the issued
    /// vouchers: numerator `R`, denominator the 0/1 redemption indicator, `Σ R·1 = ΣR`.
    pub fn aov(&self) -> RatioMoments {
        let k = self.redeemed.min(self.issued) as f64;
        RatioMoments {
            n: self.issued,
            sum_m: self.sum_r,
            sum_mm: self.sum_rr,
            sum_d: k,
            sum_dd: k,
            sum_md: self.sum_r,
        }
    }
}

/// Which difference of the two arms' means is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Difference {
    /// `μ_t − μ_c`, in the metric's unit.
    Absolute,
    /// The lift `(μ_t − μ_c) / |μ_c|` (gbstats `frequentist_diff(relative=True)`), a fraction.
    Relative,
}

/// The estimated difference between a treatment arm and the control, with its interval and p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// Point estimate of the [`Difference`].
    pub estimate: f64,
    /// Its standard error `√Var` (delta method for the relative lift).
    pub std_error: f64,
    /// Two-sided `1 − alpha` interval `(low, high)`: a confidence interval for
    /// [`Method::Fixed`], a confidence sequence (valid at every look) for [`Method::Sequential`].
    pub ci: (f64, f64),
    /// Two-sided p-value of "no difference"; always valid for [`Method::Sequential`].
    /// `p_value < alpha` exactly when `ci` excludes 0.
    pub p_value: f64,
}

/// Compares `treatment` with `control` (gbstats `TwoSidedTTest` / `SequentialTwoSidedTTest`,
/// `test_value = 0`, `alpha` two-sided, e.g. 0.05).
///
/// * Estimate: `μ_t − μ_c`, or `(μ_t − μ_c)/|μ_c|` for [`Difference::Relative`].
/// * Variance of the estimate (gbstats `frequentist_variance`): `v_t/n_t + v_c/n_c`; relative,
///   by the delta method, `v_t/(n_t μ_c²) + v_c μ_t²/(n_c μ_c⁴)`.
/// * [`Method::Fixed`]: interval `estimate ± z_{1−α/2}·se`, p-value `2(1 − Φ(|estimate|/se))`.
/// * [`Method::Sequential`]: with `N = n_c + n_t` (both arms, as gbstats' `self.n`),
///   `ρ² = (−2 ln α + ln(1 − 2 ln α)) / N*` and `s² = Var·N`, half-width
///   `√s² · √(2(Nρ² + 1)/(N²ρ²) · ln(√(Nρ² + 1)/α))` (eq. 9 of arXiv:2103.06476v7); the p-value
///   is gbstats' closed form (eq. 155), the reciprocal of the mixture e-value:
///   `p = min(1, √(Nρ² + 1) · exp(−ρ² N estimate²/Var / (2(Nρ² + 1))))`. With ρ held at the value
///   tuned for `alpha` this is exactly the smallest level at which the confidence sequence excludes
///   0, it is monotone in `|estimate|/se`, and by Ville's inequality `P(ever p ≤ a) ≤ a` under the
///   null for every `a`, so it may be compared with any threshold (e.g. a Holm-adjusted one).
///
/// `None` means "no information", where gbstats returns its default (uninformative) output:
/// either arm has fewer than 2 units or a per-unit variance of 0 (nothing or everything
/// redeemed), the control mean is 0 for a relative lift, `alpha` is not in `(0, 1)`, the tuning
/// parameter is not finite and positive, or a result would not be finite.
pub fn compare<M: Moments>(
    control: &M,
    treatment: &M,
    difference: Difference,
    alpha: f64,
    method: Method,
) -> Option<Comparison> {
    if !(alpha > 0.0 && alpha < 1.0) || control.n() < 2 || treatment.n() < 2 {
        return None;
    }
    let (n_c, n_t) = (control.n() as f64, treatment.n() as f64);
    let (m_c, m_t) = (control.mean(), treatment.mean());
    let (v_c, v_t) = (control.variance(), treatment.variance());
    if v_c <= 0.0 || v_t <= 0.0 {
        return None;
    }
    let (estimate, var) = match difference {
        Difference::Absolute => (m_t - m_c, v_t / n_t + v_c / n_c),
        Difference::Relative => {
            if m_c == 0.0 {
                return None;
            }
            let m_c2 = m_c * m_c;
            ((m_t - m_c) / m_c.abs(), v_t / (n_t * m_c2) + v_c * m_t * m_t / (n_c * m_c2 * m_c2))
        }
    };
    if !(estimate.is_finite() && var.is_finite() && var > 0.0) {
        return None;
    }
    let std_error = var.sqrt();
    let (halfwidth, p_value) = match method {
        Method::Fixed => {
            let z = estimate.abs() / std_error;
            (normal::upper_quantile(alpha / 2.0) * std_error, 2.0 * normal::sf(z))
        }
        Method::Sequential { tuning } => {
            let n = n_c + n_t;
            let rho2 = sequential_rho_sq(alpha, tuning)?;
            (
                sequential_halfwidth(var, n, alpha, rho2),
                sequential_p_value(estimate * estimate / var, n, rho2),
            )
        }
    };
    let ci = (estimate - halfwidth, estimate + halfwidth);
    let p_value = p_value.clamp(0.0, 1.0);
    [halfwidth, ci.0, ci.1, p_value].iter().all(|x| x.is_finite()).then_some(Comparison {
        estimate,
        std_error,
        ci,
        p_value,
    })
}

/// `ρ²` of the normal-mixture confidence sequence tuned to be tightest at `N*` total units:
/// `(−2 ln α + ln(1 − 2 ln α)) / N*` (eq. 161 of arXiv:2103.06476v7, gbstats `sequential_rho`,
/// power.ts `sequentialRho`). `None` for a tuning parameter that is not finite and positive.
pub(super) fn sequential_rho_sq(alpha: f64, tuning: f64) -> Option<f64> {
    if !(tuning.is_finite() && tuning > 0.0) {
        return None;
    }
    let l = -2.0 * alpha.ln();
    Some((l + l.ln_1p()) / tuning)
}

/// Half-width of the two-sided confidence sequence for an estimate with variance `var` after `n`
/// total units: `√(var·n · 2(nρ² + 1)/(n²ρ²) · ln(√(nρ² + 1)/α))` (gbstats
/// `sequential_interval_halfwidth`, with `s² = var·n`).
pub(super) fn sequential_halfwidth(var: f64, n: f64, alpha: f64, rho2: f64) -> f64 {
    let nr2 = n * rho2;
    (var * 2.0 * (nr2 + 1.0) / nr2 * (0.5 * nr2.ln_1p() - alpha.ln())).sqrt()
}

/// Always-valid p-value for a squared z statistic `z² = estimate²/var` after `n` total units:
/// `min(1, √(nρ² + 1)·exp(−ρ² n z² / (2(nρ² + 1))))`, computed in log space so it never
/// overflows (gbstats `SequentialTwoSidedTTest.p_value`, eq. 155 of arXiv:2103.06476v7).
pub(super) fn sequential_p_value(z2: f64, n: f64, rho2: f64) -> f64 {
    let nr2 = n * rho2;
    let ln_p = 0.5 * nr2.ln_1p() - nr2 * z2 / (2.0 * (nr2 + 1.0));
    if ln_p.is_nan() {
        1.0
    } else {
        ln_p.min(0.0).exp()
    }
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEQ: Method = Method::Sequential { tuning: DEFAULT_TUNING };

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    /// `(estimate, std_error, fixed ci, fixed p, sequential ci, sequential p)`.
    type Want = (f64, f64, (f64, f64), f64, (f64, f64), f64);

    fn check<M: Moments>(label: &str, c: &M, t: &M, difference: Difference, want: Want) {
        let (est, se, fci, fp, sci, sp) = want;
        let fixed = compare(c, t, difference, 0.05, Method::Fixed).unwrap();
        let seq = compare(c, t, difference, 0.05, SEQ).unwrap();
        for (got, ci, p) in [(fixed, fci, fp), (seq, sci, sp)] {
            let ok = close(got.estimate, est, 1e-12)
                && close(got.std_error, se, 1e-12)
                && close(got.ci.0, ci.0, 1e-11)
                && close(got.ci.1, ci.1, 1e-11)
                && close(got.p_value, p, 1e-11);
            assert!(ok, "{label} {difference:?}: got {got:?}, want est {est} se {se} ci {ci:?} p {p}");
        }
    }

    // Reference: gbstats from growthbook/growthbook@8f1db445 packages/stats (run from the source
    // tree), scipy 1.17.1; the whole script is /tmp/refs/compare_refs.py in the session that wrote
    // this, in short:
    //   import gbstats.frequentist.tests as ft, gbstats.models.statistics as st; from scipy.stats import norm
    //   a, b = st.SampleMeanStatistic(n=10000, sum=800, sum_squares=800), st.SampleMeanStatistic(n=10000, sum=900, sum_squares=900)
    //   t = ft.SequentialTwoSidedTTest([(a, b)], ft.SequentialConfig(difference_type="absolute", alpha=0.05))
    //   r = t.compute_result(); m = t.moments_result; est, se = m.point_estimate, m.standard_error
    //   print(est, se, est - norm.ppf(0.975) * se, est + norm.ppf(0.975) * se, 2 * norm.sf(abs(est / se)), r.ci, r.pValue)
    // (the fixed interval uses the normal quantile; gbstats' own fixed test uses Welch's t).
    #[test]
    fn rates_match_gbstats() {
        type Counts = (u64, u64);
        let cases: [(Counts, Counts, Difference, Want); 6] = [
            (
                (800, 10000),
                (900, 10000),
                Difference::Absolute,
                (
                    0.009999999999999995,
                    0.003943546012856393,
                    (0.0022707918434249352, 0.017729208156575055),
                    0.011219436012648104,
                    (-0.0023319185130876146, 0.022331918513087606),
                    0.253458363029389,
                ),
            ),
            (
                (800, 10000),
                (900, 10000),
                Difference::Relative,
                (
                    0.12499999999999993,
                    0.05230133643588181,
                    (0.022491264242359116, 0.22750873575764075),
                    0.016848543033027887,
                    (-0.0385522489024301, 0.28855224890243),
                    0.3589938135153547,
                ),
            ),
            (
                (412, 5123),
                (530, 5200),
                Difference::Absolute,
                (
                    0.02150144897070526,
                    0.005660805904458735,
                    (0.010406473274494453, 0.03259642466691606),
                    0.00014569089183313736,
                    (0.004157732408336452, 0.038845165533074065),
                    0.004650340413488513,
                ),
            ),
            (
                (412, 5123),
                (530, 5200),
                Difference::Relative,
                (
                    0.26735903659447335,
                    0.07942239669124984,
                    (0.11169399951377051, 0.4230240736751762),
                    0.0007618581276948593,
                    (0.02402274134504903, 0.5106953318438977),
                    0.019995488507562727,
                ),
            ),
            (
                (160, 2000),
                (150, 2000),
                Difference::Absolute,
                (
                    -0.0050000000000000044,
                    0.008457142639852743,
                    (-0.02157569498622938, 0.01157569498622937),
                    0.5543755485494484,
                    (-0.030712874164750114, 0.020712874164750105),
                    1.0,
                ),
            ),
            (
                (160, 2000),
                (150, 2000),
                Difference::Relative,
                (
                    -0.06250000000000006,
                    0.10236636287679812,
                    (-0.26313438446688237, 0.13813438446688225),
                    0.5414961278349437,
                    (-0.37373199873096724, 0.24873199873096713),
                    1.0,
                ),
            ),
        ];
        for ((rc, nc), (rt, nt), difference, want) in cases {
            let (c, t) = (SampleMoments::bernoulli(nc, rc), SampleMoments::bernoulli(nt, rt));
            check(&format!("{rc}/{nc} vs {rt}/{nt}"), &c, &t, difference, want);
        }
    }

    /// Two arms of per-voucher data (numpy `default_rng(12)`, 8% / 9% redeemed, lognormal order
    /// values, discount `min(0.15 R, 12)`), reduced to their sums by the same script.
    const ARMS: [VariantSums; 2] = [
        VariantSums {
            issued: 4000,
            redeemed: 336,
            sum_r: 14843.740000000002,
            sum_d: 2149.2,
            sum_rr: 839991.5674,
            sum_dd: 16472.4738,
            sum_rd: 116002.1571,
        },
        VariantSums {
            issued: 4100,
            redeemed: 337,
            sum_r: 17063.129999999997,
            sum_d: 2415.5600000000004,
            sum_rr: 1092311.2737,
            sum_dd: 20190.199,
            sum_rd: 146111.69340000002,
        },
    ];

    // Same script: gbstats on SampleMeanStatistic built from the raw per-voucher values
    // (net = 0.4 R − D: sum=net.sum(), sum_squares=(net**2).sum(); numpy net.var(ddof=1)), and
    // RatioStatistic(m=SampleMeanStatistic(R), d=SampleMeanStatistic(redeemed), m_d_sum_of_products=(R*redeemed).sum()).
    #[test]
    fn money_metrics_match_gbstats_on_raw_vouchers() {
        let [c, t] = ARMS;
        // The linear combination from the sums equals numpy's mean and variance of 0.4 R − D.
        assert!(close(c.net(0.4).mean(), 0.9470740000000001, 1e-13));
        assert!(close(c.net(0.4).variance(), 13.623806516153039, 1e-10));
        assert!(close(t.net(0.4).mean(), 1.0755346341463414, 1e-13));
        assert!(close(t.net(0.4).variance(), 17.889209953667226, 1e-10));
        assert!(close(c.aov().mean(), 44.177797619047624, 1e-14));
        assert!(close(c.aov().variance(), 6528.978679272921, 1e-11));
        assert!(close(t.aov().variance(), 8246.252941688945, 1e-11));
        let tol_cases: [(&str, Difference, Want); 6] = [
            (
                "order value",
                Difference::Absolute,
                (
                    0.4508040243902429,
                    0.3314200424849143,
                    (-0.1987673226349237, 1.1003753714154096),
                    0.17376045457207956,
                    (-0.5593866526009621, 1.460994701381448),
                    1.0,
                ),
            ),
            (
                "order value",
                Difference::Relative,
                (
                    0.12147990314846335,
                    0.0943101413496507,
                    (-0.06336457727373374, 0.30632438357066044),
                    0.19771480873448255,
                    (-0.16598377835618333, 0.40894358465311004),
                    1.0,
                ),
            ),
            (
                "net",
                Difference::Absolute,
                (
                    0.12846063414634135,
                    0.08814291559142515,
                    (-0.044296305905205946, 0.30121757419788864),
                    0.1450024010008636,
                    (-0.14020492664976958, 0.39712619494245227),
                    1.0,
                ),
            ),
            (
                "net",
                Difference::Relative,
                (
                    0.13563948978257384,
                    0.09880160331372684,
                    (-0.058008094327144016, 0.3292870738922917),
                    0.1697998999946817,
                    (-0.16551447118782614, 0.4367934507529738),
                    1.0,
                ),
            ),
            (
                "aov",
                Difference::Absolute,
                (
                    6.454635615373732,
                    1.908802209530421,
                    (2.713452031083629, 10.195819199663834),
                    0.0007208835379232391,
                    (0.6364775407134928, 12.272793690033971),
                    0.01849375502928846,
                ),
            ),
            (
                "aov",
                Difference::Relative,
                (
                    0.1461058713481625,
                    0.04614224450573791,
                    (0.05566873395107501, 0.23654300874524997),
                    0.0015432611630171946,
                    (0.005461193175849449, 0.2867505495204755),
                    0.03554514498454587,
                ),
            ),
        ];
        for (label, difference, (est, se, fci, fp, sci, sp)) in tol_cases {
            // The sums went through a decimal round trip, so allow 1e-9 here.
            let grade = |got: Comparison, ci: (f64, f64), p: f64| {
                close(got.estimate, est, 1e-9)
                    && close(got.std_error, se, 1e-9)
                    && close(got.ci.0, ci.0, 1e-9)
                    && close(got.ci.1, ci.1, 1e-9)
                    && close(got.p_value, p, 1e-9)
            };
            for (method, ci, p) in [(Method::Fixed, fci, fp), (SEQ, sci, sp)] {
                let got = match label {
                    "order value" => compare(&c.order_value(), &t.order_value(), difference, 0.05, method),
                    "net" => compare(&c.net(0.4), &t.net(0.4), difference, 0.05, method),
                    _ => compare(&c.aov(), &t.aov(), difference, 0.05, method),
                }
                .unwrap();
                assert!(grade(got, ci, p), "{label} {difference:?} {method:?}: {got:?}");
            }
        }
    }

    // gbstats answers these with its default output (errorMessage ZERO_NEGATIVE_VARIANCE,
    // ci (0, 0), p 1); here they are None.
    #[test]
    fn no_information_cases_are_none() {
        let some = SampleMoments::bernoulli(1000, 50);
        for (c, t) in [
            (SampleMoments::bernoulli(1000, 0), some), // zero redeemed in the control
            (some, SampleMoments::bernoulli(1000, 0)), // zero redeemed in the treatment
            (SampleMoments::bernoulli(1000, 1000), some), // all redeemed
            (SampleMoments::bernoulli(0, 0), some),    // zero issued
            (SampleMoments::bernoulli(1, 1), some),    // one voucher
            (SampleMoments::new(10, f64::NAN, 3.0), some), // garbage sums
            (SampleMoments::new(10, f64::INFINITY, 1e300), some),
        ] {
            for difference in [Difference::Absolute, Difference::Relative] {
                for method in [Method::Fixed, SEQ] {
                    assert_eq!(compare(&c, &t, difference, 0.05, method), None, "{c:?} {t:?}");
                }
            }
        }
        // Bad parameters.
        for alpha in [0.0, 1.0, -0.1, f64::NAN] {
            assert_eq!(compare(&some, &some, Difference::Absolute, alpha, SEQ), None);
        }
        for tuning in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                compare(&some, &some, Difference::Absolute, 0.05, Method::Sequential { tuning }),
                None
            );
        }
        // A relative lift over a control mean of exactly 0 (but with variance).
        let zero_mean = SampleMoments::new(4, 0.0, 8.0);
        assert_eq!(compare(&zero_mean, &some, Difference::Relative, 0.05, SEQ), None);
        assert!(compare(&zero_mean, &some, Difference::Absolute, 0.05, SEQ).is_some());
        // The ratio metric with nothing redeemed.
        let none_redeemed = VariantSums { issued: 100, ..VariantSums::default() };
        assert_eq!(none_redeemed.aov().mean(), 0.0);
        assert_eq!(none_redeemed.aov().variance(), 0.0);
        assert_eq!(compare(&none_redeemed.aov(), &ARMS[0].aov(), Difference::Absolute, 0.05, SEQ), None);
    }

    #[test]
    fn moments_basics() {
        assert_eq!(Method::default(), Method::Sequential { tuning: 5000.0 });
        let b = SampleMoments::bernoulli(10, 15);
        assert_eq!((b.sum, b.sum_sq), (10.0, 10.0));
        assert_eq!(b.variance(), 0.0);
        let s = SampleMoments::new(4, 10.0, 30.0); // 1, 2, 3, 4
        assert!(close(s.mean(), 2.5, 1e-15) && close(s.variance(), 5.0 / 3.0, 1e-15));
        assert_eq!(SampleMoments::new(1, 3.0, 9.0).variance(), 0.0);
        assert_eq!(SampleMoments::new(0, 0.0, 0.0).mean(), 0.0);
        // A constant metric: rounding may not push the variance below 0.
        assert!(SampleMoments::new(3, 0.3, 0.03).variance() >= 0.0);
        // Margin is clamped into [0, 1]; NaN counts as 0.
        assert_eq!(ARMS[0].net(2.0), ARMS[0].net(1.0));
        assert_eq!(ARMS[0].net(f64::NAN), ARMS[0].net(0.0));
        assert!(close(ARMS[0].net(0.0).mean(), -ARMS[0].discount().mean(), 1e-15));
    }

    #[test]
    fn sequential_is_wider_than_fixed_and_p_is_the_exclusion_level() {
        let (c, t) = (SampleMoments::bernoulli(20000, 1600), SampleMoments::bernoulli(20000, 1760));
        let f = compare(&c, &t, Difference::Absolute, 0.05, Method::Fixed).unwrap();
        let s = compare(&c, &t, Difference::Absolute, 0.05, SEQ).unwrap();
        assert!(s.ci.0 < f.ci.0 && s.ci.1 > f.ci.1 && s.p_value > f.p_value);
        // With ρ held at its alpha = 0.05 value, the sequence at level p_value just touches 0.
        let rho2 = sequential_rho_sq(0.05, DEFAULT_TUNING).unwrap();
        let n = 40000.0;
        let hw = sequential_halfwidth(s.std_error * s.std_error, n, s.p_value, rho2);
        assert!(close(hw, s.estimate.abs(), 1e-12), "{hw} vs {}", s.estimate);
    }

    proptest! {
        #[test]
        fn comparisons_are_finite_and_consistent(nc in 0u64..3_000_000, fc in 0.0f64..=1.0,
                                                 nt in 0u64..3_000_000, ft in 0.0f64..=1.0,
                                                 alpha in 0.001f64..0.5, tuning in 1.0f64..1e6,
                                                 relative in any::<bool>(), sequential in any::<bool>()) {
            let c = SampleMoments::bernoulli(nc, (nc as f64 * fc) as u64);
            let t = SampleMoments::bernoulli(nt, (nt as f64 * ft) as u64);
            let difference = if relative { Difference::Relative } else { Difference::Absolute };
            let method = if sequential { Method::Sequential { tuning } } else { Method::Fixed };
            if let Some(r) = compare(&c, &t, difference, alpha, method) {
                prop_assert!(r.estimate.is_finite() && r.std_error > 0.0 && r.std_error.is_finite());
                prop_assert!((0.0..=1.0).contains(&r.p_value));
                prop_assert!(r.ci.0 <= r.estimate && r.estimate <= r.ci.1);
                // p < alpha exactly when the interval excludes 0 (away from the boundary).
                let excludes = r.ci.0 > 0.0 || r.ci.1 < 0.0;
                let margin = (r.ci.0.abs().min(r.ci.1.abs())) / r.std_error;
                if margin > 1e-9 {
                    prop_assert_eq!(r.p_value < alpha, excludes, "{:?}", r);
                }
            }
        }

        #[test]
        fn sequential_p_is_monotone_and_a_probability(z1 in 0.0f64..50.0, dz in 0.0f64..10.0, n in 2.0f64..1e12) {
            let rho2 = sequential_rho_sq(0.05, DEFAULT_TUNING).unwrap();
            let (p1, p2) = (sequential_p_value(z1 * z1, n, rho2), sequential_p_value((z1 + dz).powi(2), n, rho2));
            prop_assert!((0.0..=1.0).contains(&p1) && (0.0..=1.0).contains(&p2));
            prop_assert!(p2 <= p1);
        }

        #[test]
        fn money_moments_never_panic(n in 0u64..10_000_000, s in proptest::num::f64::ANY, ss in proptest::num::f64::ANY,
                                     m in proptest::num::f64::ANY) {
            let x = SampleMoments::new(n, s, ss);
            prop_assert!(x.mean().is_finite() && x.variance().is_finite() && x.variance() >= 0.0);
            let v = VariantSums { issued: n, redeemed: n / 2, sum_r: s, sum_d: ss, sum_rr: s, sum_dd: ss, sum_rd: m };
            for y in [v.net(m), v.order_value(), v.discount()] {
                prop_assert!(y.mean().is_finite() && y.variance().is_finite());
            }
            prop_assert!(v.aov().mean().is_finite() && v.aov().variance().is_finite());
            let _ = compare(&v.aov(), &v.aov(), Difference::Relative, 0.05, SEQ);
        }
    }
}
