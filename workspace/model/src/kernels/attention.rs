//! Attention on the CPU backend, one block of query rows of one head at a time: the block's
//! scores (a matrix product into a buffer that stays in cache), its probabilities in place
//! ([`softmax::probabilities`]), and their product with the values written straight into the
//! `[batch, pos, heads, d_head]` output, so that merging heads copies nothing. Blocks run in
//! parallel. Queries, keys and values are read through their strides (no copies to split
//! heads), and grouped-query heads read their key/value head directly (no repeat).
//!
//! When something hooks the pattern, [`pattern`] writes every block's probabilities into a
//! `[batch, heads, query, key]` tensor and [`mix`] multiplies the (possibly edited) pattern
//! with the values. Both halves make exactly the matrix-product and softmax calls that
//! [`attention`] makes, so a pattern set from its own cache changes no bit of the output.

use super::softmax::{self, Scaling};
use super::{SharedOutput, f32_tensor};
use burn::backend::flex::FlexTensor;
use burn::tensor::Shape;
use rayon::prelude::*;

/// Query rows per block: the block's scores are `ROWS × keys` floats.
const ROWS: usize = 64;

/// A rank-4 `float32` tensor read through its strides: `[batch, heads, rows, d_head]` for
/// queries, keys and values.
struct Strided<'a> {
    data: &'a [f32],
    start: usize,
    dims: [usize; 4],
    strides: [isize; 4],
}

impl<'a> Strided<'a> {
    fn new(x: &'a FlexTensor) -> Strided<'a> {
        let layout = x.layout();
        let dims: [usize; 4] = layout.shape().dims();
        let strides: [isize; 4] = layout.strides().try_into().expect("a rank-4 layout");
        Strided {
            data: x.storage::<f32>(),
            start: layout.start_offset(),
            dims,
            strides,
        }
    }

    /// Pointer to element `[b, h, row, 0]`.
    fn at(&self, b: usize, h: usize, row: usize) -> *const f32 {
        let offset = self.start as isize
            + b as isize * self.strides[0]
            + h as isize * self.strides[1]
            + row as isize * self.strides[2];
        // SAFETY: the index lies inside the tensor, whose layout maps it inside `data`.
        unsafe { self.data.as_ptr().offset(offset) }
    }
}

/// The sizes of one attention call, and its blocks of query rows.
#[derive(Clone, Copy)]
struct Geometry {
    batch: usize,
    heads: usize,
    kv_heads: usize,
    queries: usize,
    keys: usize,
    d_head: usize,
}

/// One block: query rows `first_row..first_row + rows` of head `head` of sequence `batch`.
#[derive(Clone, Copy)]
struct Block {
    batch: usize,
    head: usize,
    first_row: usize,
    rows: usize,
}

impl Geometry {
    /// From `[batch, heads, queries, ·]` and the values `[batch, kv_heads, keys, d_head]`.
    fn new([batch, heads, queries, _]: [usize; 4], values: &Strided<'_>) -> Geometry {
        let [_, kv_heads, keys, d_head] = values.dims;
        assert!(
            kv_heads > 0 && heads % kv_heads == 0,
            "attention: {heads} query heads cannot share {kv_heads} key/value heads"
        );
        Geometry {
            batch,
            heads,
            kv_heads,
            queries,
            keys,
            d_head,
        }
    }

    /// The blocks of one head of one sequence, top to bottom.
    fn head_blocks(self, batch: usize, head: usize) -> impl Iterator<Item = Block> {
        (0..self.queries).step_by(ROWS).map(move |first_row| Block {
            batch,
            head,
            first_row,
            rows: ROWS.min(self.queries - first_row),
        })
    }

    /// Every block, sequence by sequence, head by head, top to bottom.
    fn blocks(self) -> Vec<Block> {
        (0..self.batch)
            .flat_map(|b| (0..self.heads).flat_map(move |h| self.head_blocks(b, h)))
            .collect()
    }

    /// The key/value head that query head `head` reads.
    fn kv_head(self, head: usize) -> usize {
        head / (self.heads / self.kv_heads)
    }

    /// Offset of a block's first probability in a `[batch, heads, queries, keys]` pattern.
    fn pattern_offset(self, block: Block) -> usize {
        ((block.batch * self.heads + block.head) * self.queries + block.first_row) * self.keys
    }

    fn pattern_shape(self) -> Shape {
        Shape::from(vec![self.batch, self.heads, self.queries, self.keys])
    }

    fn z_shape(self) -> Shape {
        Shape::from(vec![self.batch, self.queries, self.heads, self.d_head])
    }
}

/// What turns query rows into probabilities: the queries, keys, mask and scaling.
struct Scores<'a> {
    geometry: Geometry,
    q: Strided<'a>,
    k: Strided<'a>,
    /// `[batch or 1, 1, queries, keys]`, contiguous.
    mask: &'a [f32],
    mask_batched: bool,
    scaling: Scaling,
}

