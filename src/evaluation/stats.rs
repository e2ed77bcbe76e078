//! The statistics the similarity evidence reports: an exact two-sided sign test for paired
//! hit/miss outcomes, and Wilson score intervals for rates.

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Exact two-sided sign test of `wins` against `losses` (the pairs where exactly one of two
/// rules is right; ties dropped): under the null each discordant pair is a win with probability
/// 1/2, and `p = min(1, 2 P(X <= min(wins, losses)))` with `X ~ Binomial(wins + losses, 1/2)`.
/// 1 when there are no discordant pairs.
pub fn sign_test(wins: usize, losses: usize) -> f64 {
    let n = wins + losses;
    let k = wins.min(losses);
    // P(X = i) = C(n, i) / 2^n, summed in log space so large n does not overflow.
    let ln_choose = |i: usize| ln_factorial(n) - ln_factorial(i) - ln_factorial(n - i);
    let tail: f64 = (0..=k).map(|i| (ln_choose(i) - n as f64 * std::f64::consts::LN_2).exp()).sum();
    (2.0 * tail).min(1.0)
}

fn ln_factorial(n: usize) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

/// Wilson score 95 % interval of a rate of `hits` in `n` (Wilson, JASA 1927): centre
/// `(p + z^2/2n) / (1 + z^2/n)`, half-width `z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)`.
/// `(0, 1)` for `n = 0`.
pub fn wilson(hits: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (nf, p) = (n as f64, hits as f64 / n as f64);
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denominator;
    let half = Z95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_test_matches_binomial_tables() {
        // 20 wins, 13 losses: scipy.stats.binomtest(13, 33).pvalue = 0.29621...
        assert!((sign_test(20, 13) - 0.296_206).abs() < 1e-5, "{}", sign_test(20, 13));
        // 12 / 8: 0.5034...; 15 / 9: 0.3075...
        assert!((sign_test(12, 8) - 0.503_445).abs() < 1e-5);
        assert!((sign_test(9, 15) - 0.307_456).abs() < 1e-5);
        assert_eq!(sign_test(0, 0), 1.0);
        assert_eq!(sign_test(3, 3), 1.0);
        assert!(sign_test(60, 20) < 1e-4);
    }

    #[test]
    fn wilson_intervals_match_the_formula() {
        // statsmodels proportion_confint(30, 80, method="wilson") = (0.2769, 0.4845).
        let (lo, hi) = wilson(30, 80);
        assert!((lo - 0.276_9).abs() < 1e-3 && (hi - 0.484_5).abs() < 1e-3, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson(10, 10);
        assert!((hi - 1.0).abs() < 1e-12 && lo > 0.6, "{lo} {hi}");
    }
}
