//! Concept activation vectors and the scores built on them: CAV accuracy, CAP and TCAV
//! directional derivatives, and LEACE concept erasure.

pub mod attention;
pub mod attention_flow;
pub mod attribution;
pub mod cav;
pub mod control;
pub mod decompose;
pub mod error;
pub mod examples;
pub mod head;
pub mod influence;
pub mod leace;
pub mod lime;
pub mod mdl;
pub mod measures;
pub mod pool;
pub mod shap;
pub mod shapley;
pub mod student;
pub mod surrogate;
pub mod tcav;

pub use cav::{Cav, CavMethod, CavOptions, Validation, train_cav};
pub use error::ProbeError;
pub use head::{Head, train_head};
pub use leace::{Eraser, fit_leace};
pub use pool::Pooling;
