//! `[[attention]]`: statistics of every head's attention pattern at the chosen layers over an
//! input set (normalised entropy, quality, attention to self, the previous token, the first
//! token and special tokens; see [`cavern_probe::attention`]), and the average pattern when the
//! inputs are short and all equally long.

use super::{StudyError, mean_std};
use crate::schema::{AttentionStudy, MAX_PATTERN_TOKENS};
use crate::table::{Table, TableError};
use cavern_intervene::Interventions;
use cavern_model::tokenizer::Encoding;
use cavern_model::{LoadedModel, ModelKind, Site, SitePoint};
use cavern_probe::ProbeError;
use cavern_probe::attention::{HeadStatistics, Mask, head_block, head_statistics};
use indicatif::ProgressBar;
use serde::Serialize;

/// Token label of a pattern position where the inputs have different tokens.
pub const MIXED_TOKEN: &str = "*";

/// Whether a study wrote its average pattern, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternStatus {
    /// Written to `attention_pattern`.
    Written,
    /// The inputs have different token lengths.
    LengthsDiffer,
    /// The inputs are longer than [`MAX_PATTERN_TOKENS`].
    TooLong,
    /// `average_pattern = false`.
    Off,
}

impl PatternStatus {
    /// The value of the `average_pattern` column.
    pub fn as_str(self) -> &'static str {
        match self {
            PatternStatus::Written => "written",
            PatternStatus::LengthsDiffer => "lengths_differ",
            PatternStatus::TooLong => "too_long",
            PatternStatus::Off => "off",
        }
    }

    /// Whether and why a study with `lengths` (token counts) writes its average pattern.
    pub fn of(asked: bool, lengths: &[usize]) -> PatternStatus {
        let min = lengths.iter().min().copied().unwrap_or(0);
        let max = lengths.iter().max().copied().unwrap_or(0);
        if !asked {
            PatternStatus::Off
        } else if min != max {
            PatternStatus::LengthsDiffer
        } else if max > MAX_PATTERN_TOKENS {
            PatternStatus::TooLong
        } else {
            PatternStatus::Written
        }
    }
}

/// One (study, layer, head) row of the `attention_heads` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttentionHead {
    /// Index of the `[[attention]]` study in the file, from 0.
    pub study: usize,
    /// Block index.
    pub layer: usize,
    /// Query head index.
    pub head: usize,
    /// Inputs measured.
    pub n_inputs: usize,
    /// Fewest tokens of an input.
    pub min_tokens: usize,
    /// Most tokens of an input.
    pub max_tokens: usize,
    /// Mean over inputs (with at least two tokens) of the normalised entropy.
    pub entropy_mean: f64,
    /// Its sample standard deviation.
    pub entropy_std: f64,
    /// Mean over inputs of the quality `Q`.
    pub quality_mean: f64,
    /// Its sample standard deviation.
    pub quality_std: f64,
    /// Mean weight on self.
    pub self_mean: f64,
    /// Mean weight on the previous token (inputs with at least two tokens).
    pub previous_mean: f64,
    /// Mean weight on the first token.
    pub first_mean: f64,
    /// Mean total weight on special tokens.
    pub special_mean: f64,
    /// Whether the study's average pattern was written: `written`, `lengths_differ`,
    /// `too_long` or `off`.
    pub average_pattern: String,
}

/// One cell of the `attention_pattern` table: a head's weight of query on key, averaged over
/// the study's inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternCell {
    pub study: usize,
    pub layer: usize,
    pub head: usize,
    pub query: usize,
    pub key: usize,
    /// The token at `query`, or [`MIXED_TOKEN`] where the inputs differ.
    pub query_token: String,
    /// The token at `key`, or [`MIXED_TOKEN`] where the inputs differ.
    pub key_token: String,
    pub weight: f64,
}

/// The rows of every attention study.
#[derive(Debug, Clone, Default)]
pub struct AttentionOutput {
    /// `attention_heads` rows.
    pub heads: Vec<AttentionHead>,
    /// `attention_pattern` rows.
    pub pattern: Vec<PatternCell>,
}

impl AttentionOutput {
    /// Appends another study's rows.
    pub fn extend(&mut self, other: AttentionOutput) {
        self.heads.extend(other.heads);
        self.pattern.extend(other.pattern);
    }
}

/// Per (layer, head): every input's statistics, and the running sum of the patterns.
struct Accumulator {
    stats: Vec<HeadStatistics>,
    pattern_sum: Vec<f64>,
}

