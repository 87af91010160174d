//! SentencePiece-style tokenizers rebuilt from a GGUF file's `llama` tokenizer model (tokens,
//! scores and token types, as Llama 2, Gemma and many other files carry them), run by the
//! `tokenizers` crate exactly as `transformers` builds them from the same file
//! (`integrations/gguf/gguf_tokenizer_mapping.py`):
//!
//! * a BPE model with byte fallback (`<0x41>` tokens stand for bytes that no piece covers) whose
//!   merges are recovered from the vocabulary: every way of cutting a token into two tokens is a
//!   merge, best first by the merged token's score, then by the longer left part. Gemma's scores
//!   do not follow its merge order for the tokens typed control or user-defined, so Gemma files
//!   rank by the order of the tokens in the file instead (its ordinary tokens' scores are minus
//!   their position, so the two orders agree on them);
//! * spaces written as `▁`: by a normaliser for Gemma (no space is prepended, as
//!   `tokenizer.ggml.add_space_prefix = false` says), by a `Metaspace` pre-tokenizer that
//!   prepends one to the text's first piece where the file asks for a space prefix (the default);
//! * Gemma's tokens of two or more spaces, stored with real spaces, respelled with `▁`;
//! * control tokens (type 3, e.g. `<start_of_turn>`) matched whole in the text as special tokens,
//!   user-defined ones (type 4, e.g. `\n\n` or `<h1>`) as ordinary added tokens;
//! * `<bos>` (and `<eos>`) added around every text as `tokenizer.ggml.add_bos_token`
//!   (`add_eos_token`) say, llama.cpp's defaults being BOS yes and EOS no.

use crate::ModelError;
use crate::gguf::GgufFile;
use crate::gguf_vocab::{
    TOKEN_TYPE_CONTROL, TOKEN_TYPE_NORMAL, TOKEN_TYPE_USER_DEFINED, invalid, meta_flag, meta_id,
    meta_str, meta_strings, scores, token_types,
};
use crate::tokenizer::HfTokenizer;
use std::cmp::Reverse;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, DecoderWrapper, Tokenizer};

/// SentencePiece's space marker.
const SPACE: char = '\u{2581}';

/// How the merges are ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MergeOrder {
    /// By `tokenizer.ggml.scores`, highest first.
    Scores,
    /// By the position of the merged token in the file, first first (Gemma).
    FileOrder,
}

/// Builds the tokenizer of a GGUF file whose `tokenizer.ggml.model` is `"llama"`.
///
/// Needs `tokenizer.ggml.tokens` and `tokenizer.ggml.scores`; the token types, the role ids and
/// the `add_bos_token`, `add_eos_token` and `add_space_prefix` flags are optional.
pub fn from_gguf(file: &GgufFile) -> Result<HfTokenizer, ModelError> {
    let model = meta_str(file, "tokenizer.ggml.model")?;
    if model != "llama" {
        return Err(invalid(format!(
            "tokenizer.ggml.model is {model:?}; a SentencePiece tokenizer needs \"llama\""
        )));
    }
    let gemma = file
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .is_some_and(|arch| arch.starts_with("gemma"));
    let mut tokens = meta_strings(file, "tokenizer.ggml.tokens")?;
    let n = tokens.len();
    if n == 0 || n > u32::MAX as usize {
        return Err(invalid(format!("{n} tokens is not a usable vocabulary")));
    }
    let types = token_types(file, n)?.unwrap_or_else(|| vec![TOKEN_TYPE_NORMAL; n]);
    let order = if gemma {
        respell_space_runs(&mut tokens);
        MergeOrder::FileOrder
    } else {
        MergeOrder::Scores
    };
    let rank = merge_rank(order, &scores(file, n)?);
    let role = |key: &str| -> Result<Option<(String, u32)>, ModelError> {
        match meta_id(file, key)? {
            Some(id) => tokens
                .get(id as usize)
                .map(|t| Some((t.clone(), id)))
                .ok_or_else(|| invalid(format!("{key} {id} is outside the vocabulary of {n}"))),
            None => Ok(None),
        }
    };
    let unk = role("tokenizer.ggml.unknown_token_id")?;
    let bos = role("tokenizer.ggml.bos_token_id")?;
    let eos = role("tokenizer.ggml.eos_token_id")?;
    let flags = Flags {
        add_bos: meta_flag(file, "tokenizer.ggml.add_bos_token", true)?,
        add_eos: meta_flag(file, "tokenizer.ggml.add_eos_token", false)?,
        space_prefix: meta_flag(file, "tokenizer.ggml.add_space_prefix", true)?,
    };
    build(&tokens, &types, &rank, unk, bos, eos, flags)
}

/// The optional behaviours the GGUF flags switch.
#[derive(Clone, Copy, Debug)]
struct Flags {
    add_bos: bool,
    add_eos: bool,
    space_prefix: bool,
}

