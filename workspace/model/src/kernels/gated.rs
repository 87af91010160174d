//! Gated MLP activations, `act(gate) · up`, in one pass over the gate's buffer. Both gates
//! this covers are `x · σ(a(x))`: SiLU with `a(x) = x`, and GELU's tanh approximation with
//! `a(x) = √(8/π) · (x + 0.044715 x³)` (since `(1 + tanh(u)) / 2 = σ(2u)`). `σ` uses the
//! vectorised [`exp`]; values are within a few ulp of the op-by-op formulas.

use super::exp::exp;
use super::simd::widest_simd;
use rayon::prelude::*;

/// Elements per parallel task: large enough that a task outweighs its scheduling.
const CHUNK: usize = 16 * 1024;

/// `√(8/π)`: twice GELU's `√(2/π)`.
const SQRT_8_OVER_PI: f32 = 1.595_769;

/// The gate's non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// `x · σ(x)` (SwiGLU).
    Silu,
    /// `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))` (GeGLU).
    GeluTanh,
}

/// `act(gate) · up` for one chunk, into `gate`.
#[inline(always)]
fn gated_each(gate: &mut [f32], up: &[f32], kind: Gate) {
    match kind {
        Gate::Silu => {
            for (g, &u) in gate.iter_mut().zip(up) {
                *g = *g / (1.0 + exp(-*g)) * u;
            }
        }
        Gate::GeluTanh => {
            for (g, &u) in gate.iter_mut().zip(up) {
                let x = *g;
                let a = SQRT_8_OVER_PI * (0.044_715 * x * x).mul_add(x, x);
                *g = x / (1.0 + exp(-a)) * u;
            }
        }
    }
}

widest_simd! {
    /// `act(gate) · up` for one chunk with the widest instructions the CPU has.
    fn gated_chunk(gate: &mut [f32], up: &[f32], kind: Gate) = gated_each;
}

/// `act(gate) · up`, element by element, into `gate`, over the thread pool.
pub fn gated_slice(gate: &mut [f32], up: &[f32], kind: Gate) {
    assert_eq!(gate.len(), up.len(), "gate and up differ in size");
    gate.par_chunks_mut(CHUNK)
        .zip(up.par_chunks(CHUNK))
        .for_each(|(gate, up)| gated_chunk(gate, up, kind));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook formulas in `f64`.
    fn reference(x: f64, kind: Gate) -> f64 {
        match kind {
            Gate::Silu => x / (1.0 + (-x).exp()),
            Gate::GeluTanh => {
                let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3));
                0.5 * x * (1.0 + inner.tanh())
            }
        }
    }

    #[test]
    fn both_gates_match_their_formulas_times_up() {
        let xs: Vec<f32> = (0..40_001).map(|i| -20.0 + i as f32 * 1e-3).collect();
        let up: Vec<f32> = (0..xs.len()).map(|i| 0.5 + (i % 7) as f32).collect();
        for kind in [Gate::Silu, Gate::GeluTanh] {
            let mut got = xs.clone();
            gated_slice(&mut got, &up, kind);
            for ((&g, &x), &u) in got.iter().zip(&xs).zip(&up) {
                let want = reference(f64::from(x), kind) * f64::from(u);
                // A few ulp, plus 1e-7 per unit of `up` where σ's tail makes exp's relative
                // error grow with |a(x)| (the op-by-op tanh form loses more there).
                let tolerance = 4.0 * f64::from(f32::EPSILON) * want.abs() + 1e-7 * f64::from(u);
                assert!(
                    (f64::from(g) - want).abs() <= tolerance,
                    "{kind:?}({x}) · {u} = {g}, want {want}"
                );
            }
        }
    }

    #[test]
    fn large_inputs_saturate_without_nan() {
        let mut gate = vec![-1.0e4, -100.0, 100.0, 1.0e4];
        for kind in [Gate::Silu, Gate::GeluTanh] {
            let mut got = gate.clone();
            gated_slice(&mut got, &[1.0; 4], kind);
            assert_eq!(got, [-0.0, -0.0, 100.0, 1.0e4], "{kind:?}");
        }
        gate.clear();
        gated_slice(&mut gate, &[], Gate::Silu);
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.731).sin() * 9.0).collect();
        let up: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.193).cos()).collect();
        for kind in [Gate::Silu, Gate::GeluTanh] {
            let mut portable = xs.clone();
            gated_each(&mut portable, &up, kind);
            let mut dispatched = xs.clone();
            gated_chunk(&mut dispatched, &up, kind);
            assert_eq!(portable, dispatched, "{kind:?}");
        }
    }
}
