//! Byte-level BPE tokenizers (GPT-2 style) rebuilt from a GGUF file's `tokenizer.ggml.*` metadata.
//!
//! [`BpeTokenizer::from_gguf`] reads the vocabulary, merges, token types and special-token ids
//! that llama.cpp's converter writes for `tokenizer.ggml.model = "gpt2"`, and the pre-tokenizer
//! named by `tokenizer.ggml.pre`. Encoding follows Hugging Face `tokenizers`:
//!
//! 1. control and user-defined tokens (token types 3 and 4, e.g. `<|im_start|>`) are matched
//!    verbatim first, leftmost and then longest, like Hugging Face's added tokens;
//! 2. the text between them is pre-tokenized into words (see [`PreTokenizer`]);
//! 3. each word's UTF-8 bytes are spelled in GPT-2's byte alphabet and merged pair by pair, the
//!    lowest merge rank first (rank = index in `tokenizer.ggml.merges`);
//! 4. the resulting symbols are looked up in the vocabulary.
//!
//! No BOS (or EOS) token is ever added: SmolLM2's Hugging Face tokenizer adds none when encoding
//! plain text, and callers that want one prepend [`BpeTokenizer::bos_id`] themselves.
//!
//! Every function here accepts any UTF-8 text and any id list without panicking.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use regex::Regex;

use crate::ModelError;
use crate::gguf::GgufFile;
use crate::gguf_vocab::{
    TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED, invalid, meta_id, meta_str, meta_strings,
    token_types,
};

/// The GPT-2 word pattern without its `\s+(?!\S)` alternative, whose lookahead the `regex` crate
/// lacks; [`BpeTokenizer::split_words`] emulates it on the `\s+` matches.
const GPT2_WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+";
/// Symbol of a byte that has no token of its own in the vocabulary.
const UNKNOWN: u32 = u32::MAX;
/// Words kept in the BPE cache before it is emptied.
const CACHE_LIMIT: usize = 1 << 16;

/// Merges by pair of token ids: `(left, right)` → `(rank, merged id)`.
type MergeTable = HashMap<(u32, u32), (u32, u32)>;
/// Special tokens with their ids, longest first, and whether each id is special.
type SpecialTable = (Vec<(String, u32)>, Vec<bool>);

/// How text between special tokens is cut into words before BPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (`tokenizer.ggml.pre = "gpt-2"`).
    Gpt2,
    /// Every numeric character (`\p{N}`) split off on its own first, then the GPT-2 regex on each
    /// piece: Hugging Face's `Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)]`,
    /// llama.cpp's `"smollm"` and `"starcoder"`.
    DigitsThenGpt2,
}

impl PreTokenizer {
    /// The pre-tokenizer a `tokenizer.ggml.pre` value names, if it is one this module implements.
    pub fn from_gguf_name(name: &str) -> Option<PreTokenizer> {
        match name {
            "gpt-2" | "gpt2" => Some(PreTokenizer::Gpt2),
            "smollm" | "starcoder" => Some(PreTokenizer::DigitsThenGpt2),
            _ => None,
        }
    }
}

/// The ids of the tokens with a role: beginning and end of sequence, padding, unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecialIds {
    /// Beginning of sequence (`tokenizer.ggml.bos_token_id`).
    pub bos: Option<u32>,
    /// End of sequence (`tokenizer.ggml.eos_token_id`).
    pub eos: Option<u32>,
    /// Padding (`tokenizer.ggml.padding_token_id`).
    pub pad: Option<u32>,
    /// Stands for a byte that has no token (`tokenizer.ggml.unknown_token_id`); such bytes are
    /// dropped when it is unset, as Hugging Face's BPE does without an unknown token.
    pub unk: Option<u32>,
}