impl<'a> Scores<'a> {
    fn new(
        q: &'a FlexTensor,
        k: &'a FlexTensor,
        mask: &'a FlexTensor,
        scaling: Scaling,
    ) -> Scores<'a> {
        let (q, k) = (Strided::new(q), Strided::new(k));
        let geometry = Geometry::new(q.dims, &k);
        let mask_dims: [usize; 4] = mask.layout().shape().dims();
        assert_eq!(
            mask_dims[2..],
            [geometry.queries, geometry.keys],
            "attention: mask {mask_dims:?} for {} queries and {} keys",
            geometry.queries,
            geometry.keys
        );
        Scores {
            geometry,
            q,
            k,
            mask: mask.as_slice::<f32>().expect("a contiguous mask"),
            mask_batched: mask_dims[0] > 1,
            scaling,
        }
    }

    /// The block's probabilities, `rows × keys` row-major, into `out`.
    fn block(&self, block: Block, out: &mut [f32]) {
        let g = self.geometry;
        // SAFETY: `out` holds rows × keys floats; q and k are read inside their tensors.
        unsafe {
            product(
                [block.rows, g.keys, g.d_head],
                (out.as_mut_ptr(), g.keys as isize),
                (
                    self.q.at(block.batch, block.head, block.first_row),
                    self.q.strides[3],
                    self.q.strides[2],
                ),
                (
                    self.k.at(block.batch, g.kv_head(block.head), 0),
                    self.k.strides[2],
                    self.k.strides[3],
                ),
            );
        }
        let mask_batch = if self.mask_batched { block.batch } else { 0 };
        let start = (mask_batch * g.queries + block.first_row) * g.keys;
        let masks = &self.mask[start..start + block.rows * g.keys];
        softmax::probabilities(out, masks, g.keys, self.scaling);
    }
}

/// The block's rows of `z = pattern · v` into `z` (`[batch, queries, heads, d_head]`).
fn mix_block(g: Geometry, v: &Strided<'_>, block: Block, pattern: &[f32], z: SharedOutput) {
    let row_stride = g.heads * g.d_head;
    let offset = (block.batch * g.queries + block.first_row) * row_stride + block.head * g.d_head;
    // SAFETY: the block writes rows first_row.. of its sequence at its head's columns, which no
    // other block writes; pattern holds rows × keys floats; v is read inside its tensor.
    unsafe {
        product(
            [block.rows, g.d_head, g.keys],
            (z.at(offset), row_stride as isize),
            (pattern.as_ptr(), 1, g.keys as isize),
            (
                v.at(block.batch, g.kv_head(block.head), 0),
                v.strides[3],
                v.strides[2],
            ),
        );
    }
}

