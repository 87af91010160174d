//! Attention's scores to probabilities, one query row at a time: scale, optional soft-cap,
//! additive mask and softmax in one pass over the row while it sits in cache, with the
//! vectorised [`exp`]. Reductions keep [`LANES`] partial results whatever the
//! instruction set, so AVX-512, AVX2 and the portable build give the same bits.

use super::exp::exp;
use super::simd::widest_simd;

/// Partial sums and maxima kept apart in the reductions (one AVX-512 register of `f32`).
const LANES: usize = 16;

/// How raw query-key dot products become scores before the mask is added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    /// Factor of the dot products (`1/√d_head` unless the model says otherwise).
    pub factor: f32,
    /// Scores pass through `cap · tanh(score / cap)` (Gemma 2).
    pub softcap: Option<f32>,
}

/// Largest value of `row` (NaN-free rows; empty rows give negative infinity).
#[inline(always)]
fn max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            *m = if x > *m { x } else { *m };
        }
    }
    for (m, &x) in lanes.iter_mut().zip(tail) {
        *m = if x > *m { x } else { *m };
    }
    halving(lanes, |a, b| if b > a { b } else { a })
}

/// `lanes` combined pairwise, halves first (`LANES / 2` independent steps, then a quarter...):
/// a fixed order, so every instruction set gives the same bits, without a chain of `LANES`
/// dependent scalar steps per row.
#[inline(always)]
fn halving(mut lanes: [f32; LANES], combine: impl Fn(f32, f32) -> f32) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            lanes[i] = combine(lanes[i], lanes[i + width]);
        }
        width /= 2;
    }
    lanes[0]
}

/// Replaces every value by `exp(value - shift)` and returns their sum. Value `j` joins
/// partial sum `j mod LANES` wherever the row ends, so keys masked at the end of a padded row
/// (exact zeros) change no bit of the sum: a text's activations do not depend on the length
/// of the batch it shares.
#[inline(always)]
fn exp_shifted_sum(row: &mut [f32], shift: f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (s, x) in lanes.iter_mut().zip(chunk) {
            *x = exp(*x - shift);
            *s += *x;
        }
    }
    for (s, x) in lanes.iter_mut().zip(chunks.into_remainder()) {
        *x = exp(*x - shift);
        *s += *x;
    }
    halving(lanes, |a, b| a + b)
}

/// One row: `scores · factor`, soft-capped, plus `mask`, then softmax, in place.
#[inline(always)]
fn probabilities_row(row: &mut [f32], mask: &[f32], scaling: Scaling) {
    for x in row.iter_mut() {
        *x *= scaling.factor;
    }
    if let Some(cap) = scaling.softcap {
        for x in row.iter_mut() {
            *x = cap * (*x / cap).tanh();
        }
    }
    for (x, &m) in row.iter_mut().zip(mask) {
        *x += m;
    }
    let shift = max(row);
    let inverse = 1.0 / exp_shifted_sum(row, shift);
    for x in row.iter_mut() {
        *x *= inverse;
    }
}

/// Every row of `rows` (row-major, `width` wide) with the mask row of the same index.
#[inline(always)]
fn probabilities_rows(rows: &mut [f32], masks: &[f32], width: usize, scaling: Scaling) {
    for (row, mask) in rows.chunks_exact_mut(width).zip(masks.chunks_exact(width)) {
        probabilities_row(row, mask, scaling);
    }
}

widest_simd! {
    /// Turns each `width`-wide row of raw query-key products into attention probabilities,
    /// in place: times `scaling.factor`, soft-capped, plus the matching row of `masks`, then
    /// softmax.
    pub fn probabilities(rows: &mut [f32], masks: &[f32], width: usize, scaling: Scaling)
        = probabilities_rows;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Softmax in `f64` of `scores · factor + mask`, the textbook way.
    fn reference(scores: &[f32], mask: &[f32], factor: f32) -> Vec<f64> {
        let s: Vec<f64> = scores
            .iter()
            .zip(mask)
            .map(|(&x, &m)| f64::from(x) * f64::from(factor) + f64::from(m))
            .collect();
        let top = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.iter().map(|x| (x - top).exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|x| x / total).collect()
    }

    #[test]
    fn rows_match_a_textbook_softmax_and_masked_keys_get_exactly_zero() {
        let width = 37;
        let scores: Vec<f32> = (0..3 * width)
            .map(|i| ((i * 7919) % 61) as f32 * 0.37 - 11.0)
            .collect();
        let masks: Vec<f32> = (0..3 * width)
            .map(|i| if i % 5 == 0 { -1.0e9 } else { 0.0 })
            .collect();
        let mut rows = scores.clone();
        let scaling = Scaling {
            factor: 0.125,
            softcap: None,
        };
        probabilities(&mut rows, &masks, width, scaling);
        for r in 0..3 {
            let span = r * width..(r + 1) * width;
            let want = reference(&scores[span.clone()], &masks[span.clone()], 0.125);
            for ((&got, want), &m) in rows[span.clone()].iter().zip(want).zip(&masks[span]) {
                assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
                if m < 0.0 {
                    assert_eq!(got, 0.0);
                }
            }
        }
    }

    #[test]
    fn softcap_bounds_the_scores() {
        let mut rows = vec![1000.0, 0.0];
        let scaling = Scaling {
            factor: 1.0,
            softcap: Some(2.0),
        };
        probabilities(&mut rows, &[0.0, 0.0], 2, scaling);
        // The capped scores are 2·tanh(500) = 2 and 0.
        let want = 1.0 / (1.0 + (-2.0f64).exp());
        assert!((f64::from(rows[0]) - want).abs() < 1e-6);
    }

    #[test]
    fn masked_keys_appended_to_a_row_change_no_bit() {
        let scores: Vec<f32> = (0..20).map(|i| (i as f32 * 0.917).cos() * 4.0).collect();
        let scaling = Scaling {
            factor: 0.5,
            softcap: None,
        };
        let mut short = scores.clone();
        probabilities(&mut short, &[0.0; 20], 20, scaling);
        for width in [21, 32, 37, 64] {
            let mut padded = scores.clone();
            padded.resize(width, 3.0);
            let mut masks = vec![0.0; 20];
            masks.resize(width, -1.0e9);
            probabilities(&mut padded, &masks, width, scaling);
            assert_eq!(padded[..20], short[..], "width {width}");
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let width = 50;
        let scores: Vec<f32> = (0..4 * width)
            .map(|i| (i as f32 * 0.731).sin() * 9.0)
            .collect();
        let masks = vec![0.0; scores.len()];
        let scaling = Scaling {
            factor: 0.3,
            softcap: None,
        };
        let mut portable = scores.clone();
        probabilities_rows(&mut portable, &masks, width, scaling);
        let mut dispatched = scores;
        probabilities(&mut dispatched, &masks, width, scaling);
        assert_eq!(portable, dispatched);
    }
}