/// A byte-level BPE tokenizer. See the [module documentation](self).
pub struct BpeTokenizer {
    /// Token strings by id, spelled in the GPT-2 byte alphabet (special tokens verbatim).
    tokens: Vec<String>,
    /// Id of each token string (the first id when a string repeats).
    vocab: HashMap<String, u32>,
    /// `(left, right)` → `(rank, merged id)`.
    merges: MergeTable,
    /// The token of each single byte, [`UNKNOWN`] where the vocabulary has none.
    byte_ids: [u32; 256],
    /// Special tokens matched verbatim, longest first.
    specials: Vec<(String, u32)>,
    /// Whether each id is a special token (decoded verbatim).
    is_special: Vec<bool>,
    pre: PreTokenizer,
    ids: SpecialIds,
    words: Regex,
    /// BPE result per word.
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl fmt::Debug for BpeTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BpeTokenizer")
            .field("vocab_size", &self.tokens.len())
            .field("merges", &self.merges.len())
            .field("specials", &self.specials.len())
            .field("pre", &self.pre)
            .field("ids", &self.ids)
            .finish()
    }
}

/// A stretch of input text: a special token or ordinary text.
enum Segment<'a> {
    Special(u32),
    Text(&'a str),
}

impl BpeTokenizer {
    /// Builds a tokenizer from a vocabulary (`tokens[id]`, in the GPT-2 byte alphabet), merges
    /// (`"left right"`, rank = index), the ids of the tokens to match verbatim, and the
    /// pre-tokenizer.
    ///
    /// Fails when a merge is not two tokens separated by a space, names a token or makes one that
    /// is not in the vocabulary, or when an id is out of range.
    pub fn new(
        tokens: Vec<String>,
        merges: &[String],
        specials: &[u32],
        pre: PreTokenizer,
        ids: SpecialIds,
    ) -> Result<BpeTokenizer, ModelError> {
        let vocab = vocab_index(&tokens)?;
        let merges = merge_table(&vocab, merges)?;
        let (specials, is_special) = special_table(&tokens, specials)?;
        check_role_ids(&ids, tokens.len())?;
        let byte_ids = byte_table(&vocab);
        let words = Regex::new(GPT2_WORDS).map_err(|e| invalid(format!("word pattern: {e}")))?;
        Ok(BpeTokenizer {
            tokens,
            vocab,
            merges,
            byte_ids,
            specials,
            is_special,
            pre,
            ids,
            words,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Rebuilds the tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata.
    ///
    /// Needs `tokenizer.ggml.model = "gpt2"`, a `tokenizer.ggml.pre` this module implements (see
    /// [`PreTokenizer::from_gguf_name`]), `tokens` and `merges`; `token_type` and the role ids are
    /// optional.
    pub fn from_gguf(file: &GgufFile) -> Result<BpeTokenizer, ModelError> {
        let model = meta_str(file, "tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(invalid(format!(
                "tokenizer.ggml.model is {model:?}; only byte-level BPE (\"gpt2\") is supported"
            )));
        }
        let pre_name = meta_str(file, "tokenizer.ggml.pre")?;
        let pre = PreTokenizer::from_gguf_name(pre_name).ok_or_else(|| {
            invalid(format!(
                "tokenizer.ggml.pre is {pre_name:?}; supported: \"gpt-2\", \"smollm\", \"starcoder\""
            ))
        })?;
        let tokens = meta_strings(file, "tokenizer.ggml.tokens")?;
        let merges = meta_strings(file, "tokenizer.ggml.merges")?;
        let specials = special_ids_of(file, tokens.len())?;
        let ids = SpecialIds {
            bos: meta_id(file, "tokenizer.ggml.bos_token_id")?,
            eos: meta_id(file, "tokenizer.ggml.eos_token_id")?,
            pad: meta_id(file, "tokenizer.ggml.padding_token_id")?,
            unk: meta_id(file, "tokenizer.ggml.unknown_token_id")?,
        };
        BpeTokenizer::new(tokens, &merges, &specials, pre, ids)
    }

