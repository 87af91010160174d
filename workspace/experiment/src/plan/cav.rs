//! The keys of the study kinds that train concept activation vectors against the random sets
//! (`[[probe]]` and `[[tcav]]`): which concepts, layers, site and pooling, and how the CAVs are
//! trained and scored.

use super::raw::RawLayers;
use super::resolver::{Resolver, TableCtx};
use cavern_model::SitePoint;
use cavern_probe::{CavMethod, CavOptions, Pooling, Validation};
use toml::Spanned;

/// Default logistic-regression L2 penalty.
pub const DEFAULT_L2: f64 = 0.01;
/// Default optimiser iteration budget.
pub const DEFAULT_MAX_ITERATIONS: usize = 200;
/// Default held-out fraction for CAV accuracy.
pub const DEFAULT_HOLDOUT: f64 = 0.3;
/// Smallest number of cross-validation folds.
pub const MIN_FOLDS: usize = 2;
/// Most folds of k-fold cross-validation.
pub const MAX_FOLDS: usize = 100;
/// Most optimiser iterations (`max_iterations` of a CAV study or the `[head]`).
pub const MAX_ITERATIONS: usize = 100_000;

/// The options CAVs are trained with unless a study says otherwise.
pub fn default_cav_options() -> CavOptions {
    CavOptions {
        method: CavMethod::Logistic,
        l2: DEFAULT_L2,
        max_iterations: DEFAULT_MAX_ITERATIONS as u64,
        validation: Validation::Holdout(DEFAULT_HOLDOUT),
    }
}

/// The CAV keys as written, borrowed from a study's table.
#[derive(Debug, Clone, Copy)]
pub struct RawCavKeys<'a> {
    pub concepts: &'a Option<Spanned<Vec<Spanned<String>>>>,
    pub layers: &'a Option<Spanned<RawLayers>>,
    pub site: &'a Option<Spanned<String>>,
    pub pooling: &'a Option<Spanned<String>>,
    pub method: &'a Option<Spanned<String>>,
    pub l2: &'a Option<Spanned<f64>>,
    pub max_iterations: &'a Option<Spanned<usize>>,
    pub holdout: &'a Option<Spanned<f64>>,
    pub folds: &'a Option<Spanned<usize>>,
}

impl RawCavKeys<'_> {
    /// The keys, for a table's list of accepted keys.
    pub const KEYS: &'static [&'static str] = &[
        "concepts",
        "layers",
        "site",
        "pooling",
        "method",
        "l2",
        "max_iterations",
        "holdout",
        "folds",
    ];
}

/// The resolved CAV keys.
#[derive(Debug, Clone, PartialEq)]
pub struct CavKeys {
    pub concepts: Vec<String>,
    pub layers: Vec<usize>,
    pub site: SitePoint,
    pub pooling: Pooling,
    pub cav: CavOptions,
}

impl Resolver<'_> {
    /// Resolves the CAV keys of a table.
    pub fn cav_keys(&mut self, raw: RawCavKeys<'_>, t: &TableCtx<'_>) -> Option<CavKeys> {
        let concepts = self.required(raw.concepts, "concepts", t, None);
        let concepts = concepts.and_then(|list| self.concept_refs(list, t.name));
        let layers = self.required(raw.layers, "layers", t, None);
        let layers = layers.and_then(|layers| self.layers(layers, t.name));
        let site = self.choice(raw.site, "site", t);
        let pooling = self.choice(raw.pooling, "pooling", t);
        let method = self.choice(raw.method, "method", t);
        let l2 = self.penalty(raw.l2, DEFAULT_L2, t);
        let iterations = raw.max_iterations;
        let max_iterations = self.count(
            iterations,
            DEFAULT_MAX_ITERATIONS,
            1..=MAX_ITERATIONS,
            "max_iterations",
            t,
        );
        let validation = self.validation(raw, t);
        Some(CavKeys {
            concepts: concepts?,
            layers: layers?,
            site: site?,
            pooling: pooling?,
            cav: CavOptions {
                method: method?,
                l2: l2?,
                max_iterations: max_iterations? as u64,
                validation: validation?,
            },
        })
    }

    /// `holdout = f` or `folds = k` (not both); a 0.3 holdout when neither is given.
    fn validation(&mut self, raw: RawCavKeys<'_>, t: &TableCtx<'_>) -> Option<Validation> {
        if let (Some(_), Some(folds)) = (raw.holdout, raw.folds) {
            let message = format!("{} sets both `holdout` and `folds`", t.name);
            self.report(
                folds.span(),
                message,
                Some("keep one: a held-out fraction, or k-fold cross-validation".into()),
            );
            return None;
        }
        if raw.folds.is_some() {
            let folds = self.count(raw.folds, MIN_FOLDS, MIN_FOLDS..=MAX_FOLDS, "folds", t)?;
            return Some(Validation::Folds(folds));
        }
        self.fraction(raw.holdout, DEFAULT_HOLDOUT, "holdout", t)
            .map(Validation::Holdout)
    }
}
