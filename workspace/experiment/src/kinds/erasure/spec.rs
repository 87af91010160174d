//! `[[erasure]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawInputs, RawSource, RawTarget};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx, Target};
use cavern_model::SitePoint;
use cavern_probe::Pooling;
use serde::Deserialize;
use toml::Spanned;

/// `[[erasure]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawErasure {
    pub concept: Option<Spanned<String>>,
    pub layer: Option<Spanned<i64>>,
    pub site: Option<Spanned<String>>,
    pub pooling: Option<Spanned<String>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub inputs: Option<Spanned<RawInputs>>,
    pub target: Option<Spanned<RawTarget>>,
    pub holdout: Option<Spanned<f64>>,
    pub covariance: Option<Spanned<String>>,
}

impl RawTable for RawErasure {
    const KEYS: &'static [&'static str] = &[
        "concept",
        "layer",
        "site",
        "pooling",
        "methods",
        "inputs",
        "target",
        "holdout",
        "covariance",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS), ("target", RawTarget::KEYS)];
}

choice_enum! {
    /// A concept-erasure method of `[[erasure]]`.
    ErasureMethod {
        /// LEACE (Belrose et al. 2023), fitted on the concept vs the random pool.
        Leace = "leace",
        /// Directional ablation: the component along the concept's CAV is removed.
        ProjectOut = "project_out",
    }
}

choice_enum! {
    /// The covariance estimate LEACE whitens with.
    ErasureCovariance {
        /// The sample covariance, pseudo-inverted where rank-deficient (the paper's closed form).
        Sample = "sample",
        /// Ledoit–Wolf shrinkage towards a multiple of the identity.
        LedoitWolf = "ledoit_wolf",
    }
}

/// Default `[[erasure]]` held-out fraction of the fresh probe.
pub const DEFAULT_ERASURE_HOLDOUT: f64 = 0.3;

/// A resolved `[[erasure]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErasureSpec {
    pub concept: String,
    pub layer: usize,
    pub site: SitePoint,
    pub pooling: Pooling,
    pub methods: Vec<ErasureMethod>,
    /// Inputs the model's output change is measured on.
    pub inputs: Vec<String>,
    /// The target whose probability is tracked; the unsteered prediction when absent.
    pub target: Option<Target>,
    pub holdout: f64,
    pub covariance: ErasureCovariance,
}

pub(super) fn resolve(parsed: &Parsed<RawErasure>, r: &mut Resolver<'_>) -> Option<ErasureSpec> {
    let (t, raw) = (TableCtx::new("[[erasure]]", parsed), parsed.raw.get_ref());
    let concept = r.required(&raw.concept, "concept", &t, None);
    let concept = concept.and_then(|c| r.concept_trained(c, &t));
    let site = r.residual_site(&raw.site, &t);
    let layer = r.required(&raw.layer, "layer", &t, None);
    let layer = layer.and_then(|layer| r.layer_index(layer, t.name));
    let site = site.and_then(|site| r.per_layer(site, &raw.site, &t));
    let pooling = r.choice(&raw.pooling, "pooling", &t);
    let methods = r.optional_choice_list::<ErasureMethod>(&raw.methods, "methods", "method", &t);
    let methods = methods.map(|m| m.unwrap_or_else(|| ErasureMethod::ALL.to_vec()));
    let help = "the texts on which the model's output change is measured: a file of texts, \
                one per line, or a table with `file`, `examples` or `template`";
    let inputs = r.required(&raw.inputs, "inputs", &t, Some(help.into()));
    let inputs = inputs.and_then(|inputs| r.inputs(inputs, &t));
    let target = r.optional_target(&raw.target, &t);
    let holdout = r.fraction(&raw.holdout, DEFAULT_ERASURE_HOLDOUT, "holdout", &t);
    let covariance = r.choice(&raw.covariance, "covariance", &t);
    Some(ErasureSpec {
        concept: concept?,
        layer: layer?,
        site: site?,
        pooling: pooling?,
        methods: methods?,
        inputs: inputs?,
        target: target?,
        holdout: holdout?,
        covariance: covariance?,
    })
}
