//! Bayesian expected loss: what choosing a variant costs, on average, if another one is in fact
//! better. The decision rule "ship the variant whose expected loss is below what we are willing to
//! lose" is GrowthBook's "risk" (gbstats `EffectBayesianABTest.get_risk`).

use super::compare::Moments;
use super::normal;

/// Gauss–Legendre nodes and weights on `[−1, 1]`, 20 points (numpy `leggauss(20)`); only the
/// positive half, the rule is symmetric.
const GL_X: [f64; 10] = [
    0.076_526_521_133_497_33,
    0.227_785_851_141_645_08,
    0.373_706_088_715_419_55,
    0.510_867_001_950_827_1,
    0.636_053_680_726_515,
    0.746_331_906_460_150_8,
    0.839_116_971_822_218_8,
    0.912_234_428_251_326,
    0.963_971_927_277_913_8,
    0.993_128_599_185_094_9,
];
const GL_W: [f64; 10] = [
    0.152_753_387_130_725_85,
    0.149_172_986_472_603_74,
    0.142_096_109_318_382_05,
    0.131_688_638_449_176_63,
    0.118_194_531_961_518_42,
    0.101_930_119_817_240_44,
    0.083_276_741_576_704_75,
    0.062_672_048_334_109_06,
    0.040_601_429_800_386_94,
    0.017_614_007_139_152_118,
];

/// Standardized offsets (in posterior standard deviations) where the integrand is split.
const BREAKS: [f64; 21] = [
    -12.0, -9.0, -7.0, -5.5, -4.5, -3.5, -2.5, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.5, 3.5, 4.5, 5.5, 7.0,
    9.0, 12.0,
];

/// Expected loss of choosing each arm, in the metric's unit per issued voucher (e.g. EUR of net
/// contribution per issued voucher): `loss_i = E[max(0, max_{j≠i} μ_j − μ_i)]`, in the order of
/// `arms`.
///
/// Each arm's true mean gets the normal approximation of its posterior under a flat prior,
/// `μ_i ~ N(mean_i, variance_i / n_i)`, independently (gbstats' improper-prior
/// `EffectBayesianABTest`).
/// * Two arms: the closed form `δΦ(δ/s) + sφ(δ/s)` with `δ = mean_other − mean_this` and
///   `s² = v_1/n_1 + v_2/n_2`, which equals gbstats' `get_risk` (`risk[0]` is the control's loss,
///   `risk[1]` the treatment's).
/// * More arms: with `M = max_{j≠i} μ_j`, `(M − μ_i)⁺ = ∫ 1{μ_i < y < M} dy`, so by independence
///   `loss_i = ∫ Φ((y − m_i)/s_i) · (1 − Π_{j≠i} Φ((y − m_j)/s_j)) dy`, a one-dimensional integral
///   computed deterministically by 20-point Gauss–Legendre on pieces split at every arm's
///   `m_j + t·s_j` for `t` in ±{0, 0.5, 1, 1.5, 2.5, …, 12}; accurate to ~1e-12 relative to the
///   largest posterior standard deviation (the tests check it against the closed form and a
///   Monte-Carlo run).
///
/// Zero or one arm: nothing to lose, every loss is 0. `None` ("no information") when any arm has
/// fewer than 2 units, a per-unit variance of 0 (gbstats returns its uninformative default there),
/// or a non-finite mean.
pub fn expected_loss<M: Moments>(arms: &[M]) -> Option<Vec<f64>> {
    if arms.len() < 2 {
        return Some(vec![0.0; arms.len()]);
    }
    let mut posts = Vec::with_capacity(arms.len());
    for arm in arms {
        let (n, mean, var) = (arm.n(), arm.mean(), arm.variance());
        let sd = (var / n as f64).sqrt();
        let usable = n >= 2 && var > 0.0 && mean.is_finite() && sd.is_finite() && sd > 0.0;
        if !usable {
            return None;
        }
        posts.push((mean, sd));
    }
    let losses: Vec<f64> = if let [(m1, s1), (m2, s2)] = posts[..] {
        let s = s1.hypot(s2);
        vec![normal_positive_part(m2 - m1, s), normal_positive_part(m1 - m2, s)]
    } else {
        (0..posts.len()).map(|i| loss_integral(&posts, i)).collect()
    };
    losses.iter().all(|l| l.is_finite()).then_some(losses)
}

