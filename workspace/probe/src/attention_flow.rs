//! Attention rollout and attention flow (Abnar & Zuidema 2020, "Quantifying Attention Flow in
//! Transformers", ACL).
//!
//! Raw attention of one layer says how a position mixes the *previous layer's* positions, not
//! the input tokens. Both methods propagate attention through the layers of one input to
//! token-to-token tables: row `i` is an output position (the last layer's), column `j` an input
//! token (the embeddings).
//!
//! # Inputs
//!
//! One matrix per layer, bottom layer first, each `t × t` and row-stochastic over keys:
//! `layers[ℓ][i][j]` is the weight of query `i` on key `j` at layer `ℓ + 1`. As in the paper,
//! heads are averaged first ([`average_heads`], [`average_heads_flat`]). The residual
//! connection is accounted for as in the paper: every layer's matrix becomes
//! `Â = 0.5·A + 0.5·I` with each row renormalised to sum to 1 ([`with_residual`]; a row of
//! `A` that is all zero, e.g. a fully masked query, becomes the identity row).
//!
//! # Rollout
//!
//! `R = Â_L ⋯ Â_2 · Â_1` ([`rollout`]): `R[i][j]` sums, over every path from input token `j` up
//! to output position `i`, the product of the attention weights along it. Every row of `R`
//! sums to 1. [`rollout_per_layer`] returns the partial products `Â_ℓ ⋯ Â_1` for every `ℓ`.
//! Cost `O(L·t³)`.
//!
//! # Flow
//!
//! The layers form a DAG with `(L + 1)·t` nodes, node `(ℓ, p)` being position `p` after layer
//! `ℓ` (`ℓ = 0`: the input tokens), and an edge `(ℓ, i) → (ℓ − 1, j)` of capacity `Â_ℓ[i][j]`
//! for every positive weight. The flow from output position `i` to input token `j`
//! ([`attention_flow`]) is the value of a maximum flow from node `(L, i)` to node `(0, j)`, as
//! in the authors' code (`networkx.maximum_flow_value` on the same graph and direction). Every
//! value lies in `[0, 1]` (the source's capacity is its row sum, 1). The values are the raw
//! maximum flows; the authors' code then divides each output position's row by its sum
//! ([`normalize_rows`] does that), which makes rows comparable with rollout's.
//!
//! Maximum flows are computed exactly (up to a residual-capacity threshold of `1e-12`) with
//! Dinic's algorithm: `O(V²·E)` per pair in the worst case with `V = (L + 1)·t`, `E = L·t²`,
//! and `t²` pairs. On attention graphs every source-to-sink path has length `L`, so the first
//! phase needs no breadth-first search (a node's level is its depth) and, on random softmax
//! attention, the first blocking flow is already maximum: about two passes over the edges per
//! pair, `O(L·t⁴)` in all. Output positions are spread over the available cores. Measured on
//! the release build of this 2-core machine (one core busy elsewhere, random dense attention):
//! `t = 16, L = 12`: 6 ms; `t = 32, L = 12`: 73 ms; `t = 32, L = 30`: 0.26 s;
//! `t = 64, L = 12`: 1.0 s; `t = 64, L = 30`: 3.4 s (the `timing` test, ignored by default).
//! Rollout takes under 3 ms for all of these.

/// A `t × t` matrix as rows.
pub type Matrix = Vec<Vec<f64>>;

/// Residual capacities at or below this are treated as saturated.
const EPSILON: f64 = 1.0e-12;

/// The mean of a layer's heads, each `[query][key]`.
///
/// # Panics
/// If there are no heads or they differ in shape.
pub fn average_heads(heads: &[Matrix]) -> Matrix {
    assert!(!heads.is_empty(), "at least one head is needed");
    let t = heads[0].len();
    let mut mean = vec![vec![0.0; t]; t];
    for head in heads {
        assert_eq!(head.len(), t, "heads must have the same shape");
        for (row, head_row) in mean.iter_mut().zip(head) {
            assert_eq!(head_row.len(), t, "attention matrices must be square");
            for (m, a) in row.iter_mut().zip(head_row) {
                *m += a;
            }
        }
    }
    let h = heads.len() as f64;
    for row in &mut mean {
        for m in row {
            *m /= h;
        }
    }
    mean
}

