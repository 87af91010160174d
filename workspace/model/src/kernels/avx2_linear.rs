//! The matrix product of a linear layer on CPUs with AVX2 and FMA but no AVX-512: `out +=
//! x · w`, with the weight packed into panels of 16 columns and a 6 × 16 FMA microkernel that
//! broadcasts x straight from its rows.
//!
//! On such CPUs gemm's AVX2 path leaves the FMA units idle much of the time on the tall
//! products of a forward pass (many token rows against one weight): on MiniLM's linear layers
//! at 8192 rows, one after another on two Zen 5 cores, gemm ran at 139–149 GFLOP/s, MKL at
//! 158–159 and this kernel at 180–201 (`examples/linear_chain.rs`, benches/README.md). Where
//! the CPU has AVX-512, gemm's AVX-512 kernels run near the hardware's peak and are used
//! instead.
//!
//! Each output value is the bias plus its products summed in order of `d_in`, block by block
//! of [`DEPTH`], whatever the number of threads, so results are the same on every run.

use super::SharedOutput;
use rayon::prelude::*;
use std::arch::x86_64::*;

/// Rows of x per microkernel call (each broadcast against a panel of the weight).
const ROWS: usize = 6;
/// Output columns per microkernel call: two 8-lane vectors.
const COLS: usize = 16;
/// Depth of one block of `d_in`: a weight panel of `DEPTH × COLS` floats (24 KiB) stays in
/// the L1 cache while the row panels of a block of x stream past it.
const DEPTH: usize = 384;
/// Most rows of x per task (a multiple of [`ROWS`]): a block of x (`BLOCK_ROWS × DEPTH`
/// floats, 216 KiB) stays in the L2 cache while every weight panel passes over it.
const BLOCK_ROWS: usize = 144;
/// Products with fewer rows go to gemm: packing the weight on every call would cost too much
/// of so short a product.
pub(super) const MIN_ROWS: usize = 256;

/// Whether this kernel takes products of `rows` rows on this CPU: it has AVX2 and FMA, and
/// gemm has no AVX-512 kernels for it (the `avx512` feature is off or the CPU lacks AVX-512F).
pub(super) fn takes(rows: usize) -> bool {
    #[cfg(feature = "avx512")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        return false;
    }
    rows >= MIN_ROWS && has_avx2_fma()
}

fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// A matrix read through its strides: element `(r, c)` is at `ptr + r·row_stride +
/// c·col_stride`.
#[derive(Clone, Copy)]
pub(super) struct Strided {
    pub ptr: *const f32,
    pub row_stride: isize,
    pub col_stride: isize,
}

impl Strided {
    /// # Safety
    ///
    /// `(r, c)` must lie inside the matrix.
    unsafe fn at(self, r: usize, c: usize) -> f32 {
        // SAFETY: the caller's guarantee.
        unsafe {
            *self
                .ptr
                .offset(r as isize * self.row_stride + c as isize * self.col_stride)
        }
    }
}

// SAFETY: the matrices are only read, and outlive the product (see `product`).
unsafe impl Send for Strided {}
unsafe impl Sync for Strided {}

/// A matrix whose rows are contiguous: row `r` starts at `ptr + r·row_stride`.
#[derive(Clone, Copy)]
pub(super) struct Rows {
    pub ptr: *const f32,
    pub row_stride: isize,
}

impl Rows {
    /// Pointer to element `(r, c)`.
    fn at(self, r: usize, c: usize) -> *const f32 {
        self.ptr
            .wrapping_offset(r as isize * self.row_stride)
            .wrapping_add(c)
    }
}

// SAFETY: as for `Strided`.
unsafe impl Send for Rows {}
unsafe impl Sync for Rows {}