/// Runs the `index`-th attention study: one forward pass per batch of inputs, recording the
/// pattern at every chosen layer.
pub fn run(
    index: usize,
    study: &AttentionStudy,
    model: &LoadedModel,
    batch_size: usize,
    progress: &ProgressBar,
) -> Result<AttentionOutput, StudyError> {
    progress.set_message(format!("attention study {index}"));
    let (encodings, special) = encode_inputs(model, &study.inputs)?;
    let lengths: Vec<usize> = encodings.iter().map(|e| e.ids.len()).collect();
    let status = PatternStatus::of(study.average_pattern, &lengths);
    let mask = match model.kind() {
        ModelKind::Encoder => Mask::Full,
        ModelKind::Decoder => Mask::Causal,
    };
    let sites: Vec<Site> = study
        .layers
        .iter()
        .map(|&layer| Site::new(SitePoint::Pattern, layer))
        .collect();
    let mut acc: Vec<Vec<Accumulator>> = sites.iter().map(|_| Vec::new()).collect();
    let batch_size = batch_size.max(1);
    for (chunk_index, chunk) in encodings.chunks(batch_size).enumerate() {
        let patterns = host_patterns(model, chunk, &sites)?;
        for ((flat, dims), heads) in patterns.into_iter().zip(&mut acc) {
            if heads.is_empty() {
                let cells = if status == PatternStatus::Written {
                    lengths[0] * lengths[0]
                } else {
                    0
                };
                heads.extend((0..dims[1]).map(|_| Accumulator {
                    stats: Vec::with_capacity(encodings.len()),
                    pattern_sum: vec![0.0; cells],
                }));
            }
            for (b, encoding) in chunk.iter().enumerate() {
                let input = chunk_index * batch_size + b;
                let n = encoding.ids.len();
                for (h, head) in heads.iter_mut().enumerate() {
                    let block = head_block(&flat, dims, b, h, n)?;
                    head.stats
                        .push(head_statistics(&block, n, mask, &special[input])?);
                    for (sum, &w) in head.pattern_sum.iter_mut().zip(&block) {
                        *sum += f64::from(w);
                    }
                }
            }
        }
    }
    progress.inc(study.layers.len() as u64);
    let labels = (status == PatternStatus::Written).then(|| shared_tokens(&encodings));
    let mut out = AttentionOutput::default();
    for (&layer, heads) in study.layers.iter().zip(&acc) {
        for (h, head) in heads.iter().enumerate() {
            out.heads
                .push(summarise(index, layer, h, &head.stats, &lengths, status));
            if let Some(labels) = &labels {
                out.pattern
                    .extend(pattern_cells(index, layer, h, head, labels));
            }
        }
    }
    Ok(out)
}

