//! Built-in toy tasks: synthetic languages whose ground truth is known, and the deterministic
//! training that produces the committed checkpoints.

pub mod recall;
pub mod sentiment;
pub mod train;

use crate::config::TransformerConfig;
use crate::tokenizer::WordTokenizer;
use rand_chacha::ChaCha8Rng;

/// A synthetic task a toy model is trained on.
pub trait ToyTask: Send + Sync {
    /// Model name, e.g. `toy-sentiment`.
    fn name(&self) -> &'static str;
    /// One sentence for `cavern models list`.
    fn description(&self) -> &'static str;
    /// The task's vocabulary.
    fn tokenizer(&self) -> WordTokenizer;
    /// The architecture trained on it.
    fn config(&self, vocab_size: usize) -> TransformerConfig;
    /// Class names for classifiers; empty for language models.
    fn class_names(&self) -> Vec<String>;
    /// One labelled example: its text and the index of the correct logit.
    fn sample(&self, rng: &mut ChaCha8Rng, tokenizer: &WordTokenizer) -> (String, u32);
    /// Optimisation settings.
    fn schedule(&self) -> train::Schedule;
}

/// Names of every toy task, in the order `cavern models list` shows them.
pub const TOY_NAMES: [&str; 2] = ["toy-sentiment", "toy-recall"];

/// The task behind a toy model name.
pub fn task(name: &str) -> Option<Box<dyn ToyTask>> {
    match name {
        "toy-sentiment" => Some(Box::new(sentiment::SentimentTask)),
        "toy-recall" => Some(Box::new(recall::RecallTask)),
        _ => None,
    }
}