/// `out += x · w` for x `[rows, d_in]` and w `[d_in, d_out]`; `out` is `[rows, d_out]`,
/// row-major and contiguous.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA; x and w must address `rows × d_in` and `d_in × d_out`
/// readable floats, and not overlap `out`.
pub(super) unsafe fn product(
    [rows, d_in, d_out]: [usize; 3],
    x: Rows,
    w: Strided,
    out: &mut [f32],
) {
    assert_eq!(out.len(), rows * d_out, "avx2_linear: output size");
    if rows == 0 || d_out == 0 || d_in == 0 {
        return;
    }
    // SAFETY: the caller's guarantee on w.
    let panels = unsafe { pack_weight(w, d_in, d_out) };
    let tiling = Tiling::new(rows, d_out, rayon::current_num_threads());
    // Each task writes only its own rows × columns of the output.
    let output = SharedOutput(out.as_mut_ptr());
    (0..tiling.row_blocks * tiling.col_chunks)
        .into_par_iter()
        .for_each(|tile| {
            let (rows_at, cols_at) = tiling.tile(tile);
            for (block, depth_at) in (0..d_in).step_by(DEPTH).enumerate() {
                let depth = DEPTH.min(d_in - depth_at);
                let block_panels = &panels[block * DEPTH * padded(d_out, COLS)..];
                for col in cols_at.clone().step_by(COLS) {
                    let panel = &block_panels[col * depth..][..depth * COLS];
                    for row in rows_at.clone().step_by(ROWS) {
                        let tile = Tile {
                            rows: ROWS.min(rows_at.end - row),
                            cols: COLS.min(d_out - col),
                        };
                        // A partial tile's missing rows read its last row again; their sums
                        // are not written.
                        let xs =
                            std::array::from_fn(|i| x.at(row + i.min(tile.rows - 1), depth_at));
                        // SAFETY: the CPU has AVX2 and FMA and each row in xs holds `depth`
                        // values (the caller's guarantee); this task alone writes rows rows_at
                        // × columns cols_at of the output.
                        unsafe {
                            microkernel(depth, xs, panel, output.at(row * d_out + col), d_out, tile)
                        };
                    }
                }
            }
        });
}

