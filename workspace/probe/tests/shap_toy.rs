//! SHAP on `toy-sentiment`, whose ground truth is known (see attribution_toy.rs): relative to
//! the pad baseline the model's default is positive, so a negative word and a negation are what
//! move f, and a positive word without negation moves nothing.
//!
//! Checked here: exact SHAP equals Shapley values computed independently (every permutation of
//! the players, masked inputs built by replacing token ids with pad and run one at a time), the
//! values add up to f(x) − f(baseline), sampling lands within a few standard errors of the
//! exact values on a 10-token input, and the sentiment word and the negation come first.

use burn::tensor::Device;
use cavern_intervene::Interventions;
use cavern_model::builtin::load_builtin;
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::attribution::{AttributionInput, Baseline, Objective, baseline_activation};
use cavern_probe::shap::{ShapOptions, shap};

const POSITIVE: usize = 1;

fn model() -> LoadedModel {
    load_builtin("toy-sentiment", &Device::flex()).expect("model")
}

fn input(model: &LoadedModel, text: &str) -> (AttributionInput, Vec<String>) {
    let encoding = model.tokenizer().encode(text).expect("encode");
    let special = model.tokenizer().special_mask(text).expect("mask");
    let input = AttributionInput {
        ids: encoding.ids,
        special,
    };
    (input, encoding.tokens)
}

fn run(
    model: &LoadedModel,
    text: &str,
    options: &ShapOptions,
) -> (cavern_probe::shap::Shap, Vec<String>) {
    let (input, tokens) = input(model, text);
    let embed = Site::global(SitePoint::Embed);
    let pad = Baseline::Token(model.config().pad_id);
    let base = baseline_activation(model, &input, embed, pad).expect("baseline");
    let shap = shap(
        model,
        &input,
        Objective::logit(POSITIVE),
        &base,
        options,
        256,
    )
    .expect("shap");
    (shap, tokens)
}

/// The positive logit of `ids`, alone in its batch.
fn positive_logit(model: &LoadedModel, ids: Vec<u32>) -> f64 {
    let batch = model.batch(vec![ids]);
    let logits = model
        .transformer
        .forward(&batch, &mut Interventions::new(vec![]))
        .logits;
    let values = logits.into_data().try_into_vec_as::<f64>().unwrap();
    values[POSITIVE]
}

/// Every permutation of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            out.push(p);
        }
    }
    out
}

#[test]
fn exact_shap_is_the_mean_marginal_contribution_over_every_order() {
    let model = model();
    let pad = model.config().pad_id;
    for text in [
        "a red song is not awful",
        "the film was never good",
        "it is dull",
    ] {
        let (shap, _) = run(&model, text, &ShapOptions::default());
        assert!(shap.exact);
        let (input, _) = input(&model, text);
        let real: Vec<usize> = (0..input.ids.len())
            .filter(|&t| !input.special[t])
            .collect();
        let orders = permutations(real.len());
        let mut expected = vec![0.0f64; input.ids.len()];
        for order in &orders {
            let mut ids = input.baseline_ids(pad);
            let mut before = positive_logit(&model, ids.clone());
            for &k in order {
                ids[real[k]] = input.ids[real[k]];
                let after = positive_logit(&model, ids.clone());
                expected[real[k]] += (after - before) / orders.len() as f64;
                before = after;
            }
        }
        for (t, (got, want)) in shap.values.iter().zip(&expected).enumerate() {
            assert!(
                (got - want).abs() < 1e-5,
                "{text}: token {t}: {got} vs {want}"
            );
        }
        assert!(
            shap.efficiency_gap().abs() < 1e-6,
            "{text}: {}",
            shap.efficiency_gap()
        );
        assert_eq!(shap.evaluations, 1 << real.len());
    }
}

const TEN: &str = "the grey green play was never really terrible in blue";

#[test]
fn sampling_lands_within_a_few_standard_errors_of_the_exact_values() {
    let model = model();
    let (exact, tokens) = run(&model, TEN, &ShapOptions::default());
    assert_eq!(
        tokens.len(),
        10,
        "ten words (the toy tokenizer adds no special tokens)"
    );
    assert!(exact.exact && exact.evaluations == 1024);
    let sampled_options = ShapOptions {
        exact_max: 8,
        pairs: 64,
        seed: 5,
    };
    let (sampled, _) = run(&model, TEN, &sampled_options);
    assert!(!sampled.exact);
    assert!(sampled.efficiency_gap().abs() < 1e-6);
    assert!((sampled.f_x - exact.f_x).abs() < 1e-6);
    for (t, token) in tokens.iter().enumerate() {
        let (e, s, se) = (exact.values[t], sampled.values[t], sampled.std_errors[t]);
        println!("{token:8} exact {e:+.4}  sampled {s:+.4} ± {se:.4}");
        assert!(
            (e - s).abs() <= 4.0 * se + 1e-6,
            "{token}: {s} ± {se} vs {e}"
        );
    }
    assert!(sampled.std_errors.iter().any(|&se| se > 0.0));
    let (again, _) = run(&model, TEN, &sampled_options);
    assert_eq!(again, sampled, "the same seed, the same estimate");
}

/// Indices of the `k` largest |values|, in position order.
fn top(values: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
    let mut chosen = order[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

#[test]
fn the_sentiment_word_and_the_negation_come_first_and_colours_get_nothing() {
    let model = model();
    let cases: [(&str, &[&str]); 7] = [
        ("this hotel is dreadful in orange", &["dreadful"]),
        ("the purple game is very boring", &["boring"]),
        ("a red song is not awful", &["not", "awful"]),
        (
            "the yellow show was never terrible in grey",
            &["never", "terrible"],
        ),
        ("a blue book was not good", &["not"]),
        ("it was never really lovely in blue", &["never"]),
        (TEN, &["never", "terrible"]),
    ];
    const COLOURS: [&str; 8] = [
        "red", "blue", "green", "yellow", "purple", "orange", "brown", "grey",
    ];
    for (text, first) in cases {
        let (shap, tokens) = run(&model, text, &ShapOptions::default());
        let shown: Vec<String> = (tokens.iter().zip(&shap.values))
            .map(|(t, v)| format!("{t} {v:+.2}"))
            .collect();
        println!("{text}: {}", shown.join(" · "));
        let expected: Vec<usize> = (0..tokens.len())
            .filter(|&t| first.contains(&tokens[t].as_str()))
            .collect();
        assert_eq!(top(&shap.values, expected.len()), expected, "{text}");
        assert!(shap.efficiency_gap().abs() < 1e-6);
        // Colours get under 5% of the largest |value| (8.6 to 9.4), or under 0.05 where a
        // negation cancels a negative word and the largest is 0.4.
        let largest = shap.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (t, token) in tokens.iter().enumerate() {
            if COLOURS.contains(&token.as_str()) {
                let value = shap.values[t].abs();
                assert!(value < 0.05 * largest + 0.05, "{text}: {token} {value}");
            }
        }
    }
    // A positive word unnegated is the default: f(x) ≈ f(pad), nothing to share out.
    for text in ["the film was good", "the grey green play was quite superb"] {
        let (shap, _) = run(&model, text, &ShapOptions::default());
        assert!(
            shap.values.iter().all(|v| v.abs() < 0.1),
            "{text}: {:?}",
            shap.values
        );
    }
}
