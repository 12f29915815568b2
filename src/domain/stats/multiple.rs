//! Multiple comparisons: with several treatment arms each compared with the control, the chance
//! that at least one of them looks like a winner by luck grows with the number of comparisons.

/// Holm–Bonferroni step-down adjusted p-values (Holm 1979; statsmodels
/// `multipletests(p, method="holm")[1]`), in the order of `p`.
///
/// With the `m` p-values sorted ascending, `p_(1) ≤ … ≤ p_(m)`, the adjusted value of the `i`-th
/// is `min(1, max_{j ≤ i} (m − j + 1) · p_(j))`: monotone in the raw p-value, never below it, and
/// capped at 1. Rejecting every hypothesis whose adjusted p-value is below `alpha` controls the
/// family-wise error rate at `alpha` under any dependence between the tests (and, applied to
/// always-valid p-values at every look, over all looks as well). A NaN p-value counts as 1 and
/// the others are clamped into `[0, 1]`. One p-value is returned unchanged; none gives an empty
/// vector.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean: Vec<f64> = p.iter().map(|&x| if x.is_nan() { 1.0 } else { x.clamp(0.0, 1.0) }).collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean[a].total_cmp(&clean[b]));
    let mut adjusted = vec![1.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * clean[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // python3 -c "from statsmodels.stats.multitest import multipletests as m; \
    //   [print(m(p, method='holm')[1].tolist()) for p in [[0.01, 0.04, 0.03, 0.005], [0.02, 0.02, 0.5], \
    //   [0.9, 0.8], [0.03], [0.001, 0.2, 0.004, 0.03, 0.0005, 0.6, 0.012, 0.04, 0.009, 0.5, 0.07, 0.0031, \
    //   0.25, 0.002, 0.8]]]"   # statsmodels 0.15.0
    #[test]
    fn matches_statsmodels() {
        let cases: [(&[f64], &[f64]); 5] = [
            (&[0.01, 0.04, 0.03, 0.005], &[0.03, 0.06, 0.06, 0.02]),
            (&[0.02, 0.02, 0.5], &[0.06, 0.06, 0.5]),
            (&[0.9, 0.8], &[1.0, 1.0]),
            (&[0.03], &[0.03]),
            // 16 variants: 15 comparisons with the control.
            (
                &[
                    0.001, 0.2, 0.004, 0.03, 0.0005, 0.6, 0.012, 0.04, 0.009, 0.5, 0.07, 0.0031, 0.25, 0.002,
                    0.8,
                ],
                &[
                    0.014,
                    1.0,
                    0.044,
                    0.24,
                    0.0075,
                    1.0,
                    0.108,
                    0.28,
                    0.09,
                    1.0,
                    0.42000000000000004,
                    0.0372,
                    1.0,
                    0.026000000000000002,
                    1.0,
                ],
            ),
        ];
        for (p, want) in cases {
            let got = holm(p);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-15, "{p:?}: {got:?} != {want:?}");
            }
        }
    }

    #[test]
    fn edge_cases() {
        assert!(holm(&[]).is_empty());
        assert_eq!(holm(&[f64::NAN, 0.01]), vec![1.0, 0.02]);
        assert_eq!(holm(&[-1.0, 2.0]), vec![0.0, 1.0]);
        assert_eq!(holm(&[f64::INFINITY, 0.0]), vec![1.0, 0.0]);
    }

    proptest! {
        #[test]
        fn monotone_capped_and_above_the_raw(p in proptest::collection::vec(0.0f64..=1.0, 0..20)) {
            let adj = holm(&p);
            prop_assert_eq!(adj.len(), p.len());
            for i in 0..p.len() {
                prop_assert!(adj[i] >= p[i] && adj[i] <= 1.0);
                prop_assert!(adj[i] <= (p[i] * p.len() as f64).min(1.0) + 1e-15);
                for j in 0..p.len() {
                    if p[i] <= p[j] {
                        prop_assert!(adj[i] <= adj[j]);
                    }
                }
            }
        }
    }
}
