//! Known-answer tests for the rank, permutation, bootstrap and effect-size routines against
//! scipy/numpy values in `fixtures/resampling.json` (regenerate with
//! `fixtures/make_resampling.py`), plus determinism and coverage checks of the seeded ones.

use cavern_stats::{
    BootstrapMethod, MannWhitneyMethod, bca_interval, bootstrap_ci, bootstrap_replicates, cohens_d,
    hedges_g, jackknife, mann_whitney_u, mean, percentile_interval, permutation_test, sample_std,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// Absolute tolerance for statistics and interval bounds.
const ABS_TOL: f64 = 1e-9;
/// Relative tolerance for p-values.
const REL_TOL: f64 = 1e-9;
/// Absolute tolerance for p-values too small for a relative comparison.
const TINY_P: f64 = 1e-12;

#[derive(Deserialize)]
struct Resampling {
    mann_whitney: Vec<MannWhitneyCase>,
    permutation: Vec<PermutationCase>,
    permutation_monte_carlo: Vec<PermutationCase>,
    bootstrap: Vec<BootstrapCase>,
    effect_size: Vec<EffectCase>,
}

#[derive(Deserialize)]
struct Expected {
    statistic: f64,
    p_value: f64,
}

#[derive(Deserialize)]
struct MannWhitneyCase {
    name: String,
    a: Vec<f64>,
    b: Vec<f64>,
    asymptotic: Expected,
    asymptotic_p_without_tie_correction: f64,
    exact: Option<Expected>,
}

#[derive(Deserialize)]
struct PermutationCase {
    name: String,
    a: Vec<f64>,
    b: Vec<f64>,
    statistic: f64,
    p_value: f64,
    n_permutations: usize,
}

#[derive(Deserialize)]
struct BootstrapCase {
    name: String,
    sample: Vec<f64>,
    statistic: String,
    theta_hat: f64,
    replicates: Vec<f64>,
    jackknife: Vec<f64>,
    intervals: Vec<Intervals>,
}

#[derive(Deserialize)]
struct Intervals {
    level: f64,
    percentile: [f64; 2],
    bca: [f64; 2],
}

#[derive(Deserialize)]
struct EffectCase {
    name: String,
    a: Vec<f64>,
    b: Vec<f64>,
    cohens_d: f64,
    hedges_g: f64,
}

fn resampling() -> Resampling {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/resampling.json"
    );
    let text = std::fs::read_to_string(path).expect("read resampling.json");
    serde_json::from_str(&text).expect("parse resampling.json")
}

fn assert_p_close(actual: f64, expected: f64, what: &str) {
    let scale = actual.abs().max(expected.abs());
    assert!(
        (actual - expected).abs() <= (REL_TOL * scale).max(TINY_P),
        "{what}: p-value {actual:e} != expected {expected:e}"
    );
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= ABS_TOL,
        "{what}: {actual} != expected {expected}"
    );
}

fn statistic(name: &str) -> fn(&[f64]) -> f64 {
    match name {
        "mean" => mean,
        "median" => median,
        "std" => sample_std,
        other => panic!("unknown statistic {other:?} in resampling.json"),
    }
}

