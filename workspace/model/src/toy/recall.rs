//! `toy-recall`: after six random symbols and `=`, the next token is a copy of the second symbol,
//! so the position that carries the answer is known.

use super::train::Schedule;
use super::{Example, ToyTask};
use crate::config::*;
use crate::tokenizer::WordTokenizer;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

/// The symbols sequences are made of.
pub const SYMBOLS: [&str; 16] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
];
/// Symbols before the query marker.
pub const SEQUENCE_LEN: usize = 6;
/// Index (0-based) of the symbol the model must copy.
pub const ANSWER_POSITION: usize = 1;
/// The query marker that ends every prompt.
pub const QUERY: &str = "=";

/// Draws a prompt `s0 s1 ... s5 =` and its answer `s1`.
pub fn prompt(rng: &mut ChaCha8Rng) -> (String, &'static str) {
    let symbols: Vec<&str> = (0..SEQUENCE_LEN)
        .map(|_| SYMBOLS.choose(rng).copied().unwrap_or("a"))
        .collect();
    (
        format!("{} {QUERY}", symbols.join(" ")),
        symbols[ANSWER_POSITION],
    )
}

/// The `toy-recall` task: a 2-layer Llama-like decoder (RMSNorm, RoPE, SwiGLU, tied embeddings),
/// pruned after training to the heads the task needs.
pub struct RecallTask;

impl ToyTask for RecallTask {
    fn name(&self) -> &'static str {
        "toy-recall"
    }

    fn description(&self) -> &'static str {
        "2-layer Llama-like decoder: after `s0 .. s5 =` it predicts a copy of s1 (one head, 1.1, copies)"
    }

    fn tokenizer(&self) -> WordTokenizer {
        WordTokenizer::new(SYMBOLS.into_iter().chain([QUERY]))
    }

    fn config(&self, vocab_size: usize) -> TransformerConfig {
        TransformerConfig {
            architecture: Architecture::PreNormDecoder,
            vocab_size,
            d_model: 32,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            d_head: 8,
            d_mlp: 64,
            norm: NormKind::RmsNorm,
            norm_eps: 1e-5,
            positions: Positions::Rope(RopeConfig::new(10000.0, RopeLayout::AdjacentPairs)),
            activation: MlpActivation::SwiGlu,
            attention_bias: AttentionBias::None,
            mlp_bias: false,
            head: OutputHead::LanguageModel { tied: true },
            pad_id: 0,
            options: FamilyOptions::default(),
        }
    }

    fn class_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn sample(&self, rng: &mut ChaCha8Rng, tokenizer: &WordTokenizer) -> Example {
        let (text, answer) = prompt(rng);
        Example {
            text,
            label: tokenizer.id(answer).unwrap_or(0),
            nuisance_twin: None,
        }
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            steps: 1500,
            batch_size: 64,
            learning_rate: 3e-3,
            pruning_steps: 200,
        }
    }
}
