//! Token attributions on `toy-sentiment`, whose ground truth is known: a sentence is negative
//! when its one sentiment word is negative, flipped by `not`/`never`; colours are a nuisance.
//!
//! What the model computes, relative to an absent word (the pad baseline, f ≈ +4.36, as
//! positive as "the film was good"): *positive is its default*. A negative word flips it, a
//! negation flips it, and a positive word changes nothing. So attributions single out the
//! negative word and the negation, and give a positive word (nearly) nothing.

use burn::tensor::Device;
use cavern_model::builtin::load_builtin;
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::attribution::*;

const POSITIVE: usize = 1;

fn input(model: &LoadedModel, text: &str) -> (AttributionInput, Vec<String>) {
    let encoding = model.tokenizer().encode(text).expect("encode");
    let special = model.tokenizer().special_mask(text).expect("mask");
    let input = AttributionInput {
        ids: encoding.ids,
        special,
    };
    (input, encoding.tokens)
}

fn model() -> LoadedModel {
    load_builtin("toy-sentiment", &Device::flex()).expect("model")
}

fn pad(model: &LoadedModel) -> Baseline {
    Baseline::Token(model.config().pad_id)
}

/// Every sentence type: negative word with and without negation, positive word with and
/// without, colours before the noun and after `in`.
const SENTENCES: [&str; 8] = [
    "this hotel is dreadful in orange",
    "the purple game is very boring",
    "a red song is not awful",
    "the yellow show was never terrible in grey",
    "a blue book was not good",
    "it was never really lovely in blue",
    "the film was good",
    "the grey green play was quite superb",
];

#[test]
fn integrated_gradients_are_complete_with_enough_steps() {
    let model = model();
    let objective = Objective::logit(POSITIVE);
    let sites = [
        Site::global(SitePoint::Embed),
        Site::new(SitePoint::ResidPre, 1),
        Site::new(SitePoint::MlpOut, 0),
    ];
    for site in sites {
        for baseline in [pad(&model), Baseline::Zeros] {
            for text in SENTENCES {
                let (input, _) = input(&model, text);
                let base = baseline_activation(&model, &input, site, baseline).expect("baseline");
                let coarse =
                    integrated_gradients(&model, &input, site, objective, &base, 16, 64).unwrap();
                let fine = integrated_gradients(&model, &input, site, objective, &base, 1024, 256)
                    .unwrap();
                let delta = fine.f_x - fine.f_baseline;
                println!(
                    "{site} {baseline:?} {text:42} f(x) − f(x') = {delta:+.4}: gap {:+.1e} with 16 steps, {:+.1e} with 1024",
                    coarse.completeness_gap, fine.completeness_gap
                );
                // Same end points however many steps.
                assert!((coarse.f_x - fine.f_x).abs() < 1e-5);
                assert!((coarse.f_baseline - fine.f_baseline).abs() < 1e-5);
                assert!(
                    fine.completeness_gap.abs() < 0.01 * delta.abs().max(1e-3),
                    "{site} {text}: gap {} against f(x) − f(x') = {delta}",
                    fine.completeness_gap
                );
                let sum: f64 = fine.attributions.iter().sum();
                assert!((sum - delta - fine.completeness_gap).abs() < 1e-9);
            }
        }
    }
}

