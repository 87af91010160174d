//! `[[attribution]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawInputs, RawSource, RawTarget};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx, Target};
use cavern_model::SitePoint;
use serde::Deserialize;
use toml::Spanned;

/// `[[attribution]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawAttribution {
    pub target: Option<Spanned<RawTarget>>,
    pub contrast: Option<Spanned<RawTarget>>,
    pub inputs: Option<Spanned<RawInputs>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub steps: Option<Spanned<usize>>,
    pub baseline: Option<Spanned<String>>,
    pub site: Option<Spanned<String>>,
    pub layer: Option<Spanned<i64>>,
    pub window: Option<Spanned<usize>>,
    pub samples: Option<Spanned<usize>>,
}

impl RawTable for RawAttribution {
    const KEYS: &'static [&'static str] = &[
        "target", "contrast", "inputs", "methods", "steps", "baseline", "site", "layer", "window",
        "samples",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[
        ("target", RawTarget::KEYS),
        ("contrast", RawTarget::KEYS),
        ("inputs", RawSource::KEYS),
    ];
}

choice_enum! {
    /// A token-attribution method of `[[attribution]]`.
    AttributionMethod {
        /// ‖∂f/∂a_t‖₂ at the site.
        Saliency = "saliency",
        /// Σ_d (∂f/∂a_td)·a_td at the site.
        GradientXInput = "gradient_x_input",
        /// Integrated gradients from the baseline at the site.
        IntegratedGradients = "integrated_gradients",
        /// f(x) − f(x with a window of tokens replaced by the baseline).
        Occlusion = "occlusion",
        /// Coefficients of a LIME surrogate fitted to f on token-masked inputs.
        Lime = "lime",
    }
}

choice_enum! {
    /// What an absent token is, for integrated gradients and occlusion.
    AttributionBaseline {
        /// The model's pad token in place of every non-special token.
        Pad = "pad",
        /// The zero activation at the site.
        Zeros = "zeros",
        /// The tokenizer's unknown-word token (`[UNK]`, `[unk]`, `<unk>`).
        Unk = "unk",
        /// The tokenizer's mask token (`[MASK]`, `<mask>`).
        Mask = "mask",
    }
}

/// Default `[[attribution]] steps`.
pub const DEFAULT_ATTRIBUTION_STEPS: usize = 32;
/// Default `[[attribution]] window`.
pub const DEFAULT_OCCLUSION_WINDOW: usize = 1;
/// Default `[[attribution]] samples` (LIME).
pub const DEFAULT_LIME_SAMPLES: usize = 200;
/// Fewest `[[attribution]] samples`.
pub const MIN_LIME_SAMPLES: usize = 10;
/// Most `[[attribution]] samples`.
pub const MAX_LIME_SAMPLES: usize = 100_000;
/// Most `[[attribution]] steps`.
pub const MAX_ATTRIBUTION_STEPS: usize = 10_000;
/// Widest `[[attribution]] window`.
pub const MAX_OCCLUSION_WINDOW: usize = 1_000;

/// A resolved `[[attribution]]`: per-token attributions of a target logit over an input set.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionSpec {
    /// The logit explained.
    pub target: Target,
    /// A logit subtracted from the target's (f = l_target − l_contrast), if any.
    pub contrast: Option<Target>,
    pub inputs: Vec<String>,
    /// The methods, in the order given (default all four).
    pub methods: Vec<AttributionMethod>,
    /// Integrated-gradients steps (midpoint rule), >= 1.
    pub steps: usize,
    pub baseline: AttributionBaseline,
    /// The site of the gradient methods (`embed` by default).
    pub site: SitePoint,
    /// Its layer, for per-layer sites.
    pub layer: Option<usize>,
    /// Occlusion window in tokens, >= 1.
    pub window: usize,
    /// LIME samples (masked inputs, the input itself included), >= [`MIN_LIME_SAMPLES`].
    pub samples: usize,
}

pub(super) fn resolve(
    parsed: &Parsed<RawAttribution>,
    r: &mut Resolver<'_>,
) -> Option<AttributionSpec> {
    let (t, raw) = (
        TableCtx::new("[[attribution]]", parsed),
        parsed.raw.get_ref(),
    );
    let target = r.required(&raw.target, "target", &t, None);
    let target = target.and_then(|target| r.target_key(target, "target", &t));
    let contrast = match &raw.contrast {
        Some(contrast) => r
            .target_key(contrast, "contrast", &t)
            .map(|c| Some((c, contrast.span()))),
        None => (!t.was_reported("contrast")).then_some(None),
    };
    let inputs = r.required_inputs(&raw.inputs, &t);
    let methods =
        r.optional_choice_list::<AttributionMethod>(&raw.methods, "methods", "method", &t);
    let methods = methods.map(|m| m.unwrap_or_else(|| AttributionMethod::ALL.to_vec()));
    let steps = r.count(
        &raw.steps,
        DEFAULT_ATTRIBUTION_STEPS,
        1..=MAX_ATTRIBUTION_STEPS,
        "steps",
        &t,
    );
    let baseline = r.choice(&raw.baseline, "baseline", &t);
    let window = r.count(
        &raw.window,
        DEFAULT_OCCLUSION_WINDOW,
        1..=MAX_OCCLUSION_WINDOW,
        "window",
        &t,
    );
    let samples = r.count(
        &raw.samples,
        DEFAULT_LIME_SAMPLES,
        MIN_LIME_SAMPLES..=MAX_LIME_SAMPLES,
        "samples",
        &t,
    );
    let site = match &raw.site {
        None if !t.was_reported("site") => Some(SitePoint::Embed),
        _ => r.choice(&raw.site, "site", &t),
    };
    let layer = site.and_then(|site| r.site_layer(site, &raw.layer, &raw.site, false, &t));
    let (target, contrast) = (target?, contrast?);
    if let Some((contrast, span)) = &contrast
        && *contrast == target
    {
        let message = "`contrast` in [[attribution]] is the target itself".to_string();
        let help = "the difference of a logit with itself is 0; name another class or \
                    token, or drop `contrast`";
        r.report(span.clone(), message, Some(help.into()));
        return None;
    }
    Some(AttributionSpec {
        target,
        contrast: contrast.map(|(c, _)| c),
        inputs: inputs?,
        methods: methods?,
        steps: steps?,
        baseline: baseline?,
        site: site?,
        layer: layer?,
        window: window?,
        samples: samples?,
    })
}
