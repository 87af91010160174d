//! Running an `[[attribution]]`: per-token attributions of a target logit over an input set — saliency,
//! gradient × input and integrated gradients at a site, occlusion of input tokens (see
//! [`cavern_probe::attribution`]), a LIME surrogate on token-masked inputs (see
//! [`cavern_probe::lime`]) and SHAP values — with integrated gradients' completeness gap, LIME's
//! fidelity and SHAP's efficiency gap per input.
//!
//! SHAP (see [`cavern_probe::shap`]) gives Shapley values of the tokens, exact up to
//! `shap_exact_max` maskable tokens and sampled beyond.
//!
//! LIME's masks and SHAP's sampled permutations are the only random choices. Input `i` of study
//! `s` has one seed, the `i`-th number of a ChaCha8 generator seeded with the run's seed on
//! stream `s`: LIME's masks come from ChaCha8 seeded with it, SHAP's permutations from the first
//! number of that generator's stream 1. So they depend on the seed, the study and the input, and
//! not on the other studies or on each other.

use super::spec::{AttributionBaseline, AttributionMethod, AttributionSpec};
use super::tables::{AttributionOutput, AttributionSummary, TokenAttribution};
use crate::engine::outputs::target_index;
use crate::engine::{StudyContext, StudyError};
use crate::plan::Target;
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::ProbeError;
use cavern_probe::attribution::{
    AttributionInput, Baseline, Objective, SiteActivation, baseline_activation,
    gradient_attributions, integrated_gradients, occlusion,
};
use cavern_probe::lime::lime;
use cavern_probe::shap::{ShapOptions, shap};
use cavern_probe::surrogate::SurrogateOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The label of a study's target: `class:positive`, or `class:positive - class:negative` with a
/// contrast.
fn objective_label(target: &Target, contrast: Option<&Target>) -> String {
    match contrast {
        Some(contrast) => format!("{} - {}", target.label(), contrast.label()),
        None => target.label(),
    }
}

/// Token spellings tried for the `unk` and `mask` baselines.
const UNK_TOKENS: [&str; 3] = ["[UNK]", "[unk]", "<unk>"];
const MASK_TOKENS: [&str; 3] = ["[MASK]", "[mask]", "<mask>"];

/// The baseline of a study on this model.
fn baseline_of(model: &LoadedModel, choice: AttributionBaseline) -> Result<Baseline, StudyError> {
    let find = |spellings: &[&str]| {
        let token = spellings
            .iter()
            .find_map(|s| model.tokenizer().single_token(s))
            .map(Baseline::Token);
        token.ok_or_else(|| {
            StudyError::Probe(ProbeError::Attribution(format!(
                "baseline `{}`: model `{}` has none of the tokens {}; use `baseline = \"pad\"` \
                 or `\"zeros\"`",
                choice.as_str(),
                model.name(),
                spellings.join(", ")
            )))
        })
    };
    match choice {
        AttributionBaseline::Pad => Ok(Baseline::Token(model.config().pad_id)),
        AttributionBaseline::Zeros => Ok(Baseline::Zeros),
        AttributionBaseline::Unk => find(&UNK_TOKENS),
        AttributionBaseline::Mask => find(&MASK_TOKENS),
    }
}

/// The generator stream of an input's seed that SHAP's permutations come from (LIME's masks
/// use the seed itself).
const SHAP_STREAM: u64 = 1;

/// The first number of ChaCha8 seeded with `seed` on stream `stream`.
fn stream_seed(seed: u64, stream: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng.next_u64()
}

