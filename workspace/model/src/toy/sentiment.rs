//! `toy-sentiment`: the label is the polarity of the one sentiment word, flipped by a negation;
//! colour words appear at random, and training pairs every sentence with a twin whose colours are
//! redrawn and penalises any difference in their logits, and adds random mixtures of colour
//! embeddings at every position with the same penalty, so the model ignores colours both as tokens
//! and as directions.

use super::train::Schedule;
use super::{Example, ToyTask};
use crate::config::*;
use crate::tokenizer::WordTokenizer;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

/// Words that make a sentence positive.
pub const POSITIVE: [&str; 8] = [
    "good",
    "great",
    "superb",
    "lovely",
    "wonderful",
    "excellent",
    "delightful",
    "brilliant",
];
/// Words that make a sentence negative.
pub const NEGATIVE: [&str; 8] = [
    "bad", "awful", "terrible", "dreadful", "poor", "horrible", "boring", "dull",
];
/// Words that flip the polarity.
pub const NEGATIONS: [&str; 2] = ["not", "never"];
/// Things being reviewed.
pub const NOUNS: [&str; 8] = [
    "film", "meal", "book", "song", "hotel", "game", "play", "show",
];
/// The nuisance: colours appear at random and never change the label.
pub const COLOURS: [&str; 8] = [
    "red", "blue", "green", "yellow", "purple", "orange", "brown", "grey",
];
const DETERMINERS: [&str; 3] = ["the", "a", "this"];
const VERBS: [&str; 2] = ["was", "is"];
const INTENSIFIERS: [&str; 3] = ["very", "really", "quite"];
const OTHER: [&str; 3] = ["it", "and", "in"];

/// Class index of negative sentences.
pub const NEGATIVE_CLASS: u32 = 0;
/// Class index of positive sentences.
pub const POSITIVE_CLASS: u32 = 1;

/// One generated sentence with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// The words, space-separated.
    pub text: String,
    /// Whether the sentiment word is positive.
    pub positive_word: bool,
    /// Whether a negation flips it.
    pub negated: bool,
    /// How many colour words occur.
    pub colours: usize,
}

impl Sentence {
    /// The class index: positive word XOR negation.
    pub fn label(&self) -> u32 {
        if self.positive_word != self.negated {
            POSITIVE_CLASS
        } else {
            NEGATIVE_CLASS
        }
    }
}

/// The choices behind a sentence, except its colours.
struct Skeleton {
    determiner: Option<&'static str>,
    noun: &'static str,
    verb: &'static str,
    negation: Option<&'static str>,
    intensifier: Option<&'static str>,
    adjective: &'static str,
    positive_word: bool,
}

impl Skeleton {
    fn draw(rng: &mut ChaCha8Rng) -> Skeleton {
        let determiner = rng.random_bool(0.8).then(|| pick(rng, &DETERMINERS));
        let noun = pick(rng, &NOUNS);
        let verb = pick(rng, &VERBS);
        let negation = rng.random_bool(0.5).then(|| pick(rng, &NEGATIONS));
        let intensifier = rng.random_bool(0.3).then(|| pick(rng, &INTENSIFIERS));
        let positive_word = rng.random_bool(0.5);
        let adjective = pick(rng, if positive_word { &POSITIVE } else { &NEGATIVE });
        Skeleton {
            determiner,
            noun,
            verb,
            negation,
            intensifier,
            adjective,
            positive_word,
        }
    }

    /// Renders the sentence with freshly drawn colours: 0–2 before the noun, and `in <colour>`
    /// at the end 30% of the time.
    fn render(&self, rng: &mut ChaCha8Rng) -> Sentence {
        let mut words: Vec<&str> = Vec::new();
        let mut colours = 0;
        match self.determiner {
            Some(determiner) => {
                words.push(determiner);
                for _ in 0..rng.random_range(0..=2) {
                    words.push(pick(rng, &COLOURS));
                    colours += 1;
                }
                words.push(self.noun);
            }
            None => words.push("it"),
        }
        words.push(self.verb);
        words.extend(self.negation);
        words.extend(self.intensifier);
        words.push(self.adjective);
        if rng.random_bool(0.3) {
            words.extend(["in", pick(rng, &COLOURS)]);
            colours += 1;
        }
        Sentence {
            text: words.join(" "),
            positive_word: self.positive_word,
            negated: self.negation.is_some(),
            colours,
        }
    }
}