/// The mean of a layer's heads given flat as `[heads][t][t]` (row-major), e.g. one input's
/// block of an attention-pattern hook.
///
/// # Panics
/// If `pattern.len() != heads·t·t` or `heads == 0`.
pub fn average_heads_flat(pattern: &[f32], heads: usize, t: usize) -> Matrix {
    assert!(heads > 0, "at least one head is needed");
    assert_eq!(
        pattern.len(),
        heads * t * t,
        "pattern must be [heads][t][t]"
    );
    let mut mean = vec![vec![0.0; t]; t];
    for head in pattern.chunks_exact(t * t) {
        for (row, head_row) in mean.iter_mut().zip(head.chunks_exact(t)) {
            for (m, &a) in row.iter_mut().zip(head_row) {
                *m += f64::from(a);
            }
        }
    }
    for row in &mut mean {
        for m in row {
            *m /= heads as f64;
        }
    }
    mean
}

/// `Â = 0.5·A + 0.5·I`, rows renormalised to sum to 1.
///
/// # Panics
/// If `a` is not square or holds a negative or non-finite weight.
pub fn with_residual(a: &Matrix) -> Matrix {
    let t = a.len();
    a.iter()
        .enumerate()
        .map(|(i, row)| {
            assert_eq!(row.len(), t, "attention matrices must be square");
            assert!(
                row.iter().all(|w| w.is_finite() && *w >= 0.0),
                "attention weights must be finite and non-negative"
            );
            let mut out: Vec<f64> = row.iter().map(|w| 0.5 * w).collect();
            out[i] += 0.5;
            let sum: f64 = out.iter().sum();
            out.iter_mut().for_each(|w| *w /= sum);
            out
        })
        .collect()
}

/// Attention rollout `Â_L ⋯ Â_1` over head-averaged layers, bottom layer first: `[output
/// position][input token]`. The identity for no layers is not defined (there is no `t`): an
/// empty input gives an empty matrix.
///
/// # Panics
/// If the layers are not square matrices of one size.
pub fn rollout(layers: &[Matrix]) -> Matrix {
    rollout_per_layer(layers).pop().unwrap_or_default()
}

/// The partial rollouts `Â_ℓ ⋯ Â_1` for `ℓ = 1..=L`.
///
/// # Panics
/// If the layers are not square matrices of one size.
pub fn rollout_per_layer(layers: &[Matrix]) -> Vec<Matrix> {
    check_layers(layers);
    let mut out: Vec<Matrix> = Vec::with_capacity(layers.len());
    for layer in layers {
        let hat = with_residual(layer);
        let next = match out.last() {
            None => hat,
            Some(previous) => multiply(&hat, previous),
        };
        out.push(next);
    }
    out
}

/// Attention flow: the maximum flow from each output position to each input token through the
/// layered graph of the residual-adjusted, head-averaged layers (bottom layer first).
/// `[output position][input token]`, raw values in `[0, 1]`.
///
/// # Panics
/// If the layers are not square matrices of one size.
pub fn attention_flow(layers: &[Matrix]) -> Matrix {
    check_layers(layers);
    let Some(first) = layers.first() else {
        return Vec::new();
    };
    let t = first.len();
    let hats: Vec<Matrix> = layers.iter().map(with_residual).collect();
    let graph = LayeredGraph::new(&hats, t);
    let top = layers.len() * t;
    let rows_of = |mut graph: LayeredGraph, sources: std::ops::Range<usize>| -> Vec<Vec<f64>> {
        sources
            .map(|i| (0..t).map(|j| graph.max_flow(top + i, j)).collect())
            .collect()
    };
    // Output positions are independent: split them over the available cores (each value is
    // computed the same way whatever the split, so the result does not depend on it).
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(t / 8)
        .max(1);
    if threads == 1 {
        return rows_of(graph, 0..t);
    }
    let chunk = t.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..t)
            .step_by(chunk)
            .map(|start| {
                let graph = graph.clone();
                let rows_of = &rows_of;
                scope.spawn(move || rows_of(graph, start..(start + chunk).min(t)))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("attention-flow worker panicked"))
            .collect()
    })
}