/// `dst = lhs · rhs` for `[m, n, k]` on the calling thread: `dst` is `(pointer, row stride)`
/// with unit column stride, `lhs` and `rhs` are `(pointer, column stride, row stride)`.
///
/// # Safety
///
/// As `gemm::gemm`: every pointer and stride must address memory of its matrix, and `dst`
/// must be writable and not overlap the others.
unsafe fn product(
    [m, n, k]: [usize; 3],
    (dst, dst_rs): (*mut f32, isize),
    (lhs, lhs_cs, lhs_rs): (*const f32, isize, isize),
    (rhs, rhs_cs, rhs_rs): (*const f32, isize, isize),
) {
    // SAFETY: the caller's guarantee.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            false,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `softmax(q·kᵀ · factor (soft-capped) + mask) · v`: q `[batch, heads, queries, d_head]`, k
/// and v `[batch, kv_heads, keys, d_head]`, mask `[batch or 1, 1, queries, keys]`; returns z
/// `[batch, queries, heads, d_head]`, contiguous.
pub fn attention(
    q: &FlexTensor,
    k: &FlexTensor,
    v: &FlexTensor,
    mask: &FlexTensor,
    scaling: Scaling,
) -> FlexTensor {
    let mask = mask.to_contiguous();
    let scores = Scores::new(q, k, &mask, scaling);
    let (g, v) = (scores.geometry, Strided::new(v));
    let mut z = vec![0.0; g.z_shape().num_elements()];
    let out = SharedOutput(z.as_mut_ptr());
    g.blocks()
        .into_par_iter()
        .for_each_init(Vec::new, |buffer: &mut Vec<f32>, block| {
            buffer.resize(block.rows * g.keys, 0.0);
            scores.block(block, buffer);
            mix_block(g, &v, block, buffer, out);
        });
    f32_tensor(z, g.z_shape())
}

/// The attention pattern `softmax(q·kᵀ · factor (soft-capped) + mask)`, `[batch, heads,
/// queries, keys]`, exactly as [`attention`] computes it.
pub fn pattern(q: &FlexTensor, k: &FlexTensor, mask: &FlexTensor, scaling: Scaling) -> FlexTensor {
    let mask = mask.to_contiguous();
    let scores = Scores::new(q, k, &mask, scaling);
    let g = scores.geometry;
    let mut pattern = vec![0.0; g.pattern_shape().num_elements()];
    let head_len = g.queries * g.keys;
    if head_len > 0 {
        pattern
            .par_chunks_mut(head_len)
            .enumerate()
            .for_each(|(i, head)| {
                let blocks = g.head_blocks(i / g.heads, i % g.heads);
                for (block, out) in blocks.zip(head.chunks_mut(ROWS * g.keys)) {
                    scores.block(block, out);
                }
            });
    }
    f32_tensor(pattern, g.pattern_shape())
}

/// `pattern · v` with heads merged, `[batch, queries, heads, d_head]`, exactly as
/// [`attention`] computes it from its own pattern.
pub fn mix(pattern: &FlexTensor, v: &FlexTensor) -> FlexTensor {
    let pattern = pattern.to_contiguous();
    let v = Strided::new(v);
    let g = Geometry::new(pattern.layout().shape().dims(), &v);
    let probabilities = pattern.as_slice::<f32>().expect("a contiguous pattern");
    let mut z = vec![0.0; g.z_shape().num_elements()];
    let out = SharedOutput(z.as_mut_ptr());
    g.blocks().into_par_iter().for_each(|block| {
        let start = g.pattern_offset(block);
        let rows = &probabilities[start..start + block.rows * g.keys];
        mix_block(g, &v, block, rows, out);
    });
    f32_tensor(z, g.z_shape())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Tensor, TensorData, activation::softmax};

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0 - 1.0) * 1.7)
            .collect()
    }

    fn tensor(dims: [usize; 4], seed: usize) -> Tensor<4> {
        let n = dims.iter().product();
        Tensor::from_data(TensorData::new(values(n, seed), dims), &Default::default())
    }

    fn flex(x: &Tensor<4>) -> FlexTensor {
        FlexTensor::from_data(x.to_data())
    }

    fn floats(x: FlexTensor) -> Vec<f32> {
        x.into_data().try_into_vec_as::<f32>().unwrap()
    }

    /// Queries `[2, 6, 70, 8]` as a head-split view of `[2, 70, 6, 8]` (more than one block of
    /// rows), keys and values with 3 heads, a padding mask that differs by sequence.
    fn case() -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let (b, h, kv, t, dh) = (2, 6, 3, 70, 8);
        let q = FlexTensor::from_data(tensor([b, t, h, dh], 1).to_data()).transpose(1, 2);
        let k = tensor([b, kv, t, dh], 2);
        let v = tensor([b, kv, t, dh], 3);
        let mask: Vec<f32> = (0..b * t * t)
            .map(|i| {
                if i / (t * t) == 1 && i % t >= 60 {
                    -1.0e9
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_data(TensorData::new(mask, [b, 1, t, t]), &Default::default());
        (q, flex(&k), flex(&v), flex(&mask))
    }

    /// The scaling of [`case`].
    const SCALING: Scaling = Scaling {
        factor: 0.35,
        softcap: None,
    };

    #[test]
    fn the_split_path_gives_the_same_bits_as_the_fused_one() {
        let (q, k, v, mask) = case();
        let fused = floats(attention(&q, &k, &v, &mask, SCALING));
        let split = floats(mix(&pattern(&q, &k, &mask, SCALING), &v));
        assert_eq!(fused, split);
    }

    #[test]
    fn attention_matches_the_tensor_ops() {
        let (q, k, v, mask) = case();
        let got = floats(attention(&q, &k, &v, &mask, SCALING));

        let as_tensor =
            |x: &FlexTensor| Tensor::<4>::from_data(x.clone().into_data(), &Default::default());
        let repeat = |x: Tensor<4>| {
            let [b, kv, t, dh] = x.dims();
            x.unsqueeze_dim::<5>(2)
                .repeat_dim(2, 2)
                .reshape([b, kv * 2, t, dh])
        };
        let scores = as_tensor(&q).matmul(repeat(as_tensor(&k)).swap_dims(2, 3)) * SCALING.factor
            + as_tensor(&mask);
        let want = softmax(scores, 3)
            .matmul(repeat(as_tensor(&v)))
            .swap_dims(1, 2);
        let want = want.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    #[test]
    fn masked_keys_get_no_weight() {
        let (q, k, _, mask) = case();
        let scaling = Scaling {
            factor: 1.0,
            softcap: None,
        };
        let p = floats(pattern(&q, &k, &mask, scaling));
        let t = 70;
        // Sequence 1 (heads 6..12 of the flattened rows) masks keys 60 and on.
        for row in p.chunks(t).skip(6 * t) {
            assert!(row[60..].iter().all(|&x| x == 0.0));
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}