/// `E[max(0, X)]` for `X ~ N(mu, s²)`: `μΦ(μ/s) + sφ(μ/s)` (clamped at 0 against rounding in
/// the far left tail, where it is below `s·φ(μ/s)/(μ/s)²` anyway).
fn normal_positive_part(mu: f64, s: f64) -> f64 {
    let z = mu / s;
    (mu * normal::cdf(z) + s * normal::pdf(z)).max(0.0)
}

/// `∫ Φ((y − m_i)/s_i) · (1 − Π_{j≠i} Φ((y − m_j)/s_j)) dy` over the range where the integrand
/// is not negligible.
fn loss_integral(posts: &[(f64, f64)], i: usize) -> f64 {
    let (m_i, s_i) = posts[i];
    // Below m_i − 12 s_i, Φ_i < 2e-33; above every other arm's m_j + 12 s_j, 1 − Π Φ_j < 2e-32.
    let lo = m_i - 12.0 * s_i;
    let hi = posts
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(_, &(m, s))| m + 12.0 * s)
        .fold(f64::NEG_INFINITY, f64::max);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return 0.0;
    }
    let mut cuts: Vec<f64> = vec![lo, hi];
    for &(m, s) in posts {
        cuts.extend(BREAKS.iter().map(|t| m + t * s).filter(|&y| y > lo && y < hi));
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    // 1 − Π_j Φ_j = −expm1(Σ_j ln(1 − q_j)) with q_j = 1 − Φ_j, accurate also when every
    // Φ_j is close to 1.
    let integrand = |y: f64| {
        let ln_below: f64 = posts
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &(m, s))| (-normal::sf((y - m) / s)).ln_1p())
            .sum();
        normal::cdf((y - m_i) / s_i) * -ln_below.exp_m1()
    };
    cuts.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
            h * GL_X
                .iter()
                .zip(GL_W)
                .map(|(&x, w)| w * (integrand(c - h * x) + integrand(c + h * x)))
                .sum::<f64>()
        })
        .sum::<f64>()
        .max(0.0)
}

#[cfg(test)]
mod tests {
    use super::super::compare::SampleMoments;
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    fn arm(n: u64, sum: f64, sum_sq: f64) -> SampleMoments {
        SampleMoments::new(n, sum, sum_sq)
    }

