//! `[[attribution]]`: per-token attributions of a target logit over an input set — saliency,
//! gradient × input and integrated gradients at a site, occlusion of input tokens (see
//! [`cavern_probe::attribution`]), and a LIME surrogate on token-masked inputs (see
//! [`cavern_probe::lime`]) — with integrated gradients' completeness gap and LIME's fidelity per
//! input.
//!
//! LIME's masks are the only random choice: input `i` of study `s` draws them from ChaCha8
//! seeded with the `i`-th number of a ChaCha8 generator seeded with the run's seed on stream
//! `s`, so they depend on the seed, the study and the input, and not on the other studies.

use super::StudyError;
use crate::runner::target_label;
use crate::schema::{AttributionBaseline, AttributionMethod, AttributionStudy, Target};
use crate::table::{Table, TableError};
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::ProbeError;
use cavern_probe::attribution::{
    AttributionInput, Baseline, Objective, SiteActivation, baseline_activation,
    gradient_attributions, integrated_gradients, occlusion,
};
use cavern_probe::lime::lime;
use cavern_probe::surrogate::SurrogateOptions;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One (study, input, method, position) row of the `attributions` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenAttribution {
    /// Index of the `[[attribution]]` study in the file, from 0.
    pub study: usize,
    /// Index of the input in the study's inputs, from 0.
    pub input: usize,
    /// The input text.
    pub text: String,
    /// Target label (`class:positive`, or `class:positive - class:negative`).
    pub target: String,
    /// Token position, from 0 (special tokens included).
    pub position: usize,
    /// The token as the tokenizer writes it (`##ing`, ` Paris`, `[CLS]`).
    pub token: String,
    /// Whether the token is a special token (`[CLS]`, `[SEP]`).
    pub is_special: bool,
    /// `saliency`, `gradient_x_input`, `integrated_gradients`, `occlusion` or `lime`.
    pub method: String,
    /// The token's attribution.
    pub attribution: f64,
}

/// One (study, input, method) row of the `attribution_summary` table: for integrated gradients
/// and LIME, f at the input and at the baseline, the completeness gap, and LIME's fidelity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionSummary {
    pub study: usize,
    pub input: usize,
    pub target: String,
    /// The site's TransformerLens name (`embed`, `blocks.1.hook_resid_pre`).
    pub site: String,
    /// `pad`, `zeros`, `unk` or `mask`.
    pub baseline: String,
    /// `integrated_gradients` or `lime`.
    pub method: String,
    /// Midpoint-rule steps (integrated gradients), or samples (LIME).
    pub steps: usize,
    /// f at the input.
    pub f_x: f64,
    /// f at the baseline.
    pub f_baseline: f64,
    /// Σ attributions − (f_x − f_baseline).
    pub completeness_gap: f64,
    /// LIME's local fidelity, the weighted R² of its surrogate; NaN for integrated gradients.
    pub fidelity_r2: f64,
}

/// The rows of every attribution study.
#[derive(Debug, Clone, Default)]
pub struct AttributionOutput {
    /// `attributions` rows.
    pub tokens: Vec<TokenAttribution>,
    /// `attribution_summary` rows.
    pub summary: Vec<AttributionSummary>,
}

impl AttributionOutput {
    /// Appends another study's rows.
    pub fn extend(&mut self, other: AttributionOutput) {
        self.tokens.extend(other.tokens);
        self.summary.extend(other.summary);
    }
}

/// The label of a study's target: `class:positive`, or `class:positive - class:negative` with a
/// contrast.
pub fn objective_label(target: &Target, contrast: Option<&Target>) -> String {
    match contrast {
        Some(contrast) => format!("{} - {}", target_label(target), target_label(contrast)),
        None => target_label(target),
    }
}

