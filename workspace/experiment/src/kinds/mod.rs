//! The study kinds, one module each: its table in the experiment file and resolved spec, its
//! documentation, its run, its tables and its report section, with its tests. The registry
//! lists them; nothing else does.

pub mod adversarial;
pub mod attention;
pub mod attribution;
pub mod counterfactual;
pub mod erasure;
pub mod influence;
pub mod logit_lens;
pub mod neighbors;
pub mod patching;
pub mod probe;
pub mod pruning;
pub mod steering;
pub mod surrogate;
pub mod tcav;