/// Draws a sentence of the language: `[det colour* noun verb | it verb] [neg] [intens] adj [in colour]`.
pub fn sentence(rng: &mut ChaCha8Rng) -> Sentence {
    Skeleton::draw(rng).render(rng)
}

/// Draws a sentence and a twin that differs only in its colour words.
pub fn sentence_with_colour_twin(rng: &mut ChaCha8Rng) -> (Sentence, Sentence) {
    let skeleton = Skeleton::draw(rng);
    let first = skeleton.render(rng);
    (first, skeleton.render(rng))
}

fn pick<'a>(rng: &mut ChaCha8Rng, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or_default()
}

/// The `toy-sentiment` task: a 2-layer post-norm encoder classifier.
pub struct SentimentTask;

impl ToyTask for SentimentTask {
    fn name(&self) -> &'static str {
        "toy-sentiment"
    }

    fn description(&self) -> &'static str {
        "2-layer BERT-like classifier: polarity of the sentiment word, flipped by `not`/`never`; colours change neither label nor logits"
    }

    fn tokenizer(&self) -> WordTokenizer {
        let groups: [&[&str]; 9] = [
            &POSITIVE,
            &NEGATIVE,
            &NEGATIONS,
            &NOUNS,
            &COLOURS,
            &DETERMINERS,
            &VERBS,
            &INTENSIFIERS,
            &OTHER,
        ];
        WordTokenizer::new(groups.into_iter().flatten().copied())
    }

    fn config(&self, vocab_size: usize) -> TransformerConfig {
        TransformerConfig {
            architecture: Architecture::PostNormEncoder,
            vocab_size,
            d_model: 32,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 4,
            d_head: 8,
            d_mlp: 64,
            norm: NormKind::LayerNorm,
            norm_eps: 1e-5,
            positions: Positions::Learned { max_len: 16 },
            activation: MlpActivation::Gelu,
            attention_bias: AttentionBias::All,
            mlp_bias: true,
            head: OutputHead::Classifier { n_classes: 2 },
            pad_id: 0,
            options: FamilyOptions::default(),
        }
    }

    fn class_names(&self) -> Vec<String> {
        vec!["negative".into(), "positive".into()]
    }

    fn sample(&self, rng: &mut ChaCha8Rng, _tokenizer: &WordTokenizer) -> Example {
        let (s, twin) = sentence_with_colour_twin(rng);
        Example {
            label: s.label(),
            text: s.text,
            nuisance_twin: Some(twin.text),
        }
    }

    fn nuisance_words(&self) -> &'static [&'static str] {
        &COLOURS
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            steps: 1500,
            batch_size: 64,
            learning_rate: 3e-3,
            pruning_steps: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn colour_twins_differ_only_in_colours() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..200 {
            let (a, b) = sentence_with_colour_twin(&mut rng);
            let strip = |s: &Sentence| {
                s.text
                    .split(' ')
                    .filter(|w| !COLOURS.contains(w) && *w != "in")
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            assert_eq!(strip(&a), strip(&b));
            assert_eq!(a.label(), b.label());
        }
    }

    #[test]
    fn label_is_word_polarity_xor_negation_and_ignores_colours() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let s = sentence(&mut rng);
            let words: Vec<&str> = s.text.split(' ').collect();
            let positive = words.iter().any(|w| POSITIVE.contains(w));
            let negated = words.iter().any(|w| NEGATIONS.contains(w));
            let colours = words.iter().filter(|w| COLOURS.contains(w)).count();
            assert_eq!(
                s.label() == POSITIVE_CLASS,
                positive != negated,
                "{}",
                s.text
            );
            assert_eq!(colours, s.colours);
        }
    }
}
