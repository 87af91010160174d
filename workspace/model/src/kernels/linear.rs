//! Linear layers on the CPU backend: `x·W + b` as one matrix product whose output starts out
//! as the bias, so no second pass adds it, in a buffer the tensor adopts as it is (burn's
//! product zeroes a fresh buffer and then copies it to realign it).

#[cfg(target_arch = "x86_64")]
use super::avx2_linear;
use super::f32_tensor;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Products with at least this many multiply-adds spread over the thread pool (burn's own
/// threshold for its CPU matrix products).
const PARALLEL_MULTIPLY_ADDS: usize = 192 * 192 * 192;

/// Output rows filled with the bias per parallel task.
const FILL_ROWS: usize = 256;

/// `x · weight + bias`: x `[rows, d_in]` and weight `[d_in, d_out]`, read through their
/// strides; bias `[d_out]`.
pub fn linear(x: &FlexTensor, weight: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
    let [rows, d_in]: [usize; 2] = x.layout().shape().dims();
    let [w_in, d_out]: [usize; 2] = weight.layout().shape().dims();
    assert_eq!(
        d_in, w_in,
        "linear: input width {d_in}, weight {w_in} × {d_out}"
    );
    let mut out = Vec::with_capacity(rows * d_out);
    if let Some(bias) = bias {
        let bias = bias.to_contiguous();
        let bias = bias.as_slice::<f32>().expect("a contiguous bias");
        out.spare_capacity_mut()
            .par_chunks_mut(FILL_ROWS * d_out.max(1))
            .for_each(|chunk| {
                for (slot, &b) in chunk.iter_mut().zip(bias.iter().cycle()) {
                    slot.write(b);
                }
            });
        // SAFETY: the loop above initialised all rows × d_out values.
        unsafe { out.set_len(rows * d_out) };
    } else {
        out.resize(rows * d_out, 0.0);
    }
    let (x_strides, w_strides) = (x.layout().strides(), weight.layout().strides());
    let x_start = x.layout().start_offset();
    let w_start = weight.layout().start_offset();
    #[cfg(target_arch = "x86_64")]
    if avx2_linear::takes(rows) {
        // The kernel reads x's rows as they lie: copy a view whose rows are not contiguous.
        let x = if x_strides[1] == 1 {
            x.clone()
        } else {
            x.to_contiguous()
        };
        let rows_of_x = avx2_linear::Rows {
            // SAFETY: the tensor's layout maps its elements inside its storage.
            ptr: unsafe { x.storage::<f32>().as_ptr().add(x.layout().start_offset()) },
            row_stride: x.layout().strides()[0],
        };
        let weight = avx2_linear::Strided {
            // SAFETY: as above.
            ptr: unsafe { weight.storage::<f32>().as_ptr().add(w_start) },
            row_stride: w_strides[0],
            col_stride: w_strides[1],
        };
        // SAFETY: the CPU has AVX2 and FMA (`takes`); x and weight are read inside their
        // tensors, and `out` is a fresh buffer.
        unsafe { avx2_linear::product([rows, d_in, d_out], rows_of_x, weight, &mut out) };
        return f32_tensor(out, [rows, d_out]);
    }
    let parallelism = if rows * d_in * d_out >= PARALLEL_MULTIPLY_ADDS {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `out` holds rows × d_out values; x and weight are read inside their tensors.
    unsafe {
        gemm::gemm(
            rows,
            d_out,
            d_in,
            out.as_mut_ptr(),
            1,
            d_out as isize,
            bias.is_some(),
            x.storage::<f32>().as_ptr().add(x_start),
            x_strides[1],
            x_strides[0],
            weight.storage::<f32>().as_ptr().add(w_start),
            w_strides[1],
            w_strides[0],
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    f32_tensor(out, [rows, d_out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn flex(values: Vec<f32>, dims: [usize; 2]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, dims))
    }

    #[test]
    fn linear_adds_the_bias_to_the_product() {
        // x = [[1, 2], [3, 4], [5, 6]], W = [[1, 0, 2], [0, 1, 3]], b = [10, 20, 30].
        let x = flex(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]);
        let w = flex(vec![1.0, 0.0, 2.0, 0.0, 1.0, 3.0], [2, 3]);
        let b = FlexTensor::from_data(TensorData::new(vec![10.0f32, 20.0, 30.0], [3]));
        let with_bias = linear(&x, &w, Some(&b)).into_data();
        assert_eq!(
            with_bias.try_into_vec_as::<f32>().unwrap(),
            [11.0, 22.0, 38.0, 13.0, 24.0, 48.0, 15.0, 26.0, 58.0]
        );
        let without = linear(&x, &w, None).into_data();
        assert_eq!(
            without.try_into_vec_as::<f32>().unwrap(),
            [1.0, 2.0, 8.0, 3.0, 4.0, 18.0, 5.0, 6.0, 28.0]
        );
    }

    #[test]
    fn a_tall_product_of_views_matches_the_f64_product() {
        // Enough rows for the AVX2 kernel where it runs; x and the weight are transposed views.
        let (rows, d_in, d_out) = (300, 40, 24);
        let value = |i: usize| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0;
        let x_t: Vec<f32> = (0..d_in * rows).map(value).collect();
        let w_t: Vec<f32> = (0..d_out * d_in).map(|i| value(i + 17)).collect();
        let bias: Vec<f32> = (0..d_out).map(|i| value(i + 29)).collect();
        let x = flex(x_t.clone(), [d_in, rows]).transpose(0, 1);
        let w = flex(w_t.clone(), [d_out, d_in]).transpose(0, 1);
        let b = FlexTensor::from_data(TensorData::new(bias.clone(), [d_out]));
        let y = linear(&x, &w, Some(&b)).into_data();
        let y = y.try_into_vec_as::<f32>().unwrap();
        for r in 0..rows {
            for c in 0..d_out {
                let want: f64 = bias[c] as f64
                    + (0..d_in)
                        .map(|p| x_t[p * rows + r] as f64 * w_t[c * d_in + p] as f64)
                        .sum::<f64>();
                let got = y[r * d_out + c] as f64;
                assert!((got - want).abs() < 1e-5, "({r}, {c}): {got} vs {want}");
            }
        }
    }

    #[test]
    fn a_transposed_weight_is_read_through_its_strides() {
        let x = flex(vec![1.0, 2.0], [1, 2]);
        // Stored [3, 2], viewed as [2, 3]: the same W as above.
        let w = flex(vec![1.0, 0.0, 0.0, 1.0, 2.0, 3.0], [3, 2]).transpose(0, 1);
        let y = linear(&x, &w, None).into_data();
        assert_eq!(y.try_into_vec_as::<f32>().unwrap(), [1.0, 2.0, 8.0]);
    }
}
