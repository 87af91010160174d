//! Statistics of every head's attention pattern at the study's layers over its inputs
//! (normalised entropy, quality, attention to self, the previous token, the first token and
//! special tokens; see [`cavern_probe::attention`]), and the average pattern when the inputs
//! are short and all equally long.

use super::patterns::each_pattern;
use super::spec::{AttentionSpec, MAX_PATTERN_TOKENS};
use super::tables::{AttentionHeadRow, PatternCell};
use crate::engine::{StudyError, mean_std};
use cavern_model::tokenizer::Encoding;
use cavern_model::{LoadedModel, ModelKind, Site, SitePoint};
use cavern_probe::attention::{HeadStatistics, Mask, head_statistics};

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

/// Per (layer, head): every input's statistics, and the running sum of the patterns.
struct Accumulator {
    stats: Vec<HeadStatistics>,
    pattern_sum: Vec<f64>,
}

/// Every head's statistics at the study's layers, and its average pattern when written.
pub(super) fn statistics(
    index: usize,
    study: &AttentionSpec,
    model: &LoadedModel,
    (encodings, special): (&[Encoding], &[Vec<bool>]),
    batch_size: usize,
) -> Result<(Vec<AttentionHeadRow>, Vec<PatternCell>), StudyError> {
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
    each_pattern(
        model,
        encodings,
        &sites,
        batch_size,
        None,
        |input, patterns| {
            let n = lengths[input];
            for (blocks, heads) in patterns.into_iter().zip(&mut acc) {
                if heads.is_empty() {
                    let cells = if status == PatternStatus::Written {
                        lengths[0] * lengths[0]
                    } else {
                        0
                    };
                    heads.extend(blocks.iter().map(|_| Accumulator {
                        stats: Vec::with_capacity(encodings.len()),
                        pattern_sum: vec![0.0; cells],
                    }));
                }
                for (head, block) in heads.iter_mut().zip(&blocks) {
                    head.stats
                        .push(head_statistics(block, n, mask, &special[input])?);
                    for (sum, &w) in head.pattern_sum.iter_mut().zip(block) {
                        *sum += f64::from(w);
                    }
                }
            }
            Ok(())
        },
    )?;
    let labels = (status == PatternStatus::Written).then(|| shared_tokens(encodings));
    let (mut rows, mut cells) = (Vec::new(), Vec::new());
    for (&layer, heads) in study.layers.iter().zip(&acc) {
        for (h, head) in heads.iter().enumerate() {
            rows.push(summarise(index, layer, h, &head.stats, &lengths, status));
            if let Some(labels) = &labels {
                cells.extend(pattern_cells(index, layer, h, head, labels));
            }
        }
    }
    Ok((rows, cells))
}

fn summarise(
    study: usize,
    layer: usize,
    head: usize,
    stats: &[HeadStatistics],
    lengths: &[usize],
    status: PatternStatus,
) -> AttentionHeadRow {
    let all = |f: fn(&HeadStatistics) -> f64| stats.iter().map(f).collect::<Vec<f64>>();
    // Entropy and the previous token are undefined on one-token inputs: leave those out.
    let multi = |f: fn(&HeadStatistics) -> f64| {
        let pairs = stats.iter().zip(lengths);
        pairs.filter(|(_, n)| **n > 1).map(|(s, _)| f(s)).collect()
    };
    let entropy: Vec<f64> = multi(|s| s.entropy);
    let (entropy_mean, entropy_std) = mean_std(&entropy);
    let (quality_mean, quality_std) = mean_std(&all(|s| s.quality));
    AttentionHeadRow {
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
