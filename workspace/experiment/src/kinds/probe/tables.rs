//! The tables `[[probe]]` writes: `probe`, `probe_relative` and `decomposition`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (probe study, site, layer, concept): how well the concept is linearly
    /// decodable there, against every random set, next to chance.
    #[table("probe", keys = [concept, layer, site, pooling])]
    pub struct ProbeRow {
        /// concept name (a `[concepts.NAME]` table)
        pub concept: String,
        /// block index, from 0
        pub layer: usize,
        /// activation site, e.g. `resid_post` (see `cavern schema`)
        pub site: String,
        /// how token activations were pooled: `mean` over real tokens or the `last` real token
        pub pooling: String,
        /// mean accuracy of the concept-vs-random CAVs, one per random set
        pub accuracy_mean: f64,
        /// their standard deviation over random sets
        pub accuracy_std: f64,
        /// lower end of the 95% percentile-bootstrap interval of `accuracy_mean` (1000
        /// resamples of the per-set accuracies, seeded)
        pub accuracy_ci_low: f64,
        /// its upper end
        pub accuracy_ci_high: f64,
        /// mean accuracy of the random-vs-random CAVs at this layer and site: the chance
        /// baseline (≈ 0.5)
        pub random_accuracy_mean: f64,
        /// 5-fold cross-validated accuracy of a standardised logistic probe (L2 1.0) on a
        /// control task (Hewitt & Liang 2019) over the concept's examples and random set 0's,
        /// balanced: each text gets a seeded random label, equal texts equal labels (a
        /// sentence-level probe's "word type" is its text)
        pub control_accuracy: f64,
        /// the same probe's cross-validated accuracy on the real labels (concept vs random)
        /// minus `control_accuracy`, with the same folds
        pub selectivity: f64,
        /// mutual information between the label and that probe's cross-validated predictions
        /// (every example predicted by the probe that did not see it), in bits (plug-in with
        /// the Miller–Madow correction)
        pub mi_bits: f64,
        /// lower end of its 95% bootstrap interval (1000 resamples)
        pub mi_ci_low: f64,
        /// its upper end
        pub mi_ci_high: f64,
        /// uniform codelength / online codelength of the labels (Voita & Titov 2020: blocks at
        /// 0.1 % … 100 %, first block at least 10 examples, the same probe): ≫ 1 when the
        /// concept is easily extracted
        pub mdl_compression: f64,
        /// the same for the control labels: ≈ 1 (or below) when nothing is there to find
        pub control_mdl_compression: f64,
        /// number of random sets (CAVs per mean)
        pub random_sets: usize,
        /// examples per class a CAV was fitted on (with `folds`: all examples)
        pub n_train: usize,
        /// examples per class accuracy was measured on (with `folds`: all examples, each scored
        /// by the fold that left it out)
        pub n_test: usize,
    }
}

table_rows! {
    /// Written for `[[probe]]` studies with `relative = true`: one row per (site, layer,
    /// ordered pair of the study's concepts), the held-out accuracy of a CAV separating the
    /// first concept's examples from the second's (a relative CAV, Kim et al. 2018).
    #[table("probe_relative", keys = [concept, other, layer, site])]
    pub struct RelativeRow {
        /// the concept the direction points towards
        pub concept: String,
        /// the concept it points away from
        pub other: String,
        /// block index
        pub layer: usize,
        /// activation site
        pub site: String,
        /// held-out (or cross-validated) accuracy of the CAV
        pub accuracy: f64,
        /// examples per class fitted on
        pub n_train: usize,
        /// examples per class measured on
        pub n_test: usize,
    }
}

table_rows! {
    /// Written for `[[probe]]` studies with `decompose = true`: for each (concept, layer), the
    /// examples that carry the concept's direction (the normalised sum of its concept-vs-random
    /// CAV directions), up to 10, largest weight first. The direction is written as a
    /// non-negative combination `Σ αᵢ (φ(xᵢ) − μ)` of the concept examples' pooled activations,
    /// centred by the mean `μ` of the random pool, by non-negative least squares.
    #[table("decomposition", keys = [concept, layer, site, rank])]
    pub struct DecompositionRow {
        /// concept name
        pub concept: String,
        /// block index
        pub layer: usize,
        /// activation site
        pub site: String,
        /// 1 for the largest weight
        pub rank: usize,
        /// index of the example in the concept's set (as in the `examples` table)
        pub example: usize,
        /// the example
        pub text: String,
        /// its weight αᵢ ≥ 0
        pub weight: f64,
        /// αᵢ over the sum of all weights
        pub share: f64,
        /// ‖Σ αᵢ (φ(xᵢ) − μ) − v‖ / ‖v‖: how much of the direction the examples leave
        /// unexplained (same on every row of the cell)
        pub residual: f64,
    }
}

/// Everything a probe study writes.
#[derive(Debug, Default)]
pub struct ProbeOutput {
    /// One row per (site, layer, concept).
    pub rows: Vec<ProbeRow>,
    /// Relative CAVs, with `relative = true`.
    pub relative: Vec<RelativeRow>,
    /// The examples that carry each direction, with `decompose = true`.
    pub decomposition: Vec<DecompositionRow>,
}

impl Outputs for ProbeOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.rows, &mut self.relative, &mut self.decomposition]
    }
}