/// `n` rounded up to a multiple of `to`.
fn padded(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// How the output splits into tasks: blocks of row panels of equal size (to within one
/// panel), and if those are too few to keep every thread busy, chunks of columns.
#[derive(Clone, Copy)]
struct Tiling {
    rows: usize,
    d_out: usize,
    row_panels: usize,
    row_blocks: usize,
    chunk_cols: usize,
    col_chunks: usize,
}

impl Tiling {
    fn new(rows: usize, d_out: usize, threads: usize) -> Tiling {
        let tasks = 2 * threads.max(1);
        let row_panels = rows.div_ceil(ROWS);
        let fewest_blocks = row_panels.div_ceil(BLOCK_ROWS / ROWS);
        let row_blocks = padded(fewest_blocks, tasks).min(row_panels);
        let panels = d_out.div_ceil(COLS);
        let chunk_panels = panels.div_ceil(tasks.div_ceil(row_blocks)).max(1);
        Tiling {
            rows,
            d_out,
            row_panels,
            row_blocks,
            chunk_cols: chunk_panels * COLS,
            col_chunks: panels.div_ceil(chunk_panels),
        }
    }

    /// Task `i`'s rows and columns.
    fn tile(self, i: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let (r, c) = (i / self.col_chunks, i % self.col_chunks);
        let first_panel = |block: usize| block * self.row_panels / self.row_blocks;
        let rows =
            (first_panel(r) * ROWS).min(self.rows)..(first_panel(r + 1) * ROWS).min(self.rows);
        let cols = c * self.chunk_cols..((c + 1) * self.chunk_cols).min(self.d_out);
        (rows, cols)
    }
}

/// w `[d_in, d_out]` as panels: for each block of [`DEPTH`] rows, for each run of [`COLS`]
/// columns, `depth × COLS` floats, row by row, zero past `d_out`.
///
/// # Safety
///
/// w must address `d_in × d_out` readable floats through its strides.
unsafe fn pack_weight(w: Strided, d_in: usize, d_out: usize) -> Vec<f32> {
    let len = d_in * padded(d_out, COLS);
    let mut panels = Vec::with_capacity(len);
    let mut chunks = Vec::new();
    let mut rest = &mut panels.spare_capacity_mut()[..len];
    for depth_at in (0..d_in).step_by(DEPTH) {
        let depth = DEPTH.min(d_in - depth_at);
        for col in (0..d_out).step_by(COLS) {
            let (chunk, tail) = rest.split_at_mut(depth * COLS);
            chunks.push((depth_at, col, chunk));
            rest = tail;
        }
    }
    chunks.into_par_iter().for_each(|(depth_at, col, chunk)| {
        let cols = COLS.min(d_out - col);
        for (p, dst) in chunk.chunks_exact_mut(COLS).enumerate() {
            let (values, padding) = dst.split_at_mut(cols);
            if w.col_stride == 1 {
                // SAFETY: row depth_at + p < d_in holds columns col..col + cols < d_out,
                // contiguous.
                let source = unsafe {
                    let start = w.ptr.offset((depth_at + p) as isize * w.row_stride);
                    std::slice::from_raw_parts(start.add(col), cols)
                };
                values.write_copy_of_slice(source);
            } else {
                for (c, value) in values.iter_mut().enumerate() {
                    // SAFETY: as above.
                    value.write(unsafe { w.at(depth_at + p, col + c) });
                }
            }
            for value in padding {
                value.write(0.0);
            }
        }
    });
    // SAFETY: the chunks cover all `len` values, and every value was written just above.
    unsafe { panels.set_len(len) };
    panels
}

/// The part of a microkernel's 6 × 16 result that lies inside the output.
#[derive(Clone, Copy)]
struct Tile {
    rows: usize,
    cols: usize,
}

/// `out[i, j] += Σ_p xs[i][p] · panel[p, j]` over `depth`, for the tile's rows and columns;
/// `out` has row stride `stride`.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA; each of `xs` must address `depth` readable floats, and
/// `out` the tile's rows × columns writably.
#[target_feature(enable = "avx2,fma")]
unsafe fn microkernel(
    depth: usize,
    xs: [*const f32; ROWS],
    panel: &[f32],
    out: *mut f32,
    stride: usize,
    tile: Tile,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
    for (p, w) in panel[..depth * COLS].chunks_exact(COLS).enumerate() {
        // SAFETY: w holds COLS = 16 floats.
        let (w0, w1) = unsafe {
            (
                _mm256_loadu_ps(w.as_ptr()),
                _mm256_loadu_ps(w.as_ptr().add(8)),
            )
        };
        for (acc, x) in acc.iter_mut().zip(xs) {
            // SAFETY: p < depth, and each row of xs holds `depth` floats.
            let xi = _mm256_set1_ps(unsafe { *x.add(p) });
            acc[0] = _mm256_fmadd_ps(xi, w0, acc[0]);
            acc[1] = _mm256_fmadd_ps(xi, w1, acc[1]);
        }
    }
    if tile.rows == ROWS && tile.cols == COLS {
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: the tile is whole, so row i's 16 columns lie inside `out`.
            unsafe {
                let row = out.add(i * stride);
                _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[0]));
                _mm256_storeu_ps(
                    row.add(8),
                    _mm256_add_ps(_mm256_loadu_ps(row.add(8)), acc[1]),
                );
            }
        }
    } else {
        let mut values = [[0.0f32; COLS]; ROWS];
        for (row, acc) in values.iter_mut().zip(&acc) {
            // SAFETY: a row holds 16 floats.
            unsafe {
                _mm256_storeu_ps(row.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(row.as_mut_ptr().add(8), acc[1]);
            }
        }
        for (i, row) in values.iter().enumerate().take(tile.rows) {
            for (j, v) in row.iter().enumerate().take(tile.cols) {
                // SAFETY: (i, j) lies inside the tile, which lies inside `out`.
                unsafe { *out.add(i * stride + j) += v };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed * 104729) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// `bias + x · w` in f64.
    fn reference([rows, d_in, d_out]: [usize; 3], x: Rows, w: Strided, bias: &[f32]) -> Vec<f64> {
        let mut out = vec![0.0; rows * d_out];
        for r in 0..rows {
            for c in 0..d_out {
                let mut sum = bias[c] as f64;
                for p in 0..d_in {
                    // SAFETY: r < rows, p < d_in, c < d_out inside the test's matrices.
                    sum += unsafe { *x.at(r, p) as f64 * w.at(p, c) as f64 };
                }
                out[r * d_out + c] = sum;
            }
        }
        out
    }

    fn check(shape: [usize; 3], w_transposed: bool) {
        if !has_avx2_fma() {
            eprintln!("skipped: this CPU has no AVX2 + FMA");
            return;
        }
        let [rows, d_in, d_out] = shape;
        // x is a view of the first d_in columns of a [rows, d_in + 3] matrix.
        let x_data = values(rows * (d_in + 3), 1);
        let x = Rows {
            ptr: x_data.as_ptr(),
            row_stride: d_in as isize + 3,
        };
        let w_data = values(d_in * d_out, 2);
        let w = if w_transposed {
            // Stored [d_out, d_in], read as its transpose.
            Strided {
                ptr: w_data.as_ptr(),
                row_stride: 1,
                col_stride: d_in as isize,
            }
        } else {
            Strided {
                ptr: w_data.as_ptr(),
                row_stride: d_out as isize,
                col_stride: 1,
            }
        };
        let bias = values(d_out, 3);
        let mut out: Vec<f32> = (0..rows).flat_map(|_| bias.iter().copied()).collect();
        // SAFETY: the CPU has AVX2 and FMA; x and w address their matrices.
        unsafe { product(shape, x, w, &mut out) };
        let want = reference(shape, x, w, &bias);
        for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
            let tolerance = 1e-6 * d_in as f64;
            assert!(
                (got as f64 - want).abs() <= tolerance,
                "{shape:?}: element {i} is {got}, want {want}"
            );
        }
    }

    #[test]
    fn matches_the_f64_product_on_whole_and_partial_tiles() {
        // Rows, columns and depths that are and are not multiples of 6, 16 and DEPTH.
        check([12, 384, 32], false);
        check([301, 800, 37], false);
        check([7, 5, 3], false);
        check([290, 1000, 50], true);
    }

    #[test]
    fn tiles_cover_the_output_once() {
        for (rows, d_out, threads) in [(1024, 384, 2), (256, 1536, 16), (7, 3, 4), (1000, 50, 3)] {
            let tiling = Tiling::new(rows, d_out, threads);
            let mut seen = vec![0u8; rows * d_out];
            for i in 0..tiling.row_blocks * tiling.col_chunks {
                let (rs, cs) = tiling.tile(i);
                for r in rs {
                    for c in cs.clone() {
                        seen[r * d_out + c] += 1;
                    }
                }
            }
            assert!(
                seen.iter().all(|&n| n == 1),
                "{rows} × {d_out} on {threads}"
            );
        }
    }

    #[test]
    fn the_result_does_not_depend_on_the_thread_count() {
        if !has_avx2_fma() {
            eprintln!("skipped: this CPU has no AVX2 + FMA");
            return;
        }
        let shape = [300, 500, 40];
        let x_data = values(300 * 500, 4);
        let w_data = values(500 * 40, 5);
        let x = Rows {
            ptr: x_data.as_ptr(),
            row_stride: 500,
        };
        let w = Strided {
            ptr: w_data.as_ptr(),
            row_stride: 40,
            col_stride: 1,
        };
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = vec![0.0f32; 300 * 40];
            // SAFETY: the CPU has AVX2 and FMA; x and w address their matrices.
            pool.install(|| unsafe { product(shape, x, w, &mut out) });
            out
        };
        assert_eq!(run(1), run(3));
    }
}
