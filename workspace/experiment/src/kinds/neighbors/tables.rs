//! The tables `[[neighbors]]` writes: `neighbors` and `prototypes`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// Written for `[[neighbors]]` studies: for each input, its `k` nearest reference examples by
    /// cosine similarity of the pooled activations at the study's site. Rows follow the studies
    /// in file order, then the inputs, then rank.
    #[table("neighbors", keys = [study, input, rank])]
    pub struct Neighbor {
        /// index of the `[[neighbors]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input text
        pub text: String,
        /// the model's most likely class for the input; empty when the model has no classes
        pub prediction: String,
        /// 1 for the most similar example (ties: the earlier example)
        pub rank: usize,
        /// the reference example
        pub example: String,
        /// the `[concepts]` set it comes from
        pub label: String,
        /// cosine similarity of the input's and the example's pooled activations
        pub cosine: f64,
        /// the model's most likely class for the example; empty without classes
        pub example_prediction: String,
    }
}

table_rows! {
    /// Written for `[[neighbors]]` studies with `prototypes` > 0: MMD-critic's prototypes, then
    /// its criticisms, of the study's reference set, each in the order chosen.
    #[table("prototypes", keys = [study, kind, rank])]
    pub struct Prototype {
        /// index of the `[[neighbors]]` study in the file, from 0
        pub study: usize,
        /// `prototype` or `criticism`
        pub kind: String,
        /// order of selection, from 1
        pub rank: usize,
        /// the reference example
        pub example: String,
        /// the `[concepts]` set it comes from
        pub label: String,
        /// the MMD witness at the example for all the study's prototypes: mean kernel to the
        /// reference set − mean kernel to the prototypes (positive: the prototypes
        /// under-represent the example's neighbourhood; negative: they over-represent it)
        pub witness: f64,
        /// the model's most likely class for the example; empty without classes
        pub prediction: String,
    }
}

/// Everything a neighbors study writes.
#[derive(Debug, Default)]
pub struct NeighborsOutput {
    /// `neighbors` rows.
    pub neighbors: Vec<Neighbor>,
    /// `prototypes` rows.
    pub prototypes: Vec<Prototype>,
}

impl Outputs for NeighborsOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.neighbors, &mut self.prototypes]
    }
}
