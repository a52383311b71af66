//! Significance tests for comparing two versions: a two-proportion z-test
//! for rates (errors, thumbs up) and Welch's t-test for means (score,
//! latency). Two-sided p-values; "significant" means p < 0.05.

use serde::Serialize;

pub const ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
    pub significant: bool,
}

fn result(statistic: f64, p_value: f64) -> TestResult {
    TestResult {
        statistic,
        p_value,
        significant: p_value < ALPHA,
    }
}

/// Pooled two-proportion z-test of `x_a / n_a` against `x_b / n_b`.
pub fn two_proportion_z_test(x_a: u64, n_a: u64, x_b: u64, n_b: u64) -> Option<TestResult> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (n_a, n_b) = (n_a as f64, n_b as f64);
    let (p_a, p_b) = (x_a as f64 / n_a, x_b as f64 / n_b);
    let pooled = (x_a + x_b) as f64 / (n_a + n_b);
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (p_a - p_b) / se;
    Some(result(z, 2.0 * (1.0 - normal_cdf(z.abs()))))
}

/// Welch's t-test of two means with sample variances.
pub fn welch_t_test(mean_a: f64, var_a: f64, n_a: u64, mean_b: f64, var_b: f64, n_b: u64) -> Option<TestResult> {
    if n_a < 2 || n_b < 2 {
        return None;
    }
    let (va, vb) = (var_a / n_a as f64, var_b / n_b as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return None;
    }
    let t = (mean_a - mean_b) / se2.sqrt();
    let df = se2 * se2 / (va * va / (n_a as f64 - 1.0) + vb * vb / (n_b as f64 - 1.0));
    // Two-sided p from Student's t: I_{df/(df+t²)}(df/2, 1/2).
    let p = incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    Some(result(t, p.clamp(0.0, 1.0)))
}

/// Mean and sample variance from a count, a sum and a sum of squares.
pub fn moments(n: u64, sum: f64, sum_sq: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = sum / nf;
    let var = if n > 1 {
        ((sum_sq - nf * mean * mean) / (nf - 1.0)).max(0.0)
    } else {
        0.0
    };
    Some((mean, var))
}

fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// erf with |error| < 1.2e-7 (Numerical Recipes' erfc approximation).
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - r
    } else {
        r - 1.0
    }
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9).
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
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Continued fraction for the incomplete beta (Numerical Recipes betacf).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_test_matches_a_hand_computed_case() {
        // 45/100 vs 60/100: pooled 0.525, se 0.07062, z = -2.124, p = 0.0337.
        let r = two_proportion_z_test(45, 100, 60, 100).unwrap();
        assert!((r.statistic + 2.124).abs() < 1e-3, "{r:?}");
        assert!((r.p_value - 0.0337).abs() < 1e-3, "{r:?}");
        assert!(r.significant);
        assert!(!two_proportion_z_test(50, 100, 52, 100).unwrap().significant);
        assert!(two_proportion_z_test(0, 0, 1, 10).is_none());
    }

    #[test]
    fn t_distribution_matches_known_quantiles() {
        // t = 2.228 with 10 degrees of freedom is the two-sided 5 % point.
        let p = incomplete_beta(5.0, 0.5, 10.0 / (10.0 + 2.228 * 2.228));
        assert!((p - 0.05).abs() < 1e-3, "{p}");
        // t = 1.96 with a huge df approaches the normal 5 % point.
        let p = incomplete_beta(5e5, 0.5, 1e6 / (1e6 + 1.96 * 1.96));
        assert!((p - 0.05).abs() < 1e-3, "{p}");
    }

    #[test]
    fn welch_separates_clear_differences_and_not_noise() {
        let clear = welch_t_test(0.80, 0.01, 200, 0.70, 0.012, 180).unwrap();
        assert!(clear.significant && clear.p_value < 1e-6, "{clear:?}");
        let noise = welch_t_test(0.80, 0.04, 30, 0.79, 0.05, 30).unwrap();
        assert!(!noise.significant, "{noise:?}");
        assert!(welch_t_test(1.0, 0.0, 1, 2.0, 0.0, 5).is_none());
    }

    #[test]
    fn moments_from_sums() {
        let (mean, var) = moments(4, 10.0, 30.0).unwrap(); // 1,2,3,4
        assert_eq!(mean, 2.5);
        assert!((var - 1.666_666_666).abs() < 1e-6);
        assert!(moments(0, 0.0, 0.0).is_none());
    }
}
