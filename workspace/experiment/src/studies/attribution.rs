//! `[[attribution]]`: per-token attributions of a target logit over an input set — saliency,
//! gradient × input and integrated gradients at a site, occlusion of input tokens (see
//! [`cavern_probe::attribution`]) — with integrated gradients' completeness gap per input.

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
use indicatif::ProgressBar;
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
    /// `saliency`, `gradient_x_input`, `integrated_gradients` or `occlusion`.
    pub method: String,
    /// The token's attribution.
    pub attribution: f64,
}

/// One (study, input) row of the `attribution_summary` table: integrated gradients' end points
/// and completeness gap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionSummary {
    pub study: usize,
    pub input: usize,
    pub target: String,
    /// The site's TransformerLens name (`embed`, `blocks.1.hook_resid_pre`).
    pub site: String,
    /// `pad`, `zeros`, `unk` or `mask`.
    pub baseline: String,
    /// Always `integrated_gradients`.
    pub method: String,
    /// Midpoint-rule steps.
    pub steps: usize,
    /// f at the input.
    pub f_x: f64,
    /// f at the baseline.
    pub f_baseline: f64,
    /// Σ attributions − (f_x − f_baseline).
    pub completeness_gap: f64,
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
/// points and occlusion variants run `batch_size` rows per pass.
pub fn run(
    index: usize,
    study: &AttributionStudy,
    model: &LoadedModel,
    batch_size: usize,
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
        let mut base_at_site: Option<SiteActivation> = None;
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
            });
            values.push((AttributionMethod::IntegratedGradients, ig.attributions));
            base_at_site = Some(base);
        }
        if wants(AttributionMethod::Occlusion) {
            let base = match base_at_site {
                Some(base) if site == embed => base,
                _ => baseline_activation(model, &input, embed, baseline)?,
            };
            let occ = occlusion(model, &input, objective, &base, study.window, batch_size)?;
            values.push((AttributionMethod::Occlusion, occ));
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
        .with_f64("completeness_gap", num(|r| r.completeness_gap))
}
