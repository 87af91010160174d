//! Attention-pattern statistics of one head on one input.
//!
//! A pattern is the head's row-stochastic `[query, key]` matrix restricted to the input's `n`
//! real tokens (the `blocks.L.attn.hook_pattern` hook point is `[batch, heads, t, t]`,
//! right-padded: [`head_block`] cuts out one head of one input). Query `i` may attend to
//! `n_i` keys: all `n` in an encoder ([`Mask::Full`]), itself and the tokens before it in a
//! decoder ([`Mask::Causal`], `n_i = i + 1`). Each row is renormalised over those keys before
//! anything is measured (its mass there is 1 up to float rounding; the masked keys hold 0).
//!
//! With `a_ij` the renormalised weights, every statistic is a mean over the query rows:
//!
//! - normalised entropy: `H(a_i) / ln n_i` with `H(a_i) = −Σ_j a_ij ln a_ij` (`0 · ln 0 = 0`),
//!   between 0 (all mass on one key) and 1 (uniform over the keys row `i` may see). Rows with
//!   `n_i = 1` (the first query of a decoder, every query of a one-token input) have no choice
//!   to measure (`0/0`) and are left out of the mean; it is `NaN` when no row is left;
//! - quality `Q = (1/N) Σ_i max_j a_ij`, between `1/n` and 1 (Q is 1 for one-hot rows);
//! - attention to self `a_ii`, to the previous token `a_{i,i−1}` (rows `i ≥ 1`; `NaN` for a
//!   one-token input), to the first token `a_i0` (`[CLS]`, BOS), and to special tokens:
//!   the total weight `Σ_{j special} a_ij` on the keys flagged special.
//!
//! Every row counts in quality, self, first and special, the first row of a decoder included
//! (it can only attend to itself, so it adds 1 to quality, self and first).

use std::fmt;

/// Which keys a query may attend to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Every real token (encoders).
    Full,
    /// The query itself and the tokens before it (decoders).
    Causal,
}

impl Mask {
    /// Number of keys query `i` of an `n`-token input may attend to.
    pub fn keys(self, query: usize, n: usize) -> usize {
        match self {
            Mask::Full => n,
            Mask::Causal => (query + 1).min(n),
        }
    }
}

/// One head's attention statistics on one input (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadStatistics {
    /// Mean normalised entropy over rows with more than one key; `NaN` when there are none.
    pub entropy: f64,
    /// Quality `Q`: the mean over rows of the largest weight.
    pub quality: f64,
    /// Mean weight of each query on itself.
    pub self_attention: f64,
    /// Mean weight of each query `i ≥ 1` on token `i − 1`; `NaN` for a one-token input.
    pub previous: f64,
    /// Mean weight on the first token (position 0).
    pub first: f64,
    /// Mean total weight on the tokens flagged special.
    pub special: f64,
}

/// Arguments that do not describe an `n`-token pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttentionError {
    /// The input has no tokens.
    Empty,
    /// `pattern` or `special` has the wrong length for `n` tokens.
    Shape {
        /// Which argument.
        what: &'static str,
        /// Its length.
        found: usize,
        /// The length `n` tokens need.
        expected: usize,
    },
}

impl fmt::Display for AttentionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttentionError::Empty => f.write_str("an attention pattern needs at least one token"),
            AttentionError::Shape {
                what,
                found,
                expected,
            } => write!(
                f,
                "attention statistics: `{what}` has {found} entries, expected {expected}"
            ),
        }
    }
}

impl std::error::Error for AttentionError {}

/// The statistics of one head's `n × n` pattern (`pattern[i * n + j]` is the weight of query
/// `i` on key `j`), with `special[j]` flagging special tokens.
///
/// Non-finite weights, or a row with no mass on the keys it may see, give `NaN` statistics.
pub fn head_statistics(
    pattern: &[f32],
    n: usize,
    mask: Mask,
    special: &[bool],
) -> Result<HeadStatistics, AttentionError> {
    if n == 0 {
        return Err(AttentionError::Empty);
    }
    if pattern.len() != n * n {
        return Err(AttentionError::Shape {
            what: "pattern",
            found: pattern.len(),
            expected: n * n,
        });
    }
    if special.len() != n {
        return Err(AttentionError::Shape {
            what: "special",
            found: special.len(),
            expected: n,
        });
    }
    let mut entropy = Mean::default();
    let mut quality = Mean::default();
    let mut self_attention = Mean::default();
    let mut previous = Mean::default();
    let mut first = Mean::default();
    let mut on_special = Mean::default();
    for (i, row) in pattern.chunks_exact(n).enumerate() {
        let keys = mask.keys(i, n);
        let row = &row[..keys];
        let total: f64 = row.iter().map(|&a| f64::from(a)).sum();
        let weight = |j: usize| f64::from(row[j]) / total;
        let weights = (0..keys).map(weight);
        if keys > 1 {
            let h: f64 = weights
                .clone()
                .filter(|&a| a != 0.0)
                .map(|a| -a * a.ln())
                .sum();
            entropy.push((h / (keys as f64).ln()).clamp(0.0, 1.0));
        }
        quality.push(weights.clone().fold(f64::NEG_INFINITY, nan_max));
        self_attention.push(weight(i));
        if i >= 1 {
            previous.push(weight(i - 1));
        }
        first.push(weight(0));
        let mass = weights.zip(special).filter(|(_, s)| **s).map(|(a, _)| a);
        on_special.push(mass.sum());
    }
    Ok(HeadStatistics {
        entropy: entropy.value(),
        quality: quality.value(),
        self_attention: self_attention.value(),
        previous: previous.value(),
        first: first.value(),
        special: on_special.value(),
    })
}