fn median(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[test]
fn mann_whitney_matches_scipy() {
    for case in resampling().mann_whitney {
        let name = &case.name;
        let asym = mann_whitney_u(&case.a, &case.b, MannWhitneyMethod::Asymptotic).unwrap();
        assert_eq!(asym.method, MannWhitneyMethod::Asymptotic);
        assert_close(asym.statistic, case.asymptotic.statistic, name);
        assert_p_close(
            asym.p_value,
            case.asymptotic.p_value,
            &format!("{name} asymptotic"),
        );
        match &case.exact {
            Some(expected) => {
                let exact = mann_whitney_u(&case.a, &case.b, MannWhitneyMethod::Exact).unwrap();
                assert_eq!(exact.method, MannWhitneyMethod::Exact);
                assert_close(exact.statistic, expected.statistic, name);
                assert_p_close(exact.p_value, expected.p_value, &format!("{name} exact"));
            }
            None => assert!(
                mann_whitney_u(&case.a, &case.b, MannWhitneyMethod::Exact).is_err(),
                "{name}: exact p-value with ties"
            ),
        }
    }
}

#[test]
fn mann_whitney_fixture_exercises_the_tie_correction() {
    // Guards the fixture itself: some case's p-value must move (far beyond the tolerance)
    // without the tie correction, or `mann_whitney_matches_scipy` could not catch its loss.
    let sensitive = resampling()
        .mann_whitney
        .iter()
        .filter(|c| {
            let (with, without) = (c.asymptotic.p_value, c.asymptotic_p_without_tie_correction);
            (with - without).abs() > 1e3 * REL_TOL * with.max(without)
        })
        .count();
    assert!(sensitive >= 2, "only {sensitive} tie-sensitive cases");
}

#[test]
fn exact_permutation_test_matches_scipy() {
    for case in resampling().permutation {
        let name = &case.name;
        let r = permutation_test(&case.a, &case.b, 9999, 0).unwrap();
        assert!(r.exact, "{name}: not enumerated");
        assert_eq!(r.n_permutations, case.n_permutations, "{name}");
        assert_close(r.statistic, case.statistic, name);
        assert_p_close(r.p_value, case.p_value, name);
        // Exact enumeration ignores the seed.
        assert_eq!(permutation_test(&case.a, &case.b, 9999, 12345).unwrap(), r);
    }
}

#[test]
fn monte_carlo_permutation_test_is_seeded_and_close_to_exact() {
    for case in resampling().permutation_monte_carlo {
        let name = &case.name;
        let n = 20_000;
        let r = permutation_test(&case.a, &case.b, n, 7).unwrap();
        assert!(!r.exact && r.n_permutations == n, "{name}");
        assert_close(r.statistic, case.statistic, name);
        // Same seed, same answer; another seed gives another estimate.
        assert_eq!(permutation_test(&case.a, &case.b, n, 7).unwrap(), r);
        assert_ne!(
            permutation_test(&case.a, &case.b, n, 8).unwrap().p_value,
            r.p_value
        );
        // The estimate of the doubled one-sided proportion has sd <= 2 sqrt(p/2 (1 - p/2) / n).
        let p = case.p_value;
        let sd = 2.0 * (p / 2.0 * (1.0 - p / 2.0) / n as f64).sqrt();
        assert!(
            (r.p_value - p).abs() < 4.0 * sd,
            "{name}: Monte Carlo p {} vs exact {p}",
            r.p_value
        );
        // With enough resamples the test switches to exact enumeration.
        let exact = permutation_test(&case.a, &case.b, case.n_permutations, 7).unwrap();
        assert!(exact.exact);
        assert_p_close(exact.p_value, p, name);
    }
}

#[test]
fn bootstrap_intervals_match_scipy_on_fixed_replicates() {
    for case in resampling().bootstrap {
        let name = &case.name;
        let stat = statistic(&case.statistic);
        assert_close(stat(&case.sample), case.theta_hat, name);
        let jack = jackknife(&case.sample, stat).unwrap();
        assert_eq!(jack.len(), case.jackknife.len());
        for (i, (&x, &y)) in jack.iter().zip(&case.jackknife).enumerate() {
            assert_close(x, y, &format!("{name} jackknife[{i}]"));
        }
        for iv in &case.intervals {
            let what = format!("{name} level {}", iv.level);
            let p = percentile_interval(&case.replicates, iv.level).unwrap();
            assert_close(p.low, iv.percentile[0], &format!("{what} percentile low"));
            assert_close(p.high, iv.percentile[1], &format!("{what} percentile high"));
            let b =
                bca_interval(&case.replicates, &case.jackknife, case.theta_hat, iv.level).unwrap();
            assert_close(b.low, iv.bca[0], &format!("{what} BCa low"));
            assert_close(b.high, iv.bca[1], &format!("{what} BCa high"));
        }
    }
}

#[test]
fn bootstrap_is_deterministic_for_a_seed() {
    let case = &resampling().bootstrap[1];
    let run =
        |seed| bootstrap_ci(&case.sample, mean, BootstrapMethod::Bca, 0.95, 500, seed).unwrap();
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
    let reps = bootstrap_replicates(&case.sample, mean, 500, 3).unwrap();
    assert_eq!(
        reps,
        bootstrap_replicates(&case.sample, mean, 500, 3).unwrap()
    );
    let r = run(3);
    assert_eq!(r.estimate, mean(&case.sample));
    assert_eq!(r.standard_error, sample_std(&reps));
    let jack = jackknife(&case.sample, mean).unwrap();
    assert_eq!(
        r.interval,
        bca_interval(&reps, &jack, r.estimate, 0.95).unwrap()
    );
    let p = bootstrap_ci(
        &case.sample,
        mean,
        BootstrapMethod::Percentile,
        0.95,
        500,
        3,
    )
    .unwrap();
    assert_eq!(p.interval, percentile_interval(&reps, 0.95).unwrap());
}

/// A normal sample of size `n` (Box–Muller on a seeded ChaCha8 stream).
fn normal_sample(n: usize, mu: f64, sigma: f64, seed: u64) -> Vec<f64> {
    use rand::RngExt;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
            mu + sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

#[test]
fn bootstrap_interval_of_a_large_normal_sample_covers_the_mean() {
    let (mu, sigma, n) = (3.0, 2.0, 2000);
    let x = normal_sample(n, mu, sigma, 99);
    let half_width = 1.96 * sigma / (n as f64).sqrt();
    for method in [BootstrapMethod::Percentile, BootstrapMethod::Bca] {
        let r = bootstrap_ci(&x, mean, method, 0.95, 2000, 5).unwrap();
        let ci = r.interval;
        assert!(
            ci.low < mu && mu < ci.high,
            "{method:?}: {ci:?} misses {mu}"
        );
        // Close to the textbook interval mean ± 1.96 sigma / sqrt(n).
        let width = ci.high - ci.low;
        assert!(
            (width / (2.0 * half_width) - 1.0).abs() < 0.15,
            "{method:?}: width {width}"
        );
        assert!((r.standard_error / (sigma / (n as f64).sqrt()) - 1.0).abs() < 0.15);
    }
}

#[test]
fn effect_sizes_match_the_formula() {
    for case in resampling().effect_size {
        let name = &case.name;
        assert_close(cohens_d(&case.a, &case.b).unwrap(), case.cohens_d, name);
        assert_close(hedges_g(&case.a, &case.b).unwrap(), case.hedges_g, name);
        // Swapping the samples flips the sign.
        assert_close(-cohens_d(&case.b, &case.a).unwrap(), case.cohens_d, name);
    }
}