/// The logit index of a target.
fn logit_index(model: &LoadedModel, target: &Target) -> Result<usize, StudyError> {
    let found = match target {
        Target::Class(class) => model.class_names().iter().position(|c| c == class),
        Target::Token(token) => model.tokenizer().single_token(token).map(|id| id as usize),
    };
    found.ok_or_else(|| StudyError::UnknownTarget(target_label(target)))
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

/// Runs the `index`-th attribution study, one input at a time; integrated-gradients path
/// points, occlusion variants and LIME samples run `batch_size` rows per pass. `seed` is the
/// run's seed (LIME's masks derive from it).
pub fn run(
    index: usize,
    study: &AttributionStudy,
    model: &LoadedModel,
    batch_size: usize,
    seed: u64,
    progress: &ProgressBar,
) -> Result<AttributionOutput, StudyError> {
    progress.set_message(format!("attribution study {index}"));
    let target = logit_index(model, &study.target)?;
    let objective = match &study.contrast {
        Some(contrast) => Objective::difference(target, logit_index(model, contrast)?),
        None => Objective::logit(target),
    };
    let label = objective_label(&study.target, study.contrast.as_ref());
    let baseline = baseline_of(model, study.baseline)?;
    let site = match study.layer {
        Some(layer) => Site::new(study.site, layer),
        None => Site::global(study.site),
    };
    let embed = Site::global(SitePoint::Embed);
    let wants = |m: AttributionMethod| study.methods.contains(&m);
    let encodings = model
        .encode_texts(&study.inputs)
        .map_err(ProbeError::from)?;
    let mut seeds = ChaCha8Rng::seed_from_u64(seed);
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
                study: index,
                input: i,
                target: label.clone(),
                site: site.to_string(),
                baseline: study.baseline.as_str().to_string(),
                method: AttributionMethod::IntegratedGradients.as_str().to_string(),
                steps: study.steps,
                f_x: ig.f_x,
                f_baseline: ig.f_baseline,
                completeness_gap: ig.completeness_gap,
                fidelity_r2: f64::NAN,
            });
            values.push((AttributionMethod::IntegratedGradients, ig.attributions));
            if site == embed {
                embed_base = Some(base);
            }
        }
        let perturbs = wants(AttributionMethod::Occlusion) || wants(AttributionMethod::Lime);
        if perturbs && embed_base.is_none() {
            embed_base = Some(baseline_activation(model, &input, embed, baseline)?);
        }
        let embed_base = embed_base.as_ref();
        if let (true, Some(base)) = (wants(AttributionMethod::Occlusion), embed_base) {
            let occ = occlusion(model, &input, objective, base, study.window, batch_size)?;
            values.push((AttributionMethod::Occlusion, occ));
        }
        // Drawn for every input, so that an input's masks do not depend on the methods.
        let lime_seed = seeds.next_u64();
        if let (true, Some(base)) = (wants(AttributionMethod::Lime), embed_base) {
            let options = SurrogateOptions {
                samples: study.samples,
                seed: lime_seed,
                ..SurrogateOptions::default()
            };
            let fit = lime(model, &input, objective, base, &options, batch_size)?;
            out.summary.push(AttributionSummary {
                study: index,
                input: i,
                target: label.clone(),
                site: embed.to_string(),
                baseline: study.baseline.as_str().to_string(),
                method: AttributionMethod::Lime.as_str().to_string(),
                steps: fit.samples,
                f_x: fit.f_x,
                f_baseline: fit.f_baseline,
                completeness_gap: fit.coefficients.iter().sum::<f64>() - (fit.f_x - fit.f_baseline),
                fidelity_r2: fit.r2,
            });
            values.push((AttributionMethod::Lime, fit.coefficients));
        }
        // In the order the study lists its methods.
        for &method in &study.methods {
            let Some((_, per_token)) = values.iter().find(|(m, _)| *m == method) else {
                continue;
            };
            for (position, &attribution) in per_token.iter().enumerate() {
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
                });
            }
        }
        progress.inc(1);
    }
    Ok(out)
}

/// The `attributions` table.
pub fn tokens_table(rows: &[TokenAttribution]) -> Result<Table, TableError> {
    let int = |f: fn(&TokenAttribution) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let text = |f: fn(&TokenAttribution) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    Table::new("attributions")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("input", int(|r| r.input))?
        .with_str("text", text(|r| &r.text))?
        .with_str("target", text(|r| &r.target))?
        .with_u64("position", int(|r| r.position))?
        .with_str("token", text(|r| &r.token))?
        .with_bool("is_special", rows.iter().map(|r| r.is_special).collect())?
        .with_str("method", text(|r| &r.method))?
        .with_f64("attribution", rows.iter().map(|r| r.attribution).collect())
}

/// The `attribution_summary` table.
pub fn summary_table(rows: &[AttributionSummary]) -> Result<Table, TableError> {
    let int = |f: fn(&AttributionSummary) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let text = |f: fn(&AttributionSummary) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    let num = |f: fn(&AttributionSummary) -> f64| rows.iter().map(f).collect();
    Table::new("attribution_summary")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("input", int(|r| r.input))?
        .with_str("target", text(|r| &r.target))?
        .with_str("site", text(|r| &r.site))?
        .with_str("baseline", text(|r| &r.baseline))?
        .with_str("method", text(|r| &r.method))?
        .with_u64("steps", int(|r| r.steps))?
        .with_f64("f_x", num(|r| r.f_x))?
        .with_f64("f_baseline", num(|r| r.f_baseline))?
        .with_f64("completeness_gap", num(|r| r.completeness_gap))?
        .with_f64("fidelity_r2", num(|r| r.fidelity_r2))
}
