//! Rotary position embeddings in one pass: each head's pairs rotated by the position's cosine
//! and sine, written straight into `[batch, pos, heads, d_head]` (the layout the projections
//! come in and the attention kernel reads), with no copies to split, rotate and join halves.
//! Each value is `a·cos - b·sin` or `a·sin + b·cos`, rounded as burn's ops round them, so the
//! result has the same bits as the op-by-op rotation.

use super::f32_tensor;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// How a head's values pair up for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// `(2i, 2i + 1)`, llama.cpp's layout.
    Adjacent,
    /// `(i, i + rotary_dim / 2)`, Hugging Face's layout.
    Halves,
}

/// Output rows (one position of one sequence, all heads) per parallel task.
const ROWS_PER_TASK: usize = 8;

/// Rotates x `[batch, heads, pos, d_head]` (any strides) by the tables cos and sin
/// `[1 or batch, 1, pos, rotary_dim / 2]`; values past `rotary_dim` pass through. The result
/// has x's shape, stored as `[batch, pos, heads, d_head]`.
pub fn rotate(
    x: &FlexTensor,
    cos: &FlexTensor,
    sin: &FlexTensor,
    pairing: Pairing,
    rotary_dim: usize,
) -> FlexTensor {
    let [b, h, t, dh]: [usize; 4] = x.layout().shape().dims();
    let [tables, _, table_t, half]: [usize; 4] = cos.layout().shape().dims();
    assert!(
        table_t == t && 2 * half == rotary_dim && rotary_dim <= dh && (tables == 1 || tables == b),
        "rope: x {:?}, tables {:?}, rotary width {rotary_dim}",
        [b, h, t, dh],
        [tables, 1, table_t, half]
    );
    // Heads are read as slices from computed offsets: unit stride within a head, no reversed
    // (negative-stride) dimension.
    let readable = x.layout().strides()[3] == 1 && x.layout().strides().iter().all(|&s| s >= 0);
    let x = match readable {
        true => x.clone(),
        false => x.to_contiguous(),
    };
    let (cos, sin) = (cos.to_contiguous(), sin.to_contiguous());
    let (cos, sin) = (
        cos.as_slice::<f32>().expect("a contiguous table"),
        sin.as_slice::<f32>().expect("a contiguous table"),
    );
    let strides = x.layout().strides();
    let values = &x.storage::<f32>()[x.layout().start_offset()..];
    let mut out = vec![0.0f32; b * t * h * dh];
    out.par_chunks_mut(h * dh)
        .with_min_len(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(row, heads)| {
            let (batch, pos) = (row / t, row % t);
            let table = (if tables == 1 { 0 } else { batch } * t + pos) * half;
            let (cos, sin) = (&cos[table..table + half], &sin[table..table + half]);
            for (head, dst) in heads.chunks_exact_mut(dh).enumerate() {
                let start = batch as isize * strides[0]
                    + head as isize * strides[1]
                    + pos as isize * strides[2];
                let src = &values[start as usize..start as usize + dh];
                rotate_head(dst, src, cos, sin, pairing);
            }
        });
    f32_tensor(out, [b, t, h, dh]).transpose(1, 2)
}

/// One head: `dst` is `src` with its first `2 · cos.len()` values rotated.
#[inline(always)]
fn rotate_head(dst: &mut [f32], src: &[f32], cos: &[f32], sin: &[f32], pairing: Pairing) {
    let half = cos.len();
    let rotary_dim = 2 * half;
    match pairing {
        Pairing::Adjacent => {
            for (i, (&c, &s)) in cos.iter().zip(sin).enumerate() {
                let (a, b) = (src[2 * i], src[2 * i + 1]);
                dst[2 * i] = a * c - b * s;
                dst[2 * i + 1] = a * s + b * c;
            }
        }
        Pairing::Halves => {
            let (first, second) = src[..rotary_dim].split_at(half);
            let (dst_first, dst_second) = dst[..rotary_dim].split_at_mut(half);
            for i in 0..half {
                let (a, b, c, s) = (first[i], second[i], cos[i], sin[i]);
                dst_first[i] = a * c - b * s;
                dst_second[i] = a * s + b * c;
            }
        }
    }
    dst[rotary_dim..].copy_from_slice(&src[rotary_dim..]);
}
