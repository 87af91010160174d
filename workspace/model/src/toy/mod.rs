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
    /// One labelled example.
    fn sample(&self, rng: &mut ChaCha8Rng, tokenizer: &WordTokenizer) -> Example;
    /// Optimisation settings.
    fn schedule(&self) -> train::Schedule;
    /// Words the model must ignore; training also makes it insensitive to their embedding
    /// directions added at any position.
    fn nuisance_words(&self) -> &'static [&'static str] {
        &[]
    }
}

/// A training example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The input text.
    pub text: String,
    /// Index of the correct logit (class, or next-token id).
    pub label: u32,
    /// The same example with only its nuisance words redrawn; training penalises any logit
    /// difference between the two.
    pub nuisance_twin: Option<String>,
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
