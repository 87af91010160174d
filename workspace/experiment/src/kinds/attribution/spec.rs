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
    pub shap_exact_max: Option<Spanned<usize>>,
    pub shap_samples: Option<Spanned<usize>>,
}

impl RawTable for RawAttribution {
    const KEYS: &'static [&'static str] = &[
        "target",
        "contrast",
        "inputs",
        "methods",
        "steps",
        "baseline",
        "site",
        "layer",
        "window",
        "samples",
        "shap_exact_max",
        "shap_samples",
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
        /// Shapley values of the tokens in the game v(S) = f(input with only S kept).
        Shap = "shap",
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

/// The methods of an `[[attribution]]` without `methods`: all but `shap`, whose 2^n masked
/// inputs per input are asked for by name.
pub const DEFAULT_METHODS: [AttributionMethod; 5] = [
    AttributionMethod::Saliency,
    AttributionMethod::GradientXInput,
    AttributionMethod::IntegratedGradients,
    AttributionMethod::Occlusion,
    AttributionMethod::Lime,
];

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

/// Default `[[attribution]] shap_samples`: permutations when SHAP samples (32 antithetic
/// pairs).
pub const DEFAULT_SHAP_SAMPLES: usize = 2 * cavern_probe::shap::DEFAULT_PAIRS;
/// Fewest `[[attribution]] shap_samples`: two antithetic pairs, for a standard error.
pub const MIN_SHAP_SAMPLES: usize = 2 * cavern_probe::shapley::MIN_PAIRS;
/// Most `[[attribution]] shap_samples`.
pub const MAX_SHAP_SAMPLES: usize = 100_000;

/// A resolved `[[attribution]]`: per-token attributions of a target logit over an input set.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionSpec {
    /// The logit explained.
    pub target: Target,
    /// A logit subtracted from the target's (f = l_target − l_contrast), if any.
    pub contrast: Option<Target>,
    pub inputs: Vec<String>,
    /// The methods, in the order given (default [`DEFAULT_METHODS`]).
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
    /// SHAP enumerates every coalition of up to this many maskable tokens, at most
    /// [`cavern_probe::shapley::MAX_EXACT_PLAYERS`].
    pub shap_exact_max: usize,
    /// SHAP's sampled permutations beyond `shap_exact_max`: an even number, >=
    /// [`MIN_SHAP_SAMPLES`].
    pub shap_samples: usize,
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
    let methods = methods.map(|m| m.unwrap_or_else(|| DEFAULT_METHODS.to_vec()));
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
    let shap_exact_max = r.count(
        &raw.shap_exact_max,
        cavern_probe::shap::DEFAULT_EXACT_MAX,
        0..=cavern_probe::shapley::MAX_EXACT_PLAYERS,
        "shap_exact_max",
        &t,
    );
    let shap_samples = r.count(
        &raw.shap_samples,
        DEFAULT_SHAP_SAMPLES,
        MIN_SHAP_SAMPLES..=MAX_SHAP_SAMPLES,
        "shap_samples",
        &t,
    );
    let shap_samples = shap_samples.and_then(|n| match &raw.shap_samples {
        Some(value) if n % 2 == 1 => {
            let message =
                format!("`shap_samples` in [[attribution]] is {n}, an odd number of permutations");
            let help = format!(
                "permutations come in antithetic pairs (each with its reverse); use {} or {}",
                n - 1,
                n + 1
            );
            r.report(value.span(), message, Some(help));
            None
        }
        _ => Some(n),
    });
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
        shap_exact_max: shap_exact_max?,
        shap_samples: shap_samples?,
    })
}