/// Assembles the `tokenizers` pipeline.
fn build(
    tokens: &[String],
    types: &[u64],
    rank: &[u32],
    unk: Option<(String, u32)>,
    bos: Option<(String, u32)>,
    eos: Option<(String, u32)>,
    flags: Flags,
) -> Result<HfTokenizer, ModelError> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.clone(), id as u32))
        .collect();
    let merges = merges(tokens, &vocab, rank);
    let mut bpe = BPE::builder()
        .vocab_and_merges(vocab.clone(), merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some((unk, _)) = &unk {
        bpe = bpe.unk_token(unk.clone());
    }
    let bpe = bpe
        .build()
        .map_err(|e| invalid(format!("cannot build the BPE model: {e}")))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let fail = |e: tokenizers::Error| invalid(e.to_string());
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new(SPACE.to_string(), " ").map_err(fail)?.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if flags.space_prefix {
        tokenizer.with_pre_tokenizer(Some(Metaspace::new(SPACE, PrependScheme::First, false)));
        decoders.push(Strip::new(' ', 1, 0).into());
    } else {
        tokenizer.with_normalizer(Some(Replace::new(" ", SPACE.to_string()).map_err(fail)?));
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    tokenizer.with_post_processor(Some(post_processor(bos, eos, flags)?));
    let control: Vec<AddedToken> = added(tokens, types, TOKEN_TYPE_CONTROL, &vocab, true);
    let user: Vec<AddedToken> = added(tokens, types, TOKEN_TYPE_USER_DEFINED, &vocab, false);
    tokenizer.add_special_tokens(&control);
    tokenizer.add_tokens(&user);
    Ok(HfTokenizer::with_decoded_tokens(tokenizer))
}

/// The tokens of type `kind` as added tokens matched verbatim, special or not.
fn added(
    tokens: &[String],
    types: &[u64],
    kind: u64,
    vocab: &Vocab,
    special: bool,
) -> Vec<AddedToken> {
    tokens
        .iter()
        .zip(types)
        .filter(|&(token, &t)| t == kind && !token.is_empty() && vocab.contains_key(token))
        .map(|(token, _)| AddedToken::from(token.clone(), special).normalized(false))
        .collect()
}

/// `<bos> $A <eos>`, each marker present as its flag says.
fn post_processor(
    bos: Option<(String, u32)>,
    eos: Option<(String, u32)>,
    flags: Flags,
) -> Result<TemplateProcessing, ModelError> {
    let needed = |flag: bool, token: Option<(String, u32)>, what: &str| match (flag, token) {
        (true, Some(token)) => Ok(Some(token)),
        (true, None) => Err(invalid(format!(
            "tokenizer.ggml.add_{what}_token is true but tokenizer.ggml.{what}_token_id is missing"
        ))),
        (false, _) => Ok(None),
    };
    let bos = needed(flags.add_bos, bos, "bos")?;
    let eos = needed(flags.add_eos, eos, "eos")?;
    let mut single = Vec::new();
    let mut specials = Vec::new();
    if let Some((token, id)) = bos {
        single.push(token.clone());
        specials.push((token, id));
    }
    single.push("$A".to_string());
    if let Some((token, id)) = eos {
        single.push(token.clone());
        specials.push((token, id));
    }
    TemplateProcessing::builder()
        .try_single(single)
        .map_err(|e| invalid(format!("cannot build the BOS/EOS template: {e}")))?
        .special_tokens(specials)
        .build()
        .map_err(|e| invalid(format!("cannot build the BOS/EOS template: {e}")))
}

/// Gemma's tokens of two or more spaces, stored with real spaces, spelled with `▁` as the
/// normalised text has them.
fn respell_space_runs(tokens: &mut [String]) {
    for token in tokens.iter_mut() {
        if token.contains(' ') && token.trim().is_empty() {
            *token = SPACE.to_string().repeat(token.chars().count());
        }
    }
}

/// The rank of each token id as a merge result: 0 for the best, equal for equal scores.
fn merge_rank(order: MergeOrder, scores: &[f64]) -> Vec<u32> {
    match order {
        MergeOrder::FileOrder => (0..scores.len() as u32).collect(),
        MergeOrder::Scores => {
            let mut distinct = scores.to_vec();
            distinct.sort_by(|a, b| b.total_cmp(a));
            distinct.dedup_by(|a, b| a.total_cmp(b).is_eq());
            scores
                .iter()
                .map(|s| distinct.partition_point(|d| d.total_cmp(s).is_gt()) as u32)
                .collect()
        }
    }
}

/// A cut of a token: its merge rank, the lengths of its parts (longer first) and the parts.
type Cut = (u32, Reverse<usize>, Reverse<usize>, String, String);

/// Every cut of a token into two tokens, best first: by the merged token's rank, then the
/// longer left part, then the longer right part, then the merged token's id (the order of
/// `transformers`' `generate_merges`, a stable sort over the tokens in file order).
fn merges(tokens: &[String], vocab: &Vocab, rank: &[u32]) -> Vec<(String, String)> {
    let mut cuts: Vec<Cut> = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        // A repeated spelling belongs to its last id, as in a Python dict.
        if vocab.get(token) != Some(&(id as u32)) {
            continue;
        }
        for (at, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(at);
            if vocab.contains_key(left) && vocab.contains_key(right) {
                let (l, r) = (left.chars().count(), right.chars().count());
                cuts.push((rank[id], Reverse(l), Reverse(r), left.into(), right.into()));
            }
        }
    }
    cuts.sort_by_key(|cut| (cut.0, cut.1, cut.2));
    cuts.into_iter().map(|(_, _, _, l, r)| (l, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn merges_rank_by_the_merged_token_then_the_longer_left_part() {
        let tokens = strings(&["a", "b", "c", "ab", "bc", "abc"]);
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let rank = merge_rank(MergeOrder::FileOrder, &[0.0; 6]);
        let got = merges(&tokens, &vocab, &rank);
        let want = [("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(l, r)| (l.to_string(), r.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn score_order_is_highest_first_with_ties_shared() {
        assert_eq!(
            merge_rank(MergeOrder::Scores, &[-3.0, 0.0, -1.0, 0.0]),
            [2, 0, 1, 0]
        );
    }

    #[test]
    fn only_whitespace_runs_with_a_space_are_respelled() {
        let mut tokens = strings(&["  ", "   ", "\t\t", "a b", " "]);
        respell_space_runs(&mut tokens);
        assert_eq!(tokens, strings(&["▁▁", "▁▁▁", "\t\t", "a b", "▁"]));
    }
}