    // Two arms, reference gbstats (growthbook/growthbook@8f1db445 packages/stats):
    //   import gbstats.bayesian.tests as bt, gbstats.models.statistics as st
    //   s = lambda n, x, xx: st.SampleMeanStatistic(n=n, sum=x, sum_squares=xx)
    //   bt.EffectBayesianABTest([(s(*a), s(*b))], bt.EffectBayesianConfig(difference_type="absolute")).compute_result().risk
    // risk = [control's loss, treatment's loss].
    #[test]
    fn two_arms_match_gbstats_risk() {
        let cases = [
            ((10000, 800.0, 800.0), (10000, 900.0, 900.0), [0.010007069978771136, 7.069978771140407e-06]),
            (
                (4000, 3788.296, 53431.5),
                (4100, 4409.692, 77590.3),
                [0.1310589059824848, 0.0025982718361433387],
            ),
            ((2000, 160.0, 160.0), (2000, 150.0, 150.0), [0.0014469713153074893, 0.006446971315307494]),
        ];
        for (a, b, want) in cases {
            let arms = [arm(a.0, a.1, a.2), arm(b.0, b.1, b.2)];
            let got = expected_loss(&arms).unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!(close(*g, w, 1e-9), "{a:?} {b:?}: {got:?} != {want:?}");
            }
            // The integral used for more arms agrees with the closed form.
            let posts: Vec<(f64, f64)> =
                arms.iter().map(|x| (x.mean(), (x.variance() / x.n as f64).sqrt())).collect();
            for (i, w) in want.iter().enumerate() {
                let q = loss_integral(&posts, i);
                assert!(close(q, *w, 1e-9), "integral {q} != {w}");
            }
        }
    }

    // k arms: scipy.integrate.quad of the same integral (limit=500, epsabs=1e-16, epsrel=1e-12),
    // cross-checked by a 20-million-draw numpy Monte Carlo (default_rng(7)) of
    // E[max(0, max_{j≠i} μ_j − μ_i)], which agreed within 1.5 of its standard errors everywhere:
    //   post = lambda n, s, ss: (s / n, np.sqrt((ss - s * s / n) / (n - 1) / n))
    //   f = lambda y: norm.cdf(y, mi, si) * (1 - np.prod([norm.cdf(y, m, s) for m, s in others]))
    //   integrate.quad(f, mi - 12 * si, max(m + 12 * s for m, s in others), points=..., ...)
    #[test]
    fn k_arms_match_quadrature_and_monte_carlo() {
        type Arm = (u64, f64, f64);
        let cases: [(&[Arm], &[f64]); 3] = [
            (
                &[(10000, 800.0, 800.0), (10000, 900.0, 900.0), (10000, 850.0, 850.0)],
                &[0.010204913450128028, 0.00020491345012803324, 0.005204913450128026],
            ),
            (
                &[
                    (2000, 160.0, 160.0),
                    (2100, 150.0, 150.0),
                    (1900, 170.0, 170.0),
                    (2000, 161.0, 161.0),
                    (2050, 140.0, 140.0),
                ],
                &[
                    0.01067462581068612,
                    0.019246054382114703,
                    0.0012009416001598108,
                    0.01017462581068612,
                    0.022381942883856854,
                ],
            ),
            (
                &[(4000, 3788.296, 53431.5), (4100, 4409.692, 77590.3), (3900, 3500.0, 51000.0)],
                &[0.13144225497174117, 0.0029816208253997125, 0.18108035753584376],
            ),
        ];
        for (arms, want) in cases {
            let arms: Vec<SampleMoments> = arms.iter().map(|&(n, s, ss)| arm(n, s, ss)).collect();
            let got = expected_loss(&arms).unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!(close(*g, *w, 1e-9), "{got:?} != {want:?}");
            }
            // loss_i − loss_j = mean_j − mean_i exactly (E[max] cancels).
            let d = (got[0] - got[1]) - (arms[1].mean() - arms[0].mean());
            assert!(d.abs() < 1e-12, "{d}");
        }
    }

    #[test]
    fn degenerate_inputs() {
        let a = SampleMoments::bernoulli(1000, 80);
        assert_eq!(expected_loss::<SampleMoments>(&[]), Some(vec![]));
        assert_eq!(expected_loss(&[a]), Some(vec![0.0]));
        for bad in [
            SampleMoments::bernoulli(0, 0),
            SampleMoments::bernoulli(1, 1),
            SampleMoments::bernoulli(1000, 0),
        ] {
            assert_eq!(expected_loss(&[a, bad]), None);
            assert_eq!(expected_loss(&[a, a, bad]), None);
        }
        // Identical arms: each loses E[max(0, X − Y)] = s/√π for the difference of two N(m, s²/2).
        let l = expected_loss(&[a, a]).unwrap();
        let s = (2.0 * a.variance() / 1000.0).sqrt();
        assert!(close(l[0], s * 0.3989422804014327, 1e-12) && l[0] == l[1]);
        // One arm far ahead: the others lose the gap, it loses (almost) nothing.
        let far = expected_loss(&[a, SampleMoments::bernoulli(1000, 500), a]).unwrap();
        assert!(far[1] >= 0.0 && far[1] < 1e-30 && close(far[0], 0.42, 1e-9), "{far:?}");
    }

    proptest! {
        #[test]
        fn losses_are_finite_and_consistent(arms in proptest::collection::vec((2u64..1_000_000, 0.001f64..0.999), 2..8)) {
            let arms: Vec<SampleMoments> =
                arms.iter().map(|&(n, p)| SampleMoments::bernoulli(n, ((n as f64 * p) as u64).max(1).min(n - 1))).collect();
            let got = expected_loss(&arms).unwrap();
            let best = arms.iter().map(|a| a.mean()).fold(f64::NEG_INFINITY, f64::max);
            for (l, a) in got.iter().zip(&arms) {
                prop_assert!(l.is_finite() && *l >= 0.0);
                // Choosing an arm loses at least its gap to the best observed mean.
                prop_assert!(*l >= best - a.mean() - 1e-12, "{} < {}", l, best - a.mean());
            }
        }
    }
}