/// Each row divided by its sum (rows summing to 0 are left as they are): the normalisation the
/// authors apply to flow values.
pub fn normalize_rows(m: &Matrix) -> Matrix {
    m.iter()
        .map(|row| {
            let sum: f64 = row.iter().sum();
            if sum > 0.0 {
                row.iter().map(|v| v / sum).collect()
            } else {
                row.clone()
            }
        })
        .collect()
}

fn check_layers(layers: &[Matrix]) {
    if let Some(first) = layers.first() {
        let t = first.len();
        for layer in layers {
            assert_eq!(layer.len(), t, "every layer must be t × t with the same t");
            assert!(
                layer.iter().all(|r| r.len() == t),
                "attention matrices must be square"
            );
        }
    }
}

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    let t = b.first().map_or(0, Vec::len);
    a.iter()
        .map(|row| {
            let mut out = vec![0.0; t];
            for (&w, b_row) in row.iter().zip(b) {
                if w != 0.0 {
                    for (o, &v) in out.iter_mut().zip(b_row) {
                        *o += w * v;
                    }
                }
            }
            out
        })
        .collect()
}

/// The layered attention graph in compressed adjacency form, with a reusable residual state
/// for Dinic's algorithm. Edge `2k` is a forward edge, `2k + 1` its reverse. Node `ℓ·t + p` is
/// position `p` after layer `ℓ`.
#[derive(Clone)]
struct LayeredGraph {
    /// Tokens per layer.
    t: usize,
    /// Head node of each edge.
    to: Vec<usize>,
    /// Original capacity of each edge (0 for reverse edges).
    capacity: Vec<f64>,
    /// Residual capacity during a max-flow.
    residual: Vec<f64>,
    /// `start[v]..start[v + 1]` indexes `order`, the edges leaving `v`.
    start: Vec<usize>,
    order: Vec<usize>,
    level: Vec<i32>,
    arc: Vec<usize>,
    queue: Vec<usize>,
    path: Vec<usize>,
}