/// The `attention_heads` row of one head from every input's statistics.
/// The inputs' encodings and, per input, which tokens are special (`[CLS]`, `[SEP]`).
pub(crate) fn encode_inputs(
    model: &LoadedModel,
    inputs: &[String],
) -> Result<(Vec<Encoding>, Vec<Vec<bool>>), StudyError> {
    let encodings = model.encode_texts(inputs).map_err(ProbeError::from)?;
    let special = inputs
        .iter()
        .map(|text| model.tokenizer().special_mask(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ProbeError::from)?;
    Ok((encodings, special))
}

/// An attention pattern in host memory with its `[batch, heads, query, key]` dimensions.
pub(crate) type HostPattern = (Vec<f32>, [usize; 4]);

/// One forward pass of `chunk` recording the attention pattern at each of `sites`, copied to
/// host memory with its `[batch, heads, query, key]` dimensions.
pub(crate) fn host_patterns(
    model: &LoadedModel,
    chunk: &[Encoding],
    sites: &[Site],
) -> Result<Vec<HostPattern>, StudyError> {
    let batch = model.batch(chunk.iter().map(|e| e.ids.clone()).collect());
    let mut hooks = Interventions::recording(sites.iter().copied());
    model.transformer.forward(&batch, &mut hooks);
    let cache = hooks.into_recorded().map_err(ProbeError::from)?;
    sites
        .iter()
        .map(|site| {
            let pattern = cache
                .heads(site)
                .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
            let dims = pattern.dims();
            let flat = pattern
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap_or_default();
            Ok((flat, dims))
        })
        .collect()
}

fn summarise(
    study: usize,
    layer: usize,
    head: usize,
    stats: &[HeadStatistics],
    lengths: &[usize],
    status: PatternStatus,
) -> AttentionHead {
    let all = |f: fn(&HeadStatistics) -> f64| stats.iter().map(f).collect::<Vec<f64>>();
    // Entropy and the previous token are undefined on one-token inputs: leave those out.
    let multi = |f: fn(&HeadStatistics) -> f64| {
        let pairs = stats.iter().zip(lengths);
        pairs.filter(|(_, n)| **n > 1).map(|(s, _)| f(s)).collect()
    };
    let entropy: Vec<f64> = multi(|s| s.entropy);
    let (entropy_mean, entropy_std) = mean_std(&entropy);
    let (quality_mean, quality_std) = mean_std(&all(|s| s.quality));
    AttentionHead {
        study,
        layer,
        head,
        n_inputs: stats.len(),
        min_tokens: lengths.iter().min().copied().unwrap_or(0),
        max_tokens: lengths.iter().max().copied().unwrap_or(0),
        entropy_mean,
        entropy_std,
        quality_mean,
        quality_std,
        self_mean: mean_std(&all(|s| s.self_attention)).0,
        previous_mean: mean_std(&multi(|s| s.previous)).0,
        first_mean: mean_std(&all(|s| s.first)).0,
        special_mean: mean_std(&all(|s| s.special)).0,
        average_pattern: status.as_str().to_string(),
    }
}

/// The token at each position when every input has the same one there, else [`MIXED_TOKEN`]
/// (the inputs all have the same length).
fn shared_tokens(encodings: &[Encoding]) -> Vec<String> {
    let Some(first) = encodings.first() else {
        return Vec::new();
    };
    (0..first.tokens.len())
        .map(|p| {
            let token = &first.tokens[p];
            let same = encodings.iter().all(|e| e.tokens.get(p) == Some(token));
            if same {
                token.clone()
            } else {
                MIXED_TOKEN.to_string()
            }
        })
        .collect()
}

/// One head's average pattern as tidy cells, query-major.
fn pattern_cells(
    study: usize,
    layer: usize,
    head: usize,
    acc: &Accumulator,
    labels: &[String],
) -> Vec<PatternCell> {
    let n = labels.len();
    let inputs = acc.stats.len().max(1) as f64;
    (0..n * n)
        .map(|cell| {
            let (query, key) = (cell / n, cell % n);
            PatternCell {
                study,
                layer,
                head,
                query,
                key,
                query_token: labels[query].clone(),
                key_token: labels[key].clone(),
                weight: acc.pattern_sum[cell] / inputs,
            }
        })
        .collect()
}

/// The `attention_heads` table.
pub fn heads_table(rows: &[AttentionHead]) -> Result<Table, TableError> {
    let int = |f: fn(&AttentionHead) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let num = |f: fn(&AttentionHead) -> f64| rows.iter().map(f).collect();
    Table::new("attention_heads")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("layer", int(|r| r.layer))?
        .with_u64("head", int(|r| r.head))?
        .with_u64("n_inputs", int(|r| r.n_inputs))?
        .with_u64("min_tokens", int(|r| r.min_tokens))?
        .with_u64("max_tokens", int(|r| r.max_tokens))?
        .with_f64("entropy_mean", num(|r| r.entropy_mean))?
        .with_f64("entropy_std", num(|r| r.entropy_std))?
        .with_f64("quality_mean", num(|r| r.quality_mean))?
        .with_f64("quality_std", num(|r| r.quality_std))?
        .with_f64("self_mean", num(|r| r.self_mean))?
        .with_f64("previous_mean", num(|r| r.previous_mean))?
        .with_f64("first_mean", num(|r| r.first_mean))?
        .with_f64("special_mean", num(|r| r.special_mean))?
        .with_str(
            "average_pattern",
            rows.iter().map(|r| r.average_pattern.clone()).collect(),
        )
}

/// The `attention_pattern` table.
pub fn pattern_table(rows: &[PatternCell]) -> Result<Table, TableError> {
    let int = |f: fn(&PatternCell) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    Table::new("attention_pattern")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("layer", int(|r| r.layer))?
        .with_u64("head", int(|r| r.head))?
        .with_u64("query", int(|r| r.query))?
        .with_u64("key", int(|r| r.key))?
        .with_str(
            "query_token",
            rows.iter().map(|r| r.query_token.clone()).collect(),
        )?
        .with_str(
            "key_token",
            rows.iter().map(|r| r.key_token.clone()).collect(),
        )?
        .with_f64("weight", rows.iter().map(|r| r.weight).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_written_only_for_equal_short_lengths() {
        assert_eq!(PatternStatus::of(true, &[7, 7, 7]), PatternStatus::Written);
        assert_eq!(
            PatternStatus::of(true, &[7, 8]),
            PatternStatus::LengthsDiffer
        );
        assert_eq!(PatternStatus::of(true, &[65, 65]), PatternStatus::TooLong);
        assert_eq!(PatternStatus::of(true, &[64]), PatternStatus::Written);
        assert_eq!(PatternStatus::of(false, &[3, 3]), PatternStatus::Off);
    }

    #[test]
    fn shared_tokens_mark_positions_where_inputs_differ() {
        let enc = |tokens: &[&str]| Encoding {
            ids: vec![0; tokens.len()],
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
        };
        let labels = shared_tokens(&[enc(&["[CLS]", "a", "="]), enc(&["[CLS]", "b", "="])]);
        assert_eq!(labels, ["[CLS]", MIXED_TOKEN, "="]);
    }

    #[test]
    fn one_token_inputs_leave_entropy_and_previous_to_the_others() {
        let stat = |entropy: f64, previous: f64| HeadStatistics {
            entropy,
            quality: 1.0,
            self_attention: 1.0,
            previous,
            first: 1.0,
            special: 0.0,
        };
        let stats = [stat(f64::NAN, f64::NAN), stat(0.5, 0.25), stat(0.7, 0.75)];
        let row = summarise(0, 1, 2, &stats, &[1, 3, 3], PatternStatus::LengthsDiffer);
        assert!((row.entropy_mean - 0.6).abs() < 1e-12);
        assert!((row.previous_mean - 0.5).abs() < 1e-12);
        assert_eq!((row.n_inputs, row.min_tokens, row.max_tokens), (3, 1, 3));
        assert_eq!(row.quality_mean, 1.0);
        assert_eq!(row.average_pattern, "lengths_differ");
    }
}