/// Indices of the `k` largest |values|, in position order.
fn top(values: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
    let mut chosen = order[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

fn positions(tokens: &[String], words: &[&str]) -> Vec<usize> {
    (0..tokens.len())
        .filter(|&i| words.contains(&tokens[i].as_str()))
        .collect()
}

fn show(tokens: &[String], values: &[f64]) -> String {
    let cells: Vec<String> = tokens
        .iter()
        .zip(values)
        .map(|(t, v)| format!("{t} {v:+.2}"))
        .collect();
    cells.join(" · ")
}

const COLOURS: [&str; 8] = [
    "red", "blue", "green", "yellow", "purple", "orange", "brown", "grey",
];

#[test]
fn the_negative_word_and_the_negation_carry_the_attribution_and_colours_none() {
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let objective = Objective::logit(POSITIVE);
    // (sentence, the tokens that flip the model away from its positive default)
    let cases: [(&str, &[&str]); 6] = [
        ("this hotel is dreadful in orange", &["dreadful"]),
        ("the purple game is very boring", &["boring"]),
        ("a red song is not awful", &["not", "awful"]),
        (
            "the yellow show was never terrible in grey",
            &["never", "terrible"],
        ),
        ("a blue book was not good", &["not"]),
        ("it was never really lovely in blue", &["never"]),
    ];
    for (text, flips) in cases {
        let (input, tokens) = input(&model, text);
        let base = baseline_activation(&model, &input, embed, pad(&model)).unwrap();
        let ig = integrated_gradients(&model, &input, embed, objective, &base, 1024, 256).unwrap();
        let occ = occlusion(&model, &input, objective, &base, 1, 64).unwrap();
        println!(
            "{text}\n  IG        {}\n  occlusion {}",
            show(&tokens, &ig.attributions),
            show(&tokens, &occ)
        );
        let expected = positions(&tokens, flips);
        assert_eq!(
            top(&ig.attributions, expected.len()),
            expected,
            "IG: {text}"
        );
        assert_eq!(top(&occ, expected.len()), expected, "occlusion: {text}");
        for (method, values) in [("IG", &ig.attributions), ("occlusion", &occ)] {
            let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(
                largest > 3.0,
                "{method}: {text}: largest |attribution| {largest}"
            );
            for colour in positions(&tokens, &COLOURS) {
                assert!(
                    values[colour].abs() < 0.05 * largest,
                    "{method}: colour `{}` in {text}: {} against {largest}",
                    tokens[colour],
                    values[colour]
                );
            }
        }
    }
}

#[test]
fn a_positive_word_without_negation_is_the_default_and_gets_nothing() {
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let objective = Objective::logit(POSITIVE);
    for text in ["the film was good", "the grey green play was quite superb"] {
        let (input, tokens) = input(&model, text);
        let base = baseline_activation(&model, &input, embed, pad(&model)).unwrap();
        let ig = integrated_gradients(&model, &input, embed, objective, &base, 64, 66).unwrap();
        let occ = occlusion(&model, &input, objective, &base, 1, 64).unwrap();
        println!(
            "{text}: f(x) {:.3}, f(pad) {:.3}\n  IG        {}\n  occlusion {}",
            ig.f_x,
            ig.f_baseline,
            show(&tokens, &ig.attributions),
            show(&tokens, &occ)
        );
        assert!(ig.f_x > 4.0 && ig.f_baseline > 4.0);
        for values in [&ig.attributions, &occ] {
            assert!(values.iter().all(|v| v.abs() < 0.1), "{text}: {values:?}");
        }
    }
}

/// The classifier is saturated (p(positive) ≈ 0.9998 or 0.0002 on every sentence), so local
/// gradients are tiny where removing one word moves the logit by 8–9: saliency and
/// gradient × input see almost none of what integrated gradients and occlusion see, and do not
/// single out the sentiment word (the report's ranking of them is noise on this model).
#[test]
fn local_gradients_are_saturated_on_the_toy_classifier() {
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let objective = Objective::logit(POSITIVE);
    for text in SENTENCES.iter().take(6) {
        let (input, tokens) = input(&model, text);
        let gradients = gradient_attributions(&model, &input, embed, objective).unwrap();
        let base = baseline_activation(&model, &input, embed, pad(&model)).unwrap();
        let occ = occlusion(&model, &input, objective, &base, 1, 64).unwrap();
        println!(
            "{text}\n  saliency  {}\n  grad×in   {}",
            show(&tokens, &gradients.saliency),
            show(&tokens, &gradients.gradient_x_input)
        );
        let largest = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(largest(&occ) > 8.0);
        assert!(largest(&gradients.saliency) < 0.3, "{text}");
        assert!(largest(&gradients.gradient_x_input) < 0.3, "{text}");
    }
}

/// Gradient × input at token t is the slope of f when a_t alone is scaled: a finite
/// difference of the `scale` intervention at that position.
#[test]
fn gradient_times_input_is_the_slope_of_scaling_one_token() {
    use cavern_intervene::{Intervention, Interventions, Op};
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let objective = Objective::logit(POSITIVE);
    let f_scaled = |input: &AttributionInput, t: usize, factor: f32| -> f64 {
        let batch = model.batch(vec![input.ids.clone()]);
        let scale = Intervention::new(embed, Op::Scale { factor }).at_positions(vec![t]);
        let mut hooks = Interventions::new(vec![scale]);
        let logits = model.transformer.forward(&batch, &mut hooks).logits;
        hooks.check().unwrap();
        logits.into_data().try_into_vec_as::<f64>().unwrap()[POSITIVE]
    };
    for text in [
        "a blue book was not good",
        "it was never really lovely in blue",
    ] {
        let (input, _) = input(&model, text);
        let g = gradient_attributions(&model, &input, embed, objective).unwrap();
        let eps = 1e-2f32;
        for (t, &gxi) in g.gradient_x_input.iter().enumerate() {
            let fd = (f_scaled(&input, t, 1.0 + eps) - f_scaled(&input, t, 1.0 - eps))
                / (2.0 * eps as f64);
            assert!(
                (fd - gxi).abs() < 2e-3 + 0.02 * gxi.abs(),
                "{text}, token {t}: {gxi} vs {fd}"
            );
        }
    }
}

#[test]
fn a_logit_difference_of_centred_logits_doubles_every_attribution() {
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let (input, _) = input(&model, "a red song is not awful");
    let base = baseline_activation(&model, &input, embed, Baseline::Zeros).unwrap();
    let one = Objective::logit(POSITIVE);
    let diff = Objective::difference(POSITIVE, 0);
    let ig1 = integrated_gradients(&model, &input, embed, one, &base, 32, 34).unwrap();
    let ig2 = integrated_gradients(&model, &input, embed, diff, &base, 32, 34).unwrap();
    let occ1 = occlusion(&model, &input, one, &base, 2, 64).unwrap();
    let occ2 = occlusion(&model, &input, diff, &base, 2, 64).unwrap();
    for (a, b) in ig1
        .attributions
        .iter()
        .zip(&ig2.attributions)
        .chain(occ1.iter().zip(&occ2))
    {
        assert!((2.0 * a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    assert!((2.0 * ig1.f_x - ig2.f_x).abs() < 1e-4);
}

#[test]
fn occlusion_windows_replace_token_ids_and_average_over_the_windows() {
    use cavern_model::NoHooks;
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let objective = Objective::logit(POSITIVE);
    let pad_id = model.config().pad_id;
    let f_of = |ids: Vec<u32>| -> f64 {
        let logits = model
            .transformer
            .forward(&model.batch(vec![ids]), &mut NoHooks)
            .logits;
        logits.into_data().try_into_vec_as::<f64>().unwrap()[POSITIVE]
    };
    let (input, _) = input(&model, "this hotel is never dreadful in orange");
    let n = input.ids.len();
    let base = baseline_activation(&model, &input, embed, pad(&model)).unwrap();
    let f_x = f_of(input.ids.clone());
    // The drop of each window of two, computed by replacing the token ids with pad.
    let drops: Vec<f64> = (0..n - 1)
        .map(|s| {
            let mut ids = input.ids.clone();
            ids[s] = pad_id;
            ids[s + 1] = pad_id;
            f_x - f_of(ids)
        })
        .collect();
    let occ = occlusion(&model, &input, objective, &base, 2, 3).unwrap();
    assert_eq!(occ.len(), n);
    for (t, value) in occ.iter().enumerate() {
        let covering = &drops[t.saturating_sub(1)..=t.min(n - 2)];
        let expected = covering.iter().sum::<f64>() / covering.len() as f64;
        assert!(
            (value - expected).abs() < 1e-4,
            "token {t}: {value} vs {expected}"
        );
    }
    // A window over every token gives each token the whole drop to the baseline.
    let whole = f_x - f_of(input.baseline_ids(pad_id));
    for window in [n, n + 3] {
        let occ = occlusion(&model, &input, objective, &base, window, 64).unwrap();
        assert!(
            occ.iter().all(|v| (v - whole).abs() < 1e-4),
            "{occ:?} vs {whole}"
        );
    }
}

#[test]
fn special_tokens_stay_in_the_baseline_and_get_no_attribution() {
    let model = model();
    let embed = Site::global(SitePoint::Embed);
    let objective = Objective::logit(POSITIVE);
    let (mut input, _) = input(&model, "the film was not dreadful");
    // Pretend the first and last tokens are special ([CLS]/[SEP]-like).
    input.special[0] = true;
    let last = input.special.len() - 1;
    input.special[last] = true;
    let base = baseline_activation(&model, &input, embed, pad(&model)).unwrap();
    let ig = integrated_gradients(&model, &input, embed, objective, &base, 16, 18).unwrap();
    let occ = occlusion(&model, &input, objective, &base, 1, 64).unwrap();
    assert_eq!(ig.attributions[0], 0.0);
    assert_eq!(ig.attributions[last], 0.0);
    assert_eq!(occ[0], 0.0);
    assert_eq!(occ[last], 0.0);
    assert!(ig.attributions[3].abs() > 1.0, "{:?}", ig.attributions);
}
