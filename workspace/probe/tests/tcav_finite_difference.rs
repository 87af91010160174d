//! The TCAV directional derivative is the slope of steering: S(x) = ⟨∇ₕf, v⟩ (summed over
//! positions) must match (f(α) − f(−α)) / 2α when α·v is added at every position.

use burn::tensor::{Device, Tensor};
use cavern_intervene::{Intervention, Interventions, Op};
use cavern_model::builtin::load_builtin;
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::tcav::{directional_derivatives, summed_gradients, tcav_score};

const TEXTS: [&str; 6] = [
    "the film was good",
    "a red song is not awful",
    "it was never really lovely in blue",
    "this hotel is dreadful",
    "the grey green play was quite superb",
    "a book is not good in orange",
];

fn target_logit(
    model: &LoadedModel,
    texts: &[String],
    site: Site,
    alpha: f32,
    v: &[f32],
) -> Vec<f64> {
    let batch = model.encode(texts).expect("encode");
    let add = Intervention::new(
        site,
        Op::Add {
            alpha,
            vector: v.to_vec(),
        },
    );
    let mut hooks = Interventions::new(vec![add]);
    let logits: Tensor<2> = model.transformer.forward(&batch, &mut hooks).logits;
    hooks.check().expect("steering applies");
    let flat = logits.into_data().try_into_vec_as::<f64>().expect("f64");
    flat.chunks(2).map(|row| row[1]).collect()
}

#[test]
fn directional_derivative_matches_finite_difference_of_steering() {
    let model = load_builtin("toy-sentiment", &Device::flex()).expect("model");
    let texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    let positive = 1;
    for site in [
        Site::global(SitePoint::Embed),
        Site::new(SitePoint::ResidPre, 1),
        Site::new(SitePoint::ResidMid, 0),
        Site::new(SitePoint::ResidPost, 1),
        Site::new(SitePoint::MlpOut, 0),
    ] {
        let raw: Vec<f32> = (0..32).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
        let v: Vec<f32> = raw.iter().map(|x| x / norm).collect();
        let gradients = summed_gradients(&model, &texts, site, positive, 4).expect("gradients");
        let s = directional_derivatives(&gradients, &v);
        let alpha = 1e-2;
        let up = target_logit(&model, &texts, site, alpha, &v);
        let down = target_logit(&model, &texts, site, -alpha, &v);
        let scale = s.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(
            scale > 1e-3,
            "{site}: the target does not depend on the site"
        );
        for (i, (si, (u, d))) in s.iter().zip(up.iter().zip(&down)).enumerate() {
            let fd = (u - d) / (2.0 * alpha as f64);
            assert!(
                (fd - si).abs() <= 0.01 * si.abs() + 1e-3 * scale,
                "{site}, input {i}: gradient {si} vs finite difference {fd}"
            );
            if si.abs() > 0.05 * scale {
                assert_eq!(fd.signum(), si.signum(), "{site}, input {i}: signs differ");
            }
        }
    }
}

#[test]
fn tcav_score_is_the_fraction_of_positive_derivatives() {
    assert_eq!(tcav_score(&[0.5, -0.1, 0.0, 2.0]), 0.5);
    assert_eq!(
        directional_derivatives(&[vec![1.0, 2.0], vec![-3.0, 0.5]], &[0.5, 1.0]),
        vec![2.5, -1.0]
    );
}