    /// The token ids of `text`. No BOS token is added.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for segment in self.split_specials(text) {
            match segment {
                Segment::Special(id) => ids.push(id),
                Segment::Text(text) => self.encode_text(text, &mut ids),
            }
        }
        ids
    }

    /// The token ids of `text` and each token's text: its bytes as UTF-8, with U+FFFD where a
    /// token holds only part of a character (an emoji split over two tokens, say).
    pub fn encode_with_tokens(&self, text: &str) -> (Vec<u32>, Vec<String>) {
        let ids = self.encode(text);
        let texts = ids.iter().map(|&id| self.decode(&[id])).collect();
        (ids, texts)
    }

    /// The text of a token sequence; special tokens are written verbatim. Bytes that do not form
    /// valid UTF-8 and ids outside the vocabulary become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            self.push_token_bytes(id, &mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The id of a token, spelled as in the vocabulary (GPT-2 byte alphabet: `"Ġthe"` for
    /// `" the"`; special tokens verbatim).
    pub fn id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// The vocabulary entry of `id`, as spelled in the vocabulary.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The beginning-of-sequence token, if the vocabulary names one.
    pub fn bos_id(&self) -> Option<u32> {
        self.ids.bos
    }

    /// The end-of-sequence token, if the vocabulary names one.
    pub fn eos_id(&self) -> Option<u32> {
        self.ids.eos
    }

    /// The padding token, if the vocabulary names one.
    pub fn pad_id(&self) -> Option<u32> {
        self.ids.pad
    }

    /// The pre-tokenizer in use.
    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre
    }

    /// Whether `id` is a special token (a GGUF control or user-defined token such as
    /// `<|im_start|>`); `false` outside the vocabulary.
    pub fn is_special(&self, id: u32) -> bool {
        self.is_special.get(id as usize).copied().unwrap_or(false)
    }

    /// Cuts `text` at its special tokens: the leftmost match first, the longest at one position.
    fn split_specials<'a>(&self, text: &'a str) -> Vec<Segment<'a>> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some((start, token, id)) = self.next_special(rest) {
            if start > 0 {
                segments.push(Segment::Text(&rest[..start]));
            }
            segments.push(Segment::Special(id));
            rest = &rest[start + token.len()..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest));
        }
        segments
    }

    /// The first special token in `text`: its byte offset, text and id.
    fn next_special(&self, text: &str) -> Option<(usize, &str, u32)> {
        let mut best: Option<(usize, &str, u32)> = None;
        // `specials` is sorted longest first, so on a tie the first found is the longest.
        for (token, id) in &self.specials {
            if let Some(start) = text.find(token.as_str())
                && best.is_none_or(|(b, _, _)| start < b)
            {
                best = Some((start, token.as_str(), *id));
            }
        }
        best
    }

    /// Appends the ids of ordinary text (no special tokens in it).
    fn encode_text(&self, text: &str, ids: &mut Vec<u32>) {
        for piece in self.pieces(text) {
            for word in self.split_words(piece) {
                self.encode_word(word, ids);
            }
        }
    }

    /// The first pre-tokenization step: the whole text, or with `\p{N}` characters split off.
    fn pieces<'a>(&self, text: &'a str) -> Vec<&'a str> {
        match self.pre {
            PreTokenizer::Gpt2 => vec![text],
            PreTokenizer::DigitsThenGpt2 => split_numeric(text),
        }
    }

    /// The GPT-2 regex's words of `piece`.
    ///
    /// `\s+(?!\S)` is emulated: a whitespace run of several characters followed by a
    /// non-whitespace character gives back its last character, which then starts the next word
    /// (`" ?\p{L}+"` and the like when it is a space, a lone `\s+` word otherwise).
    fn split_words<'a>(&self, piece: &'a str) -> Vec<&'a str> {
        let mut words = Vec::new();
        let mut pos = 0;
        while pos < piece.len() {
            let Some(found) = self.words.find_at(piece, pos) else {
                words.push(&piece[pos..]);
                break;
            };
            if found.start() > pos {
                // Unreachable (every character matches some alternative); kept so no text is lost.
                words.push(&piece[pos..found.start()]);
            }
            let end = lookahead_end(piece, found.start(), found.end());
            words.push(&piece[found.start()..end]);
            pos = end;
        }
        words
    }

    /// Appends the ids of one word, from the cache when it has been seen.
    fn encode_word(&self, word: &str, ids: &mut Vec<u32>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.get(word) {
            ids.extend_from_slice(cached);
            return;
        }
        let merged = self.bpe(word);
        ids.extend_from_slice(&merged);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(word.to_string(), merged);
    }

    /// BPE on one word: its bytes' tokens, merged by rank until no known pair is left.
    fn bpe(&self, word: &str) -> Vec<u32> {
        let mut symbols: Vec<u32> = word.bytes().map(|b| self.byte_ids[b as usize]).collect();
        while let Some((pair, merged)) = self.best_pair(&symbols) {
            symbols = merge_pair(&symbols, pair, merged);
        }
        match self.ids.unk {
            Some(unk) => symbols
                .iter()
                .map(|&s| if s == UNKNOWN { unk } else { s })
                .collect(),
            None => symbols.into_iter().filter(|&s| s != UNKNOWN).collect(),
        }
    }

    /// The adjacent pair with the lowest merge rank, and the token it merges into.
    fn best_pair(&self, symbols: &[u32]) -> Option<((u32, u32), u32)> {
        symbols
            .windows(2)
            .filter_map(|w| {
                let pair = (w[0], w[1]);
                self.merges
                    .get(&pair)
                    .map(|&(rank, merged)| (rank, pair, merged))
            })
            .min_by_key(|&(rank, _, _)| rank)
            .map(|(_, pair, merged)| (pair, merged))
    }

    /// Appends the bytes token `id` stands for.
    fn push_token_bytes(&self, id: u32, bytes: &mut Vec<u8>) {
        let Some(token) = self.tokens.get(id as usize) else {
            bytes.extend_from_slice("\u{FFFD}".as_bytes());
            return;
        };
        if self.is_special[id as usize] {
            bytes.extend_from_slice(token.as_bytes());
            return;
        }
        for c in token.chars() {
            match char_to_byte(c) {
                Some(b) => bytes.push(b),
                None => {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }
}

/// Where the word the regex matched at `start..end` really ends: one character earlier for a
/// whitespace run of two or more characters that a non-whitespace character follows.
fn lookahead_end(piece: &str, start: usize, end: usize) -> usize {
    let matched = &piece[start..end];
    let all_space = matched.chars().all(char::is_whitespace);
    if !all_space || end >= piece.len() {
        return end;
    }
    match matched.char_indices().last() {
        Some((last, _)) if last > 0 => start + last,
        _ => end,
    }
}

/// `text` with every numeric character (`\p{N}`: Nd, Nl, No, as `char::is_numeric` and Hugging
/// Face's `Digits` define it) as a piece of its own.
fn split_numeric(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_numeric() {
            if i > start {
                pieces.push(&text[start..i]);
            }
            let end = i + c.len_utf8();
            pieces.push(&text[i..end]);
            start = end;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// `symbols` with every occurrence of `pair`, left to right and not overlapping, replaced by
/// `merged`.
fn merge_pair(symbols: &[u32], pair: (u32, u32), merged: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(symbols.len());
    let mut i = 0;
    while i < symbols.len() {
        if i + 1 < symbols.len() && (symbols[i], symbols[i + 1]) == pair {
            out.push(merged);
            i += 2;
        } else {
            out.push(symbols[i]);
            i += 1;
        }
    }
    out
}

/// The id of each token string; the first id wins when a string repeats.
fn vocab_index(tokens: &[String]) -> Result<HashMap<String, u32>, ModelError> {
    if tokens.len() >= UNKNOWN as usize {
        return Err(invalid(format!("{} tokens is too many", tokens.len())));
    }
    let mut vocab = HashMap::with_capacity(tokens.len());
    for (id, token) in tokens.iter().enumerate() {
        vocab.entry(token.clone()).or_insert(id as u32);
    }
    Ok(vocab)
}

/// The merge table: `(left, right)` → `(rank, merged id)`; the first rank wins on repeats.
fn merge_table(vocab: &HashMap<String, u32>, merges: &[String]) -> Result<MergeTable, ModelError> {
    let mut table = HashMap::with_capacity(merges.len());
    for (rank, merge) in merges.iter().enumerate() {
        let (left, right) = merge
            .split_once(' ')
            .ok_or_else(|| invalid(format!("merge {rank} ({merge:?}) is not \"left right\"")))?;
        let lookup = |token: &str| {
            vocab.get(token).copied().ok_or_else(|| {
                invalid(format!(
                    "merge {rank} ({merge:?}): {token:?} is not in the vocabulary"
                ))
            })
        };
        let pair = (lookup(left)?, lookup(right)?);
        let merged = lookup(&format!("{left}{right}"))?;
        table.entry(pair).or_insert((rank as u32, merged));
    }
    Ok(table)
}

/// The special tokens, longest first, and a per-id flag.
fn special_table(tokens: &[String], specials: &[u32]) -> Result<SpecialTable, ModelError> {
    let mut is_special = vec![false; tokens.len()];
    let mut table = Vec::new();
    for &id in specials {
        let token = tokens
            .get(id as usize)
            .ok_or_else(|| invalid(format!("special token id {id} is out of range")))?;
        if token.is_empty() || is_special[id as usize] {
            continue;
        }
        is_special[id as usize] = true;
        table.push((token.clone(), id));
    }
    table.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
    Ok((table, is_special))
}

/// Fails when a role id is outside the vocabulary.
fn check_role_ids(ids: &SpecialIds, vocab_size: usize) -> Result<(), ModelError> {
    let roles = [
        ("bos", ids.bos),
        ("eos", ids.eos),
        ("pad", ids.pad),
        ("unk", ids.unk),
    ];
    for (role, id) in roles {
        if let Some(id) = id.filter(|&id| id as usize >= vocab_size) {
            return Err(invalid(format!(
                "{role} token id {id} is outside the vocabulary of {vocab_size}"
            )));
        }
    }
    Ok(())
}

/// The token of each byte: the id of its one-character spelling in the byte alphabet.
fn byte_table(vocab: &HashMap<String, u32>) -> [u32; 256] {
    let mut table = [UNKNOWN; 256];
    for (b, slot) in table.iter_mut().enumerate() {
        let spelling = byte_to_char(b as u8).to_string();
        if let Some(&id) = vocab.get(&spelling) {
            *slot = id;
        }
    }
    table
}

/// GPT-2's spelling of a byte: printable Latin-1 bytes stand for themselves, the other 68 are
/// shifted to U+0100.. in byte order.
pub fn byte_to_char(b: u8) -> char {
    if is_printable_byte(b) {
        return char::from(b);
    }
    let shifted = (0..b).filter(|&x| !is_printable_byte(x)).count() as u32;
    char::from_u32(256 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The byte a character of GPT-2's byte alphabet stands for.
pub fn char_to_byte(c: char) -> Option<u8> {
    let code = c as u32;
    if code < 256 {
        let b = code as u8;
        return is_printable_byte(b).then_some(b);
    }
    let index = (code - 256) as usize;
    (0..=255u8).filter(|&b| !is_printable_byte(b)).nth(index)
}

/// Whether GPT-2's byte alphabet spells `b` as itself: `!`..`~`, `¡`..`¬`, `®`..`ÿ`.
fn is_printable_byte(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The ids of the control and user-defined tokens (`tokenizer.ggml.token_type` 3 and 4).
fn special_ids_of(file: &GgufFile, n_tokens: usize) -> Result<Vec<u32>, ModelError> {
    let types = token_types(file, n_tokens)?.unwrap_or_default();
    Ok(types
        .iter()
        .enumerate()
        .filter(|&(_, &kind)| kind == TOKEN_TYPE_CONTROL || kind == TOKEN_TYPE_USER_DEFINED)
        .map(|(id, _)| id as u32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary of the 256 byte tokens (minus those in `missing`), then `extra` tokens.
    fn vocab(extra: &[&str], missing: &[u8]) -> Vec<String> {
        let mut tokens: Vec<String> = (0..=255u8)
            .filter(|b| !missing.contains(b))
            .map(|b| byte_to_char(b).to_string())
            .collect();
        tokens.extend(extra.iter().map(|t| t.to_string()));
        tokens
    }

    /// A tokenizer with the merges `merges` (their results added to the vocabulary).
    fn tokenizer(merges: &[&str], specials: &[&str], pre: PreTokenizer) -> BpeTokenizer {
        let merged: Vec<String> = merges.iter().map(|m| m.replace(' ', "")).collect();
        let mut extra: Vec<&str> = merged.iter().map(String::as_str).collect();
        extra.extend_from_slice(specials);
        let tokens = vocab(&extra, &[]);
        let special_ids: Vec<u32> = specials
            .iter()
            .map(|s| tokens.iter().position(|t| t == s).unwrap() as u32)
            .collect();
        let merges: Vec<String> = merges.iter().map(|m| m.to_string()).collect();
        BpeTokenizer::new(tokens, &merges, &special_ids, pre, SpecialIds::default()).unwrap()
    }

    /// The vocabulary spellings of `text`'s tokens.
    fn spell(tok: &BpeTokenizer, text: &str) -> Vec<String> {
        let ids = tok.encode(text);
        ids.iter()
            .map(|&id| tok.token(id).unwrap().to_string())
            .collect()
    }

    #[test]
    fn byte_alphabet_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b), "byte {b}");
        }
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(char_to_byte('€'), None);
    }

    #[test]
    fn merges_apply_lowest_rank_first() {
        // "l l" (rank 0) beats "e l" (rank 1) although "e l" comes first in the word.
        let tok = tokenizer(&["l l", "e l"], &[], PreTokenizer::Gpt2);
        assert_eq!(spell(&tok, "hello"), ["h", "e", "ll", "o"]);
        let tok = tokenizer(&["e l", "l l"], &[], PreTokenizer::Gpt2);
        assert_eq!(spell(&tok, "hello"), ["h", "el", "l", "o"]);
        // Repeated pairs merge left to right without overlapping; merges chain.
        let tok = tokenizer(&["a a", "aa a"], &[], PreTokenizer::Gpt2);
        assert_eq!(spell(&tok, "aaaa"), ["aa", "aa"]);
        assert_eq!(spell(&tok, "aaa"), ["aaa"]);
    }

    #[test]
    fn digits_are_split_individually() {
        let merges = ["Ġ 2", "2 0", "20 2"];
        let digits = tokenizer(&merges, &[], PreTokenizer::DigitsThenGpt2);
        assert_eq!(
            spell(&digits, "in 2024"),
            ["i", "n", "Ġ", "2", "0", "2", "4"]
        );
        let plain = tokenizer(&merges, &[], PreTokenizer::Gpt2);
        assert_eq!(spell(&plain, "in 2024"), ["i", "n", "Ġ2", "0", "2", "4"]);
        assert_eq!(split_numeric("a12 ½b"), ["a", "1", "2", " ", "½", "b"]);
    }

    #[test]
    fn whitespace_run_gives_its_last_space_to_the_next_word() {
        let tok = tokenizer(&[], &[], PreTokenizer::Gpt2);
        assert_eq!(tok.split_words("a   b"), ["a", "  ", " b"]);
        assert_eq!(tok.split_words("a \nb"), ["a", " ", "\n", "b"]);
        assert_eq!(tok.split_words("a\t\t b"), ["a", "\t\t", " b"]);
        assert_eq!(tok.split_words("a  "), ["a", "  "]);
        assert_eq!(tok.split_words(" a"), [" a"]);
        assert_eq!(tok.split_words("I'll don't"), ["I", "'ll", " don", "'t"]);
        assert_eq!(tok.split_words("x?!  12"), ["x", "?!", " ", " 12"]);
        let merged = tokenizer(&["Ġ Ġ", "Ġ b"], &[], PreTokenizer::Gpt2);
        assert_eq!(spell(&merged, "a   b"), ["a", "ĠĠ", "Ġb"]);
    }

    #[test]
    fn unseen_characters_fall_back_to_bytes() {
        let tok = tokenizer(&["h e"], &[], PreTokenizer::Gpt2);
        assert_eq!(spell(&tok, "hé"), ["h", "Ã", "©"]);
        let text = "é 中文 🙂 \u{0} \u{10FFFF}";
        assert_eq!(tok.decode(&tok.encode(text)), text);
        let (_, pieces) = tok.encode_with_tokens("hé");
        assert_eq!(pieces, ["h", "\u{FFFD}", "\u{FFFD}"]);
    }

    #[test]
    fn bytes_without_a_token_become_unknown_or_vanish() {
        let tokens = vocab(&["<unk>"], b"z");
        let unk = tokens.len() as u32 - 1;
        let ids = SpecialIds {
            unk: Some(unk),
            ..SpecialIds::default()
        };
        let with_unk =
            BpeTokenizer::new(tokens.clone(), &[], &[], PreTokenizer::Gpt2, ids).unwrap();
        let a = with_unk.id("a").unwrap();
        assert_eq!(with_unk.encode("aza"), [a, unk, a]);
        let ids = SpecialIds::default();
        let without = BpeTokenizer::new(tokens, &[], &[], PreTokenizer::Gpt2, ids).unwrap();
        assert_eq!(without.encode("aza"), [a, a]);
    }

    #[test]
    fn special_tokens_match_verbatim_leftmost_longest() {
        let specials = ["<|im_start|>", "<|im_end|>", "<|im"];
        let tok = tokenizer(&["h i"], &specials, PreTokenizer::Gpt2);
        let start = tok.id("<|im_start|>").unwrap();
        let end = tok.id("<|im_end|>").unwrap();
        let short = tok.id("<|im").unwrap();
        let hi = tok.id("hi").unwrap();
        assert_eq!(tok.encode("<|im_start|>hi<|im_end|>"), [start, hi, end]);
        assert_eq!(
            tok.encode("<|im_x"),
            [short, tok.id("_").unwrap(), tok.id("x").unwrap()]
        );
        let text = " <|im_end|> hi<|im_start|><|im_end|";
        assert_eq!(tok.decode(&tok.encode(text)), text);
        assert_eq!(tok.encode_with_tokens("<|im_end|>").1, ["<|im_end|>"]);
        assert!(tok.is_special(start) && tok.is_special(short) && !tok.is_special(hi));
        assert!(!tok.is_special(u32::MAX));
    }

    #[test]
    fn bad_merges_and_ids_are_refused() {
        let pre = PreTokenizer::Gpt2;
        let none = SpecialIds::default();
        let no_space = BpeTokenizer::new(vocab(&[], &[]), &["ab".to_string()], &[], pre, none);
        assert!(
            no_space
                .unwrap_err()
                .to_string()
                .contains("not \"left right\"")
        );
        let unknown = BpeTokenizer::new(vocab(&[], &[]), &["a b".to_string()], &[], pre, none);
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("\"ab\" is not in the vocabulary")
        );
        let bos = SpecialIds {
            bos: Some(999),
            ..none
        };
        assert!(BpeTokenizer::new(vocab(&[], &[]), &[], &[], pre, bos).is_err());
        assert!(BpeTokenizer::new(vocab(&[], &[]), &[], &[999], pre, none).is_err());
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let tok = tokenizer(&["Ġ Ġ"], &["<s>"], PreTokenizer::DigitsThenGpt2);
        for text in [
            "",
            " ",
            "\u{3000}\u{3000}x",
            "<s",
            "<s><s>",
            "'",
            "'s's",
            "\r\n\r\n",
        ] {
            assert_eq!(tok.decode(&tok.encode(text)), text, "{text:?}");
        }
        assert_eq!(tok.decode(&[u32::MAX, 0]), "\u{FFFD}\u{0}");
    }
}
