//! The word-level tokenizer of the built-in toy languages.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Padding token (id 0).
pub const PAD: &str = "[pad]";
/// Unknown-word token (id 1).
pub const UNK: &str = "[unk]";

/// Splits on whitespace and lowercases; a word that is not in the vocabulary loses its surrounding
/// punctuation, and what is still unknown maps to [`UNK`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct WordTokenizer {
    words: Vec<String>,
    ids: HashMap<String, u32>,
}

impl From<Vec<String>> for WordTokenizer {
    fn from(words: Vec<String>) -> Self {
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        WordTokenizer { words, ids }
    }
}

impl From<WordTokenizer> for Vec<String> {
    fn from(t: WordTokenizer) -> Self {
        t.words
    }
}

impl WordTokenizer {
    /// A vocabulary of [`PAD`], [`UNK`] and then `words` in order.
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> WordTokenizer {
        let all = [PAD, UNK]
            .into_iter()
            .chain(words)
            .map(String::from)
            .collect::<Vec<_>>();
        WordTokenizer::from(all)
    }

    /// Id of the padding token.
    pub fn pad_id(&self) -> u32 {
        0
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.words.len()
    }

    /// The vocabulary, by id.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Id of an exact vocabulary entry.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// Token ids and the token strings they stand for.
    pub fn encode(&self, text: &str) -> (Vec<u32>, Vec<String>) {
        let unk = self.ids[UNK];
        text.split_whitespace()
            .map(str::to_lowercase)
            .map(|w| match self.ids.contains_key(&w) {
                true => w,
                false => w
                    .trim_matches(|c: char| c.is_ascii_punctuation())
                    .to_string(),
            })
            .filter(|w| !w.is_empty())
            .map(|w| match self.ids.get(&w) {
                Some(&id) => (id, w),
                None => (unk, w),
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_strips_punctuation_and_maps_unknowns() {
        let t = WordTokenizer::new(["the", "film", "good", "="]);
        let (ids, tokens) = t.encode("The film, was GOOD! =");
        assert_eq!(ids, vec![2, 3, 1, 4, 5]);
        assert_eq!(tokens, vec!["the", "film", "was", "good", "="]);
        assert_eq!(t.encode(" ... ").0, Vec::<u32>::new());
    }
}
