//! Known-answer tests against scipy/statsmodels values in `fixtures/reference.json`
//! (regenerate with `fixtures/make_reference.py`).

use cavern_stats::{
    Correction, TTest, benjamini_hochberg, bonferroni, holm, one_sample_t_test, student_t_test,
    welch_t_test,
};
use serde::Deserialize;

/// Absolute tolerance for statistics and degrees of freedom.
const ABS_TOL: f64 = 1e-9;
/// Relative tolerance for p-values.
const REL_TOL: f64 = 1e-9;

#[derive(Deserialize)]
struct Reference {
    two_sample: Vec<TwoSample>,
    one_sample: Vec<OneSample>,
    corrections: Vec<Corrections>,
}

#[derive(Deserialize)]
struct Expected {
    statistic: f64,
    df: f64,
    p_value: f64,
}

#[derive(Deserialize)]
struct TwoSample {
    name: String,
    a: Vec<f64>,
    b: Vec<f64>,
    welch: Expected,
    student: Expected,
}

#[derive(Deserialize)]
struct OneSample {
    name: String,
    a: Vec<f64>,
    mu: f64,
    result: Expected,
}

#[derive(Deserialize)]
struct Corrections {
    name: String,
    p: Vec<f64>,
    bonferroni: Vec<f64>,
    holm: Vec<f64>,
    bh: Vec<f64>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference.json");
    let text = std::fs::read_to_string(path).expect("read reference.json");
    serde_json::from_str(&text).expect("parse reference.json")
}

fn assert_p_close(actual: f64, expected: f64, what: &str) {
    let scale = actual.abs().max(expected.abs());
    assert!(
        (actual - expected).abs() <= REL_TOL * scale,
        "{what}: p-value {actual:e} != expected {expected:e}"
    );
}

fn assert_test_close(actual: TTest, expected: &Expected, what: &str) {
    assert!(
        (actual.statistic - expected.statistic).abs() <= ABS_TOL,
        "{what}: statistic {} != expected {}",
        actual.statistic,
        expected.statistic
    );
    assert!(
        (actual.df - expected.df).abs() <= ABS_TOL,
        "{what}: df {} != expected {}",
        actual.df,
        expected.df
    );
    assert_p_close(actual.p_value, expected.p_value, what);
}

fn assert_all_close(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&x, &y)) in actual.iter().zip(expected).enumerate() {
        assert_p_close(x, y, &format!("{what}[{i}]"));
    }
}

#[test]
fn two_sample_tests_match_scipy() {
    for case in reference().two_sample {
        let welch = welch_t_test(&case.a, &case.b).unwrap();
        assert_test_close(welch, &case.welch, &format!("{} welch", case.name));
        let student = student_t_test(&case.a, &case.b).unwrap();
        assert_test_close(student, &case.student, &format!("{} student", case.name));
    }
}

#[test]
fn one_sample_test_matches_scipy() {
    for case in reference().one_sample {
        let result = one_sample_t_test(&case.a, case.mu).unwrap();
        assert_test_close(result, &case.result, &case.name);
    }
}

#[test]
fn corrections_match_statsmodels() {
    for case in reference().corrections {
        let name = &case.name;
        assert_all_close(
            &bonferroni(&case.p),
            &case.bonferroni,
            &format!("{name} bonferroni"),
        );
        assert_all_close(&holm(&case.p), &case.holm, &format!("{name} holm"));
        assert_all_close(
            &benjamini_hochberg(&case.p),
            &case.bh,
            &format!("{name} bh"),
        );
        let via_enum = Correction::BenjaminiHochberg.adjust(&case.p);
        assert_all_close(&via_enum, &case.bh, &format!("{name} Correction::adjust"));
    }
}