/// The `n × n` block of one head of one input, cut from a right-padded `[batch, heads, t, t]`
/// pattern flattened in row-major order: padding queries and keys are dropped.
pub fn head_block(
    pattern: &[f32],
    dims: [usize; 4],
    example: usize,
    head: usize,
    n: usize,
) -> Result<Vec<f32>, AttentionError> {
    let [b, h, t, t2] = dims;
    let expected = b * h * t * t2;
    if pattern.len() != expected || t != t2 || example >= b || head >= h || n > t {
        return Err(AttentionError::Shape {
            what: "pattern",
            found: pattern.len(),
            expected,
        });
    }
    let start = (example * h + head) * t * t;
    let rows = pattern[start..start + t * t].chunks_exact(t).take(n);
    Ok(rows.flat_map(|row| &row[..n]).copied().collect())
}

/// The larger of two numbers, `NaN` if either is.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// A running mean; `NaN` when empty.
#[derive(Default)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn push(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    fn value(&self) -> f64 {
        match self.count {
            0 => f64::NAN,
            n => self.sum / n as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[track_caller]
    fn assert_close(found: f64, expected: f64) {
        assert!(close(found, expected), "found {found}, expected {expected}");
    }

    /// An `n × n` pattern with `row(i)` giving row `i`.
    fn matrix(n: usize, row: impl Fn(usize) -> Vec<f32>) -> Vec<f32> {
        (0..n).flat_map(row).collect()
    }

    fn one_hot(n: usize, at: usize) -> Vec<f32> {
        (0..n).map(|j| if j == at { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn uniform_attention_has_entropy_one_and_quality_one_over_n() {
        let n = 5;
        let pattern = matrix(n, |_| vec![0.2; n]);
        let s = head_statistics(&pattern, n, Mask::Full, &[false; 5]).unwrap();
        assert_close(s.entropy, 1.0);
        assert_close(s.quality, 0.2);
        assert_close(s.self_attention, 0.2);
        assert_close(s.previous, 0.2);
        assert_close(s.first, 0.2);
        assert_close(s.special, 0.0);
    }

    #[test]
    fn one_hot_attention_has_entropy_zero_and_quality_one() {
        // Every query looks at the last token.
        let n = 4;
        let pattern = matrix(n, |_| one_hot(n, 3));
        let s = head_statistics(&pattern, n, Mask::Full, &[false, false, false, true]).unwrap();
        assert_eq!(s.entropy, 0.0);
        assert_close(s.quality, 1.0);
        assert_close(s.self_attention, 0.25);
        // Key 3 would be the previous token of a fifth query only.
        assert_close(s.previous, 0.0);
        assert_close(s.first, 0.0);
        assert_close(s.special, 1.0);
    }

    #[test]
    fn previous_token_head_in_a_decoder() {
        // Query 0 can only see itself; every later query puts all its weight on i − 1.
        let n = 4;
        let pattern = matrix(n, |i| one_hot(n, i.saturating_sub(1)));
        let s = head_statistics(&pattern, n, Mask::Causal, &[true, false, false, false]).unwrap();
        assert_eq!(s.entropy, 0.0);
        assert_close(s.quality, 1.0);
        assert_close(s.previous, 1.0);
        // Row 0 attends to itself, the other three rows never do.
        assert_close(s.self_attention, 0.25);
        // Rows 0 and 1 look at position 0, which is the special (BOS) token.
        assert_close(s.first, 0.5);
        assert_close(s.special, 0.5);
    }

    #[test]
    fn causal_uniform_attention_normalises_each_row_by_its_own_keys() {
        // Row i is uniform over keys 0..=i: each row has normalised entropy 1, row 0 is skipped.
        // Q = (1 + 1/2 + 1/3) / 3; previous = (1/2 + 1/3) / 2; first = Q; self = Q.
        let n = 3;
        let pattern = matrix(n, |i| {
            (0..n)
                .map(|j| if j <= i { 1.0 / (i + 1) as f32 } else { 0.0 })
                .collect()
        });
        let s = head_statistics(&pattern, n, Mask::Causal, &[false; 3]).unwrap();
        let q = (1.0 + 0.5 + 1.0 / 3.0) / 3.0;
        assert_close(s.entropy, 1.0);
        assert_close(s.quality, q);
        assert_close(s.previous, (0.5 + 1.0 / 3.0) / 2.0);
        assert_close(s.first, q);
        assert_close(s.self_attention, q);
    }

    #[test]
    fn entropy_of_a_known_row() {
        // Encoder rows [1/2, 1/4, 1/4]: H = 1.5 ln 2, normalised by ln 3.
        let n = 3;
        let pattern = matrix(n, |_| vec![0.5, 0.25, 0.25]);
        let s = head_statistics(&pattern, n, Mask::Full, &[false; 3]).unwrap();
        assert_close(s.entropy, 1.5 * 2f64.ln() / 3f64.ln());
        assert_close(s.quality, 0.5);
        assert_close(s.self_attention, (0.5 + 0.25 + 0.25) / 3.0);
        // Row 1 puts 1/2 on key 0, row 2 puts 1/4 on key 1.
        assert_close(s.previous, (0.5 + 0.25) / 2.0);
        assert_close(s.first, 0.5);
    }

    #[test]
    fn mass_on_masked_keys_is_dropped_and_rows_renormalised() {
        // A decoder row that leaks 0.5 onto the future is measured on its allowed keys only:
        // row 1 = [0.25, 0.25 | 0.5] becomes [0.5, 0.5] (entropy 1), row 0 = [1].
        let n = 3;
        let pattern = vec![
            1.0, 0.0, 0.0, //
            0.25, 0.25, 0.5, //
            0.0, 0.0, 1.0,
        ];
        let s = head_statistics(&pattern, n, Mask::Causal, &[false; 3]).unwrap();
        // Rows 1 (entropy 1) and 2 (entropy 0) count.
        assert_close(s.entropy, 0.5);
        assert_close(s.quality, (1.0 + 0.5 + 1.0) / 3.0);
        assert_close(s.self_attention, (1.0 + 0.5 + 1.0) / 3.0);
    }

    #[test]
    fn a_single_token_has_no_entropy_and_no_previous_token() {
        let s = head_statistics(&[1.0], 1, Mask::Full, &[true]).unwrap();
        assert!(s.entropy.is_nan() && s.previous.is_nan());
        assert_eq!(
            (s.quality, s.self_attention, s.first, s.special),
            (1.0, 1.0, 1.0, 1.0)
        );
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let err = head_statistics(&[1.0; 3], 2, Mask::Full, &[false; 2]).unwrap_err();
        assert_eq!(
            err,
            AttentionError::Shape {
                what: "pattern",
                found: 3,
                expected: 4
            }
        );
        assert!(head_statistics(&[1.0; 4], 2, Mask::Full, &[false]).is_err());
        assert_eq!(
            head_statistics(&[], 0, Mask::Full, &[]),
            Err(AttentionError::Empty)
        );
    }

    #[test]
    fn head_block_drops_padding_queries_and_keys() {
        // [batch 2, heads 2, t 3, t 3], value = 1000 b + 100 h + 10 q + k.
        let dims = [2, 2, 3, 3];
        let flat: Vec<f32> = (0..2 * 2 * 3 * 3)
            .map(|x| {
                let (b, h, q, k) = (x / 18, x / 9 % 2, x / 3 % 3, x % 3);
                (1000 * b + 100 * h + 10 * q + k) as f32
            })
            .collect();
        let block = head_block(&flat, dims, 1, 1, 2).unwrap();
        assert_eq!(block, [1100.0, 1101.0, 1110.0, 1111.0]);
        assert!(head_block(&flat, dims, 2, 0, 2).is_err());
        assert!(head_block(&flat, dims, 0, 0, 4).is_err());
    }

    #[test]
    fn statistics_of_a_padded_pattern_ignore_the_padding() {
        // One decoder input of 2 real tokens padded to 3: the padding row is garbage (uniform
        // over everything, as a softmax over an all-masked row can be) and must not count.
        let padded = vec![
            1.0, 0.0, 0.0, //
            1.0, 0.0, 0.0, //
            0.3, 0.3, 0.4,
        ];
        let block = head_block(&padded, [1, 1, 3, 3], 0, 0, 2).unwrap();
        let s = head_statistics(&block, 2, Mask::Causal, &[false; 2]).unwrap();
        assert_eq!(s.entropy, 0.0);
        assert_close(s.previous, 1.0);
        assert_close(s.first, 1.0);
        assert_close(s.quality, 1.0);
    }
}
