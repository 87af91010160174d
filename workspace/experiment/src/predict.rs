//! `cavern predict`: what a model outputs for a text, in the terms of its head.

use burn::tensor::Tensor;
use cavern_model::config::OutputHead;
use cavern_model::generate::generate as greedy;
use cavern_model::{LoadedModel, ModelError, NoHooks};
use serde::Serialize;

/// A model's output for one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prediction {
    /// A decoder's most likely next tokens (and its greedy continuation, when asked for).
    NextTokens {
        /// The input.
        text: String,
        /// Most likely first.
        top: Vec<TokenProbability>,
        /// The greedy continuation (`--generate N`).
        #[serde(skip_serializing_if = "Option::is_none")]
        continuation: Option<Continuation>,
    },
    /// A classifier's class probabilities, in class order.
    Classes {
        /// The input.
        text: String,
        /// One per class.
        classes: Vec<ClassProbability>,
    },
    /// A sentence encoder's unit-length embedding.
    Embedding {
        /// The input.
        text: String,
        /// The embedding.
        embedding: Vec<f32>,
    },
}

/// One candidate next token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenProbability {
    /// Token id.
    pub id: u32,
    /// Its text.
    pub token: String,
    /// Softmax probability.
    pub probability: f64,
    /// Raw logit.
    pub logit: f32,
}

/// Tokens a decoder generated greedily after a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Continuation {
    /// Their ids.
    pub ids: Vec<u32>,
    /// Their text.
    pub text: String,
}

/// One class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassProbability {
    /// Class name.
    pub class: String,
    /// Softmax probability.
    pub probability: f64,
}

/// Runs `model` on `texts` (one batch) and reads each output as its head means it; with
/// `generate` > 0, a decoder also continues each text by that many greedy tokens (with a
/// key/value cache, all texts together). Other models refuse to generate.
pub fn predict(
    model: &LoadedModel,
    texts: &[String],
    top_k: usize,
    generate: usize,
) -> Result<Vec<Prediction>, ModelError> {
    let batch = model.encode(texts)?;
    let logits: Tensor<2> = model.transformer.forward(&batch, &mut NoHooks).logits;
    let mut continuations = match generate {
        0 => Vec::new(),
        n => greedy(
            &model.transformer,
            &batch,
            n,
            |_| NoHooks,
            |_| Ok::<_, ModelError>(()),
        )?
        .tokens
        .into_iter()
        .map(|ids| Continuation {
            text: model.tokenizer().generated_text(&ids),
            ids,
        })
        .collect(),
    }
    .into_iter();
    let [_, width] = logits.dims();
    let values = logits
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    let rows = values.chunks_exact(width.max(1));
    Ok(texts
        .iter()
        .zip(rows)
        .map(|(text, row)| {
            let text = text.clone();
            match model.config().head {
                OutputHead::LanguageModel { .. } => Prediction::NextTokens {
                    text,
                    top: top_tokens(model, row, top_k),
                    continuation: continuations.next(),
                },
                OutputHead::Classifier { .. } => Prediction::Classes {
                    text,
                    classes: softmax(row)
                        .into_iter()
                        .zip(model.class_names())
                        .map(|(probability, class)| ClassProbability {
                            class: class.clone(),
                            probability,
                        })
                        .collect(),
                },
                OutputHead::SentenceEmbedding => Prediction::Embedding {
                    text,
                    embedding: row.to_vec(),
                },
            }
        })
        .collect())
}

fn top_tokens(model: &LoadedModel, logits: &[f32], k: usize) -> Vec<TokenProbability> {
    let probabilities = softmax(logits);
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| TokenProbability {
            id: i as u32,
            token: model.tokenizer().token_text(i as u32),
            probability: probabilities[i],
            logit: logits[i],
        })
        .collect()
}

/// Softmax in f64, stable for large logits.
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let exp: Vec<f64> = logits.iter().map(|&x| (x as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use cavern_model::builtin::load_builtin;

    #[test]
    fn toy_models_predict_their_known_answers() {
        let device = Device::flex();
        let sentiment = load_builtin("toy-sentiment", &device).unwrap();
        let texts = vec![
            "the film was wonderful".to_string(),
            "the film was not wonderful".into(),
        ];
        let out = predict(&sentiment, &texts, 3, 0).unwrap();
        let best = |p: &Prediction| match p {
            Prediction::Classes { classes, .. } => {
                let total: f64 = classes.iter().map(|c| c.probability).sum();
                assert!((total - 1.0).abs() < 1e-9);
                classes
                    .iter()
                    .max_by(|a, b| a.probability.total_cmp(&b.probability))
                    .map(|c| c.class.clone())
            }
            _ => None,
        };
        assert_eq!(best(&out[0]).as_deref(), Some("positive"));
        assert_eq!(best(&out[1]).as_deref(), Some("negative"));

        let recall = load_builtin("toy-recall", &device).unwrap();
        let out = predict(&recall, &["c g a d b i =".to_string()], 2, 0).unwrap();
        match &out[0] {
            Prediction::NextTokens { top, .. } => {
                assert_eq!(top.len(), 2);
                assert_eq!(top[0].token, "g");
                assert!(top[0].probability > top[1].probability);
            }
            other => panic!("expected next tokens, got {other:?}"),
        }
    }

    #[test]
    fn decoders_continue_greedily_and_others_refuse() {
        let device = Device::flex();
        let recall = load_builtin("toy-recall", &device).unwrap();
        let texts = ["c g a d b i =".to_string(), "a f =".into()];
        let out = predict(&recall, &texts, 1, 3).unwrap();
        for prediction in &out {
            let Prediction::NextTokens {
                top,
                continuation: Some(continuation),
                ..
            } = prediction
            else {
                panic!("expected a continuation, got {prediction:?}");
            };
            // The first greedy token is the top next token; the text is the tokens' words.
            assert_eq!(continuation.ids.len(), 3);
            assert_eq!(continuation.ids[0], top[0].id);
            assert_eq!(
                continuation.text.split(' ').next(),
                Some(top[0].token.as_str())
            );
        }
        let json = serde_json::to_value(predict(&recall, &texts, 1, 0).unwrap()).unwrap();
        assert!(json[0].get("continuation").is_none(), "{json}");
        let sentiment = load_builtin("toy-sentiment", &device).unwrap();
        let err = predict(&sentiment, &texts[..1], 1, 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only language models generate"), "{err}");
    }
}