impl LayeredGraph {
    fn new(hats: &[Matrix], t: usize) -> Self {
        let nodes = (hats.len() + 1) * t;
        let mut to = Vec::new();
        let mut from = Vec::new();
        let mut capacity = Vec::new();
        for (l, hat) in hats.iter().enumerate() {
            let upper = (l + 1) * t;
            let lower = l * t;
            for (i, row) in hat.iter().enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    if w > EPSILON {
                        from.push(upper + i);
                        to.push(lower + j);
                        capacity.push(w);
                        from.push(lower + j);
                        to.push(upper + i);
                        capacity.push(0.0);
                    }
                }
            }
        }
        let mut start = vec![0usize; nodes + 1];
        for &f in &from {
            start[f + 1] += 1;
        }
        for v in 0..nodes {
            start[v + 1] += start[v];
        }
        let mut fill = start.clone();
        let mut order = vec![0usize; from.len()];
        for (e, &f) in from.iter().enumerate() {
            order[fill[f]] = e;
            fill[f] += 1;
        }
        let residual = capacity.clone();
        LayeredGraph {
            t,
            to,
            capacity,
            residual,
            start,
            order,
            level: vec![-1; nodes],
            arc: vec![0; nodes],
            queue: Vec::with_capacity(nodes),
            path: Vec::new(),
        }
    }

    /// Value of a maximum flow from `source` (in the top layer) to `sink` (in layer 0), by
    /// Dinic's algorithm.
    fn max_flow(&mut self, source: usize, sink: usize) -> f64 {
        self.residual.copy_from_slice(&self.capacity);
        // First phase without a search: before any flow, every path from the source goes down
        // one layer per edge, so a node's distance is its depth below the source's layer. The
        // other input tokens are dead ends (they have no way on) and are left out.
        let t = self.t;
        let top = source / t;
        for (v, level) in self.level.iter_mut().enumerate() {
            *level = if v < t && v != sink {
                -1
            } else {
                (top - v / t) as i32
            };
        }
        let mut total = self.blocking_flow(source, sink);
        while self.levels(source, sink) {
            total += self.blocking_flow(source, sink);
        }
        total
    }

    /// Breadth-first levels over unsaturated edges; whether the sink is reachable.
    fn levels(&mut self, source: usize, sink: usize) -> bool {
        self.level.fill(-1);
        self.queue.clear();
        self.level[source] = 0;
        self.queue.push(source);
        let mut head = 0;
        while head < self.queue.len() {
            let v = self.queue[head];
            head += 1;
            // Nothing leads on from the sink or from another input token.
            if v < self.t {
                continue;
            }
            for &e in &self.order[self.start[v]..self.start[v + 1]] {
                let w = self.to[e];
                if self.level[w] < 0 && self.residual[e] > EPSILON {
                    self.level[w] = self.level[v] + 1;
                    self.queue.push(w);
                }
            }
        }
        self.level[sink] >= 0
    }

    /// Saturates every shortest augmenting path of the current level graph.
    fn blocking_flow(&mut self, source: usize, sink: usize) -> f64 {
        let nodes = self.arc.len();
        self.arc.copy_from_slice(&self.start[..nodes]);
        self.path.clear();
        let mut total = 0.0;
        let mut v = source;
        loop {
            if v == sink {
                let pushed = self
                    .path
                    .iter()
                    .map(|&e| self.residual[e])
                    .fold(f64::INFINITY, f64::min);
                let mut cut = None;
                for (k, &e) in self.path.iter().enumerate() {
                    self.residual[e] -= pushed;
                    self.residual[e ^ 1] += pushed;
                    if cut.is_none() && self.residual[e] <= EPSILON {
                        cut = Some(k);
                    }
                }
                total += pushed;
                // Resume from the tail of the first saturated edge.
                let k = cut.unwrap_or(0);
                self.path.truncate(k);
                v = self.path.last().map_or(source, |&e| self.to[e]);
                continue;
            }
            let end = self.start[v + 1];
            let mut advanced = false;
            while self.arc[v] < end {
                let e = self.order[self.arc[v]];
                let w = self.to[e];
                if self.residual[e] > EPSILON && self.level[w] == self.level[v] + 1 {
                    self.path.push(e);
                    v = w;
                    advanced = true;
                    break;
                }
                self.arc[v] += 1;
            }
            if !advanced {
                // Dead end: retreat.
                self.level[v] = -1;
                match self.path.pop() {
                    None => return total,
                    Some(e) => {
                        v = self.to[e ^ 1];
                        self.arc[v] += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn assert_matrix(got: &Matrix, expected: &[&[f64]], tol: f64) {
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (g, e) in got.iter().zip(expected) {
            assert_eq!(g.len(), e.len(), "{got:?}");
            for (a, b) in g.iter().zip(e.iter()) {
                assert!((a - b).abs() <= tol, "got {got:?}, expected {expected:?}");
            }
        }
    }

    fn identity(t: usize) -> Matrix {
        (0..t)
            .map(|i| (0..t).map(|j| f64::from(u8::from(i == j))).collect())
            .collect()
    }

    /// Every query attends only to token `k`.
    fn copy(t: usize, k: usize) -> Matrix {
        (0..t)
            .map(|_| (0..t).map(|j| f64::from(u8::from(j == k))).collect())
            .collect()
    }

    /// A random row-stochastic matrix, optionally causal (query i sees keys 0..=i).
    fn random_attention(t: usize, causal: bool, rng: &mut ChaCha8Rng) -> Matrix {
        (0..t)
            .map(|i| {
                let row: Vec<f64> = (0..t)
                    .map(|j| {
                        if causal && j > i {
                            0.0
                        } else {
                            (3.0 * rng.random::<f64>()).exp()
                        }
                    })
                    .collect();
                let sum: f64 = row.iter().sum();
                row.iter().map(|v| v / sum).collect()
            })
            .collect()
    }

    /// Min cut between two nodes of the layered graph by enumerating every partition.
    fn brute_force_min_cut(hats: &[Matrix], t: usize, source: usize, sink: usize) -> f64 {
        let nodes = (hats.len() + 1) * t;
        let others: Vec<usize> = (0..nodes).filter(|&v| v != source && v != sink).collect();
        let mut best = f64::INFINITY;
        for bits in 0u32..(1 << others.len()) {
            let mut side = vec![false; nodes]; // true = source side
            side[source] = true;
            for (k, &v) in others.iter().enumerate() {
                side[v] = bits >> k & 1 == 1;
            }
            let mut cut = 0.0;
            for (l, hat) in hats.iter().enumerate() {
                for (i, row) in hat.iter().enumerate() {
                    for (j, &w) in row.iter().enumerate() {
                        if side[(l + 1) * t + i] && !side[l * t + j] {
                            cut += w;
                        }
                    }
                }
            }
            best = best.min(cut);
        }
        best
    }

    #[test]
    fn residual_adds_half_identity_and_renormalises() {
        let a = vec![vec![0.2, 0.8], vec![0.0, 0.0]];
        assert_matrix(&with_residual(&a), &[&[0.6, 0.4], &[0.0, 1.0]], 1e-15);
        // A row summing to 0.5 (padding cut away) is renormalised: (0.1, 0.4) → (0.1, 0.2+0.5)/0.75.
        let b = vec![vec![0.0, 0.4], vec![0.1, 0.4]];
        assert_matrix(
            &with_residual(&b),
            &[&[0.5 / 0.7, 0.2 / 0.7], &[0.05 / 0.75, 0.7 / 0.75]],
            1e-15,
        );
    }

    #[test]
    fn heads_are_averaged() {
        let h1 = vec![vec![1.0, 0.0], vec![0.5, 0.5]];
        let h2 = vec![vec![0.0, 1.0], vec![0.1, 0.9]];
        assert_matrix(
            &average_heads(&[h1, h2]),
            &[&[0.5, 0.5], &[0.3, 0.7]],
            1e-15,
        );
        let flat = [1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 0.25, 0.75];
        assert_matrix(
            &average_heads_flat(&flat, 2, 2),
            &[&[0.5, 0.5], &[0.375, 0.625]],
            1e-15,
        );
    }

    #[test]
    fn identity_attention_rolls_out_to_identity_and_flows_to_itself() {
        let layers = vec![identity(4); 3];
        assert_matrix(
            &rollout(&layers),
            &[
                &[1., 0., 0., 0.],
                &[0., 1., 0., 0.],
                &[0., 0., 1., 0.],
                &[0., 0., 0., 1.],
            ],
            0.0,
        );
        let flow = attention_flow(&layers);
        assert_eq!(flow, identity(4));
    }

    #[test]
    fn copying_token_zero_then_identity_has_the_known_rollout() {
        // Â₁ = ½·copy₀ + ½·I: position 0 keeps itself, every other position is half token 0 and
        // half itself. The identity layer on top changes nothing.
        let layers = vec![copy(3, 0), identity(3)];
        let expected: [&[f64]; 3] = [&[1.0, 0.0, 0.0], &[0.5, 0.5, 0.0], &[0.5, 0.0, 0.5]];
        assert_matrix(&rollout(&layers), &expected, 1e-15);
        // Flow along the same graph: each path is limited by its one non-identity edge.
        assert_matrix(&attention_flow(&layers), &expected, 1e-12);
    }

    #[test]
    fn rollout_multiplies_the_upper_layer_on_the_left() {
        // Layer 1 copies token 0, layer 2 copies token 1:
        // Â₁ = [[1,0,0],[½,½,0],[½,0,½]], Â₂ = [[½,½,0],[0,1,0],[0,½,½]],
        // Â₂·Â₁ = [[¾,¼,0],[½,½,0],[½,¼,¼]] (Â₁·Â₂ would start [½,½,0]).
        let layers = vec![copy(3, 0), copy(3, 1)];
        let expected: [&[f64]; 3] = [&[0.75, 0.25, 0.0], &[0.5, 0.5, 0.0], &[0.5, 0.25, 0.25]];
        assert_matrix(&rollout(&layers), &expected, 1e-15);
        let partial = rollout_per_layer(&layers);
        assert_eq!(partial.len(), 2);
        assert_matrix(
            &partial[0],
            &[&[1.0, 0.0, 0.0], &[0.5, 0.5, 0.0], &[0.5, 0.0, 0.5]],
            1e-15,
        );
    }

    #[test]
    fn two_layer_flow_matches_hand_computation() {
        // Â₁ = [[0.6,0.4],[0.3,0.7]], Â₂ = [[1,0],[0.25,0.75]]. With two layers every path is
        // i → k → j, so flow(i, j) = Σ_k min(Â₂[i][k], Â₁[k][j]):
        // flow(0,·) = (0.6, 0.4), flow(1,0) = 0.25 + 0.3, flow(1,1) = 0.25 + 0.7.
        let layers = vec![
            vec![vec![0.2, 0.8], vec![0.6, 0.4]],
            vec![vec![1.0, 0.0], vec![0.5, 0.5]],
        ];
        let flow = attention_flow(&layers);
        assert_matrix(&flow, &[&[0.6, 0.4], &[0.55, 0.95]], 1e-12);
        // Rollout: row 1 = 0.25·(0.6,0.4) + 0.75·(0.3,0.7).
        assert_matrix(&rollout(&layers), &[&[0.6, 0.4], &[0.375, 0.625]], 1e-15);
        assert_matrix(
            &normalize_rows(&flow),
            &[&[0.6, 0.4], &[0.55 / 1.5, 0.95 / 1.5]],
            1e-12,
        );
    }

    #[test]
    fn flow_equals_the_brute_force_min_cut() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        for (t, l, causal) in [(3, 2, false), (3, 3, false), (3, 3, true), (2, 4, false)] {
            let layers: Vec<Matrix> = (0..l)
                .map(|_| random_attention(t, causal, &mut rng))
                .collect();
            let hats: Vec<Matrix> = layers.iter().map(with_residual).collect();
            let flow = attention_flow(&layers);
            for (i, row) in flow.iter().enumerate() {
                for (j, &value) in row.iter().enumerate() {
                    let cut = brute_force_min_cut(&hats, t, l * t + i, j);
                    assert!(
                        (value - cut).abs() < 1e-9,
                        "t={t} L={l} ({i},{j}): {value} vs {cut}"
                    );
                    assert!((0.0..=1.0 + 1e-12).contains(&value));
                    if causal && j > i {
                        // Causal attention never moves information backwards.
                        assert_eq!(value, 0.0);
                    }
                }
            }
        }
    }

    #[test]
    fn rollout_rows_sum_to_one_and_flow_is_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let layers: Vec<Matrix> = (0..6)
            .map(|_| random_attention(10, false, &mut rng))
            .collect();
        let r = rollout(&layers);
        for row in &r {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|&v| v >= 0.0));
        }
        let f = attention_flow(&layers);
        for (i, row) in f.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                assert!((0.0..=1.0 + 1e-12).contains(&v), "{v}");
                // A flow is at most the capacity into the sink, the column sum of Â₁.
                let into: f64 = with_residual(&layers[0]).iter().map(|r| r[j]).sum();
                assert!(v <= into + 1e-12, "({i},{j})");
            }
        }
    }

    #[test]
    fn split_over_threads_matches_one_graph() {
        // t = 24 is split over the cores when there are several; the values must equal those
        // of a single graph evaluated in order, bit for bit. Causal layers exercise skipped
        // (zero) edges.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let layers: Vec<Matrix> = (0..4)
            .map(|l| random_attention(24, l % 2 == 1, &mut rng))
            .collect();
        let hats: Vec<Matrix> = layers.iter().map(with_residual).collect();
        let mut graph = LayeredGraph::new(&hats, 24);
        let direct: Matrix = (0..24)
            .map(|i| (0..24).map(|j| graph.max_flow(4 * 24 + i, j)).collect())
            .collect();
        assert_eq!(attention_flow(&layers), direct);
    }

    #[test]
    fn empty_inputs() {
        assert!(rollout(&[]).is_empty());
        assert!(attention_flow(&[]).is_empty());
    }

    /// `cargo test --release -p cavern-probe attention_flow::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (t, l) in [(16, 12), (32, 12), (64, 12), (32, 30), (64, 30)] {
            let layers: Vec<Matrix> = (0..l)
                .map(|_| random_attention(t, false, &mut rng))
                .collect();
            let start = std::time::Instant::now();
            let f = attention_flow(&layers);
            let flow = start.elapsed();
            let start = std::time::Instant::now();
            let r = rollout(&layers);
            let roll = start.elapsed();
            println!(
                "t={t} L={l}: flow {flow:?}, rollout {roll:?} ({} {})",
                f[0][0], r[0][0]
            );
        }
    }
}
