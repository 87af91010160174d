//! Running an `[[adversarial]]`: every input through the model once, then the greedy HotFlip
//! search (see [`super::search`] and [`super::hotflip`]) per input. Nothing is random.

use super::hotflip::ModelOracle;
use super::search::{Found, greedy};
use super::spec::AdversarialSpec;
use super::tables::{AdversarialOutput, AdversarialRow, AdversarialToken};
use crate::engine::forward::output_rows;
use crate::engine::outputs::index_label;
use crate::engine::{StudyContext, StudyError};
use crate::views::token_pieces;
use cavern_model::LoadedModel;
use cavern_probe::ProbeError;
use std::collections::HashMap;

/// Runs an adversarial study: the inputs in batches, then one search per input.
pub(super) fn run(
    study: &AdversarialSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<AdversarialOutput, StudyError> {
    let (index, model, batch_size) = (cx.index, cx.model, cx.batch_size());
    cx.progress
        .set_message(format!("adversarial study {index}"));
    let (substitutes, classes) = match &study.word_classes {
        Some(classes) => {
            let (ids, class_of) = word_classes(model, classes)?;
            (ids, Some(class_of))
        }
        None => (substitutes(model, study.vocabulary.as_deref())?, None),
    };
    let encodings = model
        .encode_texts(&study.inputs)
        .map_err(ProbeError::from)?;
    let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.ids.clone()).collect();
    let outputs = output_rows(model, &ids, batch_size, &[])?;
    let mut oracle = ModelOracle::new(model, batch_size, substitutes, classes);
    let mut out = AdversarialOutput::default();
    for (i, ((text, encoding), output)) in
        study.inputs.iter().zip(&encodings).zip(outputs).enumerate()
    {
        let special = model
            .tokenizer()
            .special_mask(text)
            .map_err(ProbeError::from)?;
        let decision = output.predicted();
        let p_predicted = output.probs[decision];
        oracle.rows = 0;
        let found = greedy(
            &mut oracle,
            &encoding.ids,
            &special,
            output,
            study.max_edits,
            study.candidates,
        )?;
        let tokens = token_rows(model, index, i, &encoding.tokens, &special, &found);
        let after = &found.best.output;
        let edited: Vec<&str> = (tokens.iter())
            .filter(|t| !t.is_special && t.change != "deleted")
            .map(|t| t.edited_token.as_str())
            .collect();
        let edit_list: Vec<String> = (found.best.edits.iter())
            .map(|e| {
                let new =
                    e.to.map_or_else(|| "∅".to_owned(), |to| model.tokenizer().token_text(to));
                format!("{}: {} → {new}", e.position, encoding.tokens[e.position])
            })
            .collect();
        out.rows.push(AdversarialRow {
            study: index,
            input: i,
            text: text.clone(),
            predicted: index_label(model, decision),
            p_predicted,
            edited: joined(&edited),
            edits: found.best.edits.len(),
            edit_list: edit_list.join("; "),
            predicted_after: index_label(model, after.predicted()),
            p_after: after.probs[after.predicted()],
            p_original_after: after.probs[decision],
            flipped: found.flipped,
            // The input's own row, run with the others before the search.
            forward_passes: 1 + oracle.rows,
        });
        out.tokens.extend(tokens);
        cx.progress.inc(1);
    }
    Ok(out)
}

/// Tokens joined into readable text (see [`token_pieces`]).
fn joined(tokens: &[&str]) -> String {
    let pieces = token_pieces(tokens);
    let text: String = pieces
        .into_iter()
        .map(|(space, text)| space + &text)
        .collect();
    text.trim_start().to_owned()
}

/// What the search did to each token of input `input`.
fn token_rows(
    model: &LoadedModel,
    study: usize,
    input: usize,
    tokens: &[String],
    special: &[bool],
    found: &Found,
) -> Vec<AdversarialToken> {
    (tokens.iter().enumerate())
        .map(|(position, token)| {
            let edit = found.best.edits.iter().find(|e| e.position == position);
            let (change, edited_token) = match edit.map(|e| e.to) {
                None => ("kept", token.clone()),
                Some(Some(to)) => ("substituted", model.tokenizer().token_text(to)),
                Some(None) => ("deleted", String::new()),
            };
            AdversarialToken {
                study,
                input,
                position,
                token: token.clone(),
                is_special: special.get(position).copied().unwrap_or(false),
                change: change.to_owned(),
                edited_token,
            }
        })
        .collect()
}

/// Whether a token's text is bracketed like the special and unused tokens of vocabularies
/// (`[CLS]`, `[unused0]`, `[pad]`, `<unk>`).
fn bracketed(text: &str) -> bool {
    text.len() >= 3
        && ((text.starts_with('[') && text.ends_with(']'))
            || (text.starts_with('<') && text.ends_with('>')))
}

/// The id of `word`, which must be one token; `what` names it in the error.
fn one_token(model: &LoadedModel, word: &str, what: &str) -> Result<u32, StudyError> {
    model.tokenizer().single_token(word).ok_or_else(|| {
        StudyError::Adversarial(format!(
            "{what} ({word:?}) is not one token of model `{}`",
            model.name()
        ))
    })
}

/// The substitutes of `word_classes` (each word one token) and the class of each.
fn word_classes(
    model: &LoadedModel,
    classes: &[Vec<String>],
) -> Result<(Vec<u32>, HashMap<u32, usize>), StudyError> {
    let mut class_of = HashMap::new();
    for (c, words) in classes.iter().enumerate() {
        for word in words {
            let what = format!("word {word:?} of class {} of `word_classes`", c + 1);
            class_of.insert(one_token(model, word, &what)?, c);
        }
    }
    let mut ids: Vec<u32> = class_of.keys().copied().collect();
    ids.sort_unstable();
    Ok((ids, class_of))
}

/// The ids substitutes are drawn from: the `vocabulary`'s words (each one token), or every
/// token of the model that is one token when written out, except the pad token and bracketed
/// ones.
fn substitutes(model: &LoadedModel, vocabulary: Option<&[String]>) -> Result<Vec<u32>, StudyError> {
    let tokenizer = model.tokenizer();
    let mut ids: Vec<u32> = match vocabulary {
        Some(words) => (words.iter().enumerate())
            .map(|(n, word)| one_token(model, word, &format!("word {} of `vocabulary`", n + 1)))
            .collect::<Result<_, _>>()?,
        None => (0..tokenizer.vocab_size() as u32)
            .filter(|&id| id != model.config().pad_id)
            .filter(|&id| {
                let text = tokenizer.token_text(id);
                !text.is_empty() && !bracketed(&text) && tokenizer.single_token(&text) == Some(id)
            })
            .collect(),
    };
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_tokens_are_special_looking() {
        for special in ["[CLS]", "[unused12]", "[pad]", "<unk>", "<|endoftext|>"] {
            assert!(bracketed(special), "{special}");
        }
        for plain in ["good", "[", "]", "<>", "a]", "##ing"] {
            assert!(!bracketed(plain), "{plain}");
        }
    }

    #[test]
    fn word_pieces_join_into_text() {
        assert_eq!(
            joined(&["the", "film", "was", "good", "##ish", "."]),
            "the film was goodish."
        );
        assert_eq!(joined(&[]), "");
    }
}