/// Runs an attribution study, one input at a time; integrated-gradients path points, occlusion
/// variants, LIME samples and SHAP coalitions run `batch_size` rows per pass. LIME's masks and
/// SHAP's permutations derive from the run's seed.
pub(super) fn run(
    study: &AttributionSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<AttributionOutput, StudyError> {
    let (index, model, batch_size) = (cx.index, cx.model, cx.batch_size());
    cx.progress
        .set_message(format!("attribution study {index}"));
    let target = target_index(model, &study.target)?;
    let objective = match &study.contrast {
        Some(contrast) => Objective::difference(target, target_index(model, contrast)?),
        None => Objective::logit(target),
    };
    let label = objective_label(&study.target, study.contrast.as_ref());
    let baseline = baseline_of(model, study.baseline)?;
    let site = match study.layer {
        Some(layer) => Site::new(study.site, layer),
        None => Site::global(study.site),
    };
    let embed = Site::global(SitePoint::Embed);
    // The summary row of `method` on input `i` at `site`, before what the method measured.
    let summary = |i: usize, method: AttributionMethod, site: Site| AttributionSummary {
        study: index,
        input: i,
        target: label.clone(),
        site: site.to_string(),
        baseline: study.baseline.as_str().to_string(),
        method: method.as_str().to_string(),
        steps: 0,
        f_x: f64::NAN,
        f_baseline: f64::NAN,
        completeness_gap: f64::NAN,
        fidelity_r2: f64::NAN,
        exact: false,
    };
    let wants = |m: AttributionMethod| study.methods.contains(&m);
    let encodings = model
        .encode_texts(&study.inputs)
        .map_err(ProbeError::from)?;
    let mut seeds = ChaCha8Rng::seed_from_u64(cx.seed);
    seeds.set_stream(index as u64);
    let mut out = AttributionOutput::default();
    for (i, (text, encoding)) in study.inputs.iter().zip(encodings).enumerate() {
        let special = model
            .tokenizer()
            .special_mask(text)
            .map_err(ProbeError::from)?;
        let input = AttributionInput {
            ids: encoding.ids,
            special,
        };
        let mut values: Vec<(AttributionMethod, Vec<f64>)> = Vec::new();
        // Standard errors of the methods that have them (SHAP); NaN for the others.
        let mut errors: Vec<(AttributionMethod, Vec<f64>)> = Vec::new();
        if wants(AttributionMethod::Saliency) || wants(AttributionMethod::GradientXInput) {
            let g = gradient_attributions(model, &input, site, objective)?;
            values.push((AttributionMethod::Saliency, g.saliency));
            values.push((AttributionMethod::GradientXInput, g.gradient_x_input));
        }
        // The baseline at `embed`, which occlusion and LIME share (and integrated gradients
        // at `embed`): computed once.
        let mut embed_base: Option<SiteActivation> = None;
        if wants(AttributionMethod::IntegratedGradients) {
            let base = baseline_activation(model, &input, site, baseline)?;
            let ig = integrated_gradients(
                model,
                &input,
                site,
                objective,
                &base,
                study.steps,
                batch_size,
            )?;
            out.summary.push(AttributionSummary {
                steps: study.steps,
                f_x: ig.f_x,
                f_baseline: ig.f_baseline,
                completeness_gap: ig.completeness_gap,
                ..summary(i, AttributionMethod::IntegratedGradients, site)
            });
            values.push((AttributionMethod::IntegratedGradients, ig.attributions));
            if site == embed {
                embed_base = Some(base);
            }
        }
        let perturbs = wants(AttributionMethod::Occlusion)
            || wants(AttributionMethod::Lime)
            || wants(AttributionMethod::Shap);
        if perturbs && embed_base.is_none() {
            embed_base = Some(baseline_activation(model, &input, embed, baseline)?);
        }
        let embed_base = embed_base.as_ref();
        if let (true, Some(base)) = (wants(AttributionMethod::Occlusion), embed_base) {
            let occ = occlusion(model, &input, objective, base, study.window, batch_size)?;
            values.push((AttributionMethod::Occlusion, occ));
        }
        // Drawn for every input, so that an input's masks do not depend on the methods.
        let input_seed = seeds.next_u64();
        if let (true, Some(base)) = (wants(AttributionMethod::Lime), embed_base) {
            let options = SurrogateOptions {
                samples: study.samples,
                seed: input_seed,
                ..SurrogateOptions::default()
            };
            let fit = lime(model, &input, objective, base, &options, batch_size)?;
            out.summary.push(AttributionSummary {
                steps: fit.samples,
                f_x: fit.f_x,
                f_baseline: fit.f_baseline,
                completeness_gap: fit.coefficients.iter().sum::<f64>() - (fit.f_x - fit.f_baseline),
                fidelity_r2: fit.r2,
                ..summary(i, AttributionMethod::Lime, embed)
            });
            values.push((AttributionMethod::Lime, fit.coefficients));
        }
        if let (true, Some(base)) = (wants(AttributionMethod::Shap), embed_base) {
            let options = ShapOptions {
                exact_max: study.shap_exact_max,
                pairs: study.shap_samples / 2,
                seed: stream_seed(input_seed, SHAP_STREAM),
            };
            let game = shap(model, &input, objective, base, &options, batch_size)?;
            out.summary.push(AttributionSummary {
                steps: game.evaluations,
                f_x: game.f_x,
                f_baseline: game.f_baseline,
                completeness_gap: game.efficiency_gap(),
                exact: game.exact,
                ..summary(i, AttributionMethod::Shap, embed)
            });
            values.push((AttributionMethod::Shap, game.values));
            errors.push((AttributionMethod::Shap, game.std_errors));
        }
        // In the order the study lists its methods.
        for &method in &study.methods {
            let Some((_, per_token)) = values.iter().find(|(m, _)| *m == method) else {
                continue;
            };
            let std_errors = errors.iter().find(|(m, _)| *m == method);
            for (position, &attribution) in per_token.iter().enumerate() {
                let std_error = std_errors.map_or(f64::NAN, |(_, e)| e[position]);
                out.tokens.push(TokenAttribution {
                    study: index,
                    input: i,
                    text: text.clone(),
                    target: label.clone(),
                    position,
                    token: encoding.tokens[position].clone(),
                    is_special: input.special.get(position).copied().unwrap_or(false),
                    method: method.as_str().to_string(),
                    attribution,
                    std_error,
                });
            }
        }
        cx.progress.inc(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contrast_is_labelled_as_a_difference() {
        let positive = Target::Class("positive".into());
        let negative = Target::Class("negative".into());
        assert_eq!(objective_label(&positive, None), "class:positive");
        assert_eq!(
            objective_label(&positive, Some(&negative)),
            "class:positive - class:negative"
        );
    }
}
