//! Example-based explanations on activation rows: the nearest examples of a reference set, and
//! prototypes and criticisms of a set (MMD-critic, Kim, Khanna & Koyejo 2016, "Examples are not
//! Enough, Learn to Criticize! Criticism for Interpretability", NeurIPS).
//!
//! Rows are activations at one site (one pooled vector per input, say), `Vec<f32>` each, all of
//! the same width. All arithmetic is in `f64`.
//!
//! # Nearest examples
//!
//! [`nearest`] ranks the reference rows by cosine similarity to each query row and keeps the
//! `k` most similar, ties broken by the lower reference index. A zero row has similarity 0 to
//! everything (cosine is undefined there).
//!
//! # MMD-critic
//!
//! With an RBF kernel `k(x, y) = exp(−‖x − y‖² / (2σ²))` and `n` data rows, prototypes are a
//! set `S` chosen greedily to maximise
//!
//! ```text
//! J(S) = (2 / (n·|S|)) Σᵢ Σ_{s∈S} k(xᵢ, s) − (1 / |S|²) Σ_{s,s'∈S} k(s, s')
//! ```
//!
//! which is `(1/n²) Σᵢⱼ k(xᵢ, xⱼ) − MMD²(data, S)`: the prototypes are the subset whose
//! empirical distribution is closest, in maximum mean discrepancy, to the data's (the paper's
//! eq. 4). Each step adds the row that maximises the *exact* `J(S ∪ {x})`; the authors'
//! reference code (`greedy_select_protos`) divides the new prototype-prototype term by `|S|+1`
//! instead of `(|S|+1)²`, an approximation not used here. The objective is monotone
//! submodular for RBF kernels, so greedy selection is within `1 − 1/e` of the best set.
//!
//! Criticisms are the rows where the data and the prototypes disagree most, by the witness
//! function of the MMD,
//!
//! ```text
//! witness(x) = (1/n) Σᵢ k(x, xᵢ) − (1/|S|) Σ_{s∈S} k(x, s)
//! ```
//!
//! (positive where the prototypes under-represent the data, negative where they over-represent
//! it). They are chosen greedily among the non-prototype rows to maximise
//! `Σ_{c∈C} |witness(c)| + r(C)`, with the paper's optional diversity regulariser
//! `r(C) = log det K_C` ([`Regularizer::LogDet`], the default, as in the paper) or none
//! ([`Regularizer::None`]: the rows with the largest `|witness|`). The log-determinant gain of
//! adding `x` is `log(k(x,x) − k_{xC} K_C⁻¹ k_{Cx})`, the log of the Schur complement,
//! maintained by an incremental Cholesky factorisation; a row whose Schur complement is not
//! positive (a duplicate of a chosen row) is never chosen under this regulariser.
//!
//! [`WitnessSign::Positive`] ranks by the signed witness instead of its absolute value, so only
//! rows the prototypes *under*-represent come first (an option of this module, not the paper).
//!
//! **What criticisms find.** An isolated row (kernel ≈ 0 to every other row) has witness
//! `1/n`: only its own mass, which no prototype covers. Meanwhile every row of a cluster is
//! pushed to about `−(mass the prototypes miss)/(number of clusters)` and, near a prototype,
//! further down by how much a point mass over-represents a spread cluster,
//! `≈ −(1/m)·(1 − mean kernel within the cluster)`. With few prototypes and clusters that are
//! wide compared with `σ`, rows next to a prototype therefore have the largest `|witness|` (a
//! negative one), and those are what [`WitnessSign::Absolute`] criticises first; the paper
//! uses many prototypes, where this effect is small. A planted outlier comes first under the
//! absolute witness only when the clusters are tight compared with `σ` and `σ` is small
//! compared with their separation (the tests show both regimes); [`WitnessSign::Positive`]
//! finds it with the median bandwidth as well.
//!
//! Bandwidth: by default the median heuristic, `σ` = the median Euclidean distance between
//! distinct rows (Gretton et al. 2012), computed over all pairs; 1 when that median is 0.
//! [`Bandwidth::Fixed`] sets `σ` directly. Ties in every greedy step go to the lower row index.
//!
//! Cost: the `n × n` kernel matrix, `O(n²·d)` time and `O(n²)` memory (8 MB for 1000 rows);
//! prototypes `O(n·m)`, criticisms `O(n·c²)`.

use ndarray::Array2;

/// One reference row ranked against a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Index into the reference rows.
    pub index: usize,
    /// Cosine similarity to the query.
    pub similarity: f64,
}

/// Cosine similarity of two rows in `f64`; 0 when either is zero.
///
/// # Panics
/// If the rows differ in width.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "rows must have the same width");
    let norm_a = norm(a);
    let norm_b = norm(b);
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot(a, b) / (norm_a * norm_b)
}

/// For each query row, the `k` reference rows of highest cosine similarity, most similar first,
/// ties by the lower index; fewer when there are fewer than `k` reference rows.
///
/// # Panics
/// If the rows differ in width.
pub fn nearest(
    query_rows: &[Vec<f32>],
    reference_rows: &[Vec<f32>],
    k: usize,
) -> Vec<Vec<Neighbour>> {
    let reference_norms: Vec<f64> = reference_rows.iter().map(|r| norm(r)).collect();
    query_rows
        .iter()
        .map(|q| {
            let q_norm = norm(q);
            let mut ranked: Vec<Neighbour> = reference_rows
                .iter()
                .zip(&reference_norms)
                .enumerate()
                .map(|(index, (r, &r_norm))| {
                    assert_eq!(q.len(), r.len(), "rows must have the same width");
                    let similarity = if q_norm == 0.0 || r_norm == 0.0 {
                        0.0
                    } else {
                        dot(q, r) / (q_norm * r_norm)
                    };
                    Neighbour { index, similarity }
                })
                .collect();
            ranked.sort_by(|a, b| {
                b.similarity
                    .total_cmp(&a.similarity)
                    .then(a.index.cmp(&b.index))
            });
            ranked.truncate(k);
            ranked
        })
        .collect()
}

/// RBF bandwidth of MMD-critic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bandwidth {
    /// `σ` = the median Euclidean distance between distinct rows (1 if it is 0).
    Median,
    /// A given `σ > 0`.
    Fixed(f64),
}

/// Diversity regulariser of the criticism selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regularizer {
    /// Plain `Σ |witness|`: the non-prototype rows with the largest `|witness|`.
    None,
    /// `Σ |witness| + log det K_C` (the paper's choice).
    LogDet,
}

/// Which witness values criticisms are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitnessSign {
    /// `|witness|`, the paper's choice: rows the prototypes under- or over-represent.
    Absolute,
    /// The signed witness: rows the prototypes under-represent first.
    Positive,
}

/// Options of [`mmd_critic`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmdCriticOptions {
    /// Number of prototypes (clamped to the number of rows).
    pub prototypes: usize,
    /// Number of criticisms (clamped to the rows that are not prototypes).
    pub criticisms: usize,
    /// Kernel bandwidth.
    pub bandwidth: Bandwidth,
    /// Criticism regulariser.
    pub regularizer: Regularizer,
    /// Absolute (paper) or signed witness for criticisms.
    pub sign: WitnessSign,
}

impl Default for MmdCriticOptions {
    fn default() -> Self {
        MmdCriticOptions {
            prototypes: 4,
            criticisms: 4,
            bandwidth: Bandwidth::Median,
            regularizer: Regularizer::LogDet,
            sign: WitnessSign::Absolute,
        }
    }
}

/// Prototypes and criticisms of a set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct MmdCritic {
    /// Prototype row indices, in the order chosen.
    pub prototypes: Vec<usize>,
    /// Criticism row indices, in the order chosen.
    pub criticisms: Vec<usize>,
    /// The witness function at every row, for the chosen prototypes.
    pub witness: Vec<f64>,
    /// The kernel bandwidth `σ` used.
    pub bandwidth: f64,
    /// `MMD²` between the data and the prototypes (biased V-statistic), for each prefix of the
    /// prototypes: `mmd2[i]` is with the first `i + 1`.
    pub mmd2: Vec<f64>,
}

/// The median Euclidean distance between distinct rows; 1 when it is 0 or there are fewer than
/// two rows.
pub fn median_bandwidth(rows: &[Vec<f32>]) -> f64 {
    let n = rows.len();
    let mut distances = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            distances.push(squared_distance(&rows[i], &rows[j]));
        }
    }
    if distances.is_empty() {
        return 1.0;
    }
    let median = median_of(&mut distances).sqrt();
    if median > 0.0 { median } else { 1.0 }
}

/// The RBF kernel matrix `exp(−‖xᵢ − xⱼ‖² / (2σ²))`.
///
/// # Panics
/// If `sigma` is not positive or the rows differ in width.
pub fn rbf_kernel(rows: &[Vec<f32>], sigma: f64) -> Array2<f64> {
    assert!(sigma > 0.0, "bandwidth must be positive, got {sigma}");
    let n = rows.len();
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let mut kernel = Array2::zeros((n, n));
    for i in 0..n {
        kernel[[i, i]] = 1.0;
        for j in i + 1..n {
            let k = (-gamma * squared_distance(&rows[i], &rows[j])).exp();
            kernel[[i, j]] = k;
            kernel[[j, i]] = k;
        }
    }
    kernel
}

/// MMD-critic prototypes and criticisms of `rows` (see the module documentation).
///
/// # Panics
/// If the rows differ in width or a fixed bandwidth is not positive.
pub fn mmd_critic(rows: &[Vec<f32>], options: &MmdCriticOptions) -> MmdCritic {
    let sigma = match options.bandwidth {
        Bandwidth::Median => median_bandwidth(rows),
        Bandwidth::Fixed(s) => s,
    };
    let kernel = rbf_kernel(rows, sigma);
    let (prototypes, mmd2) = select_prototypes(&kernel, options.prototypes);
    let witness = witness(&kernel, &prototypes);
    let criticisms = select_criticisms(
        &kernel,
        &prototypes,
        &witness,
        options.criticisms,
        options.regularizer,
        options.sign,
    );
    MmdCritic {
        prototypes,
        criticisms,
        witness,
        bandwidth: sigma,
        mmd2,
    }
}

/// Greedy MMD prototypes on a kernel matrix: the chosen indices and `MMD²` after each choice.
///
/// # Panics
/// If the kernel matrix is not square.
pub fn select_prototypes(kernel: &Array2<f64>, m: usize) -> (Vec<usize>, Vec<f64>) {
    let n = kernel.nrows();
    assert_eq!(n, kernel.ncols(), "the kernel matrix must be square");
    let m = m.min(n);
    let nf = n as f64;
    let column_sums: Vec<f64> = (0..n).map(|j| kernel.column(j).sum()).collect();
    let data_term = column_sums.iter().sum::<f64>() / (nf * nf);
    // cross[c] = Σ_{s∈S} k(c, s)
    let mut cross = vec![0.0; n];
    let mut chosen = vec![false; n];
    let mut sum_columns = 0.0;
    let mut sum_within = 0.0;
    let mut selected = Vec::with_capacity(m);
    let mut mmd2 = Vec::with_capacity(m);
    for step in 0..m {
        let size = (step + 1) as f64;
        let mut best: Option<(usize, f64)> = None;
        for c in (0..n).filter(|&c| !chosen[c]) {
            let objective = 2.0 * (sum_columns + column_sums[c]) / (nf * size)
                - (sum_within + 2.0 * cross[c] + kernel[[c, c]]) / (size * size);
            if best.is_none_or(|(_, b)| objective > b) {
                best = Some((c, objective));
            }
        }
        let (c, objective) = best.expect("a candidate remains while step < n");
        chosen[c] = true;
        sum_columns += column_sums[c];
        sum_within += 2.0 * cross[c] + kernel[[c, c]];
        for (x, cr) in cross.iter_mut().enumerate() {
            *cr += kernel[[x, c]];
        }
        selected.push(c);
        mmd2.push(data_term - objective);
    }
    (selected, mmd2)
}

/// The witness function at every row: `mean_i k(x, xᵢ) − mean_{s∈S} k(x, s)`; the data mean
/// alone when there are no prototypes.
pub fn witness(kernel: &Array2<f64>, prototypes: &[usize]) -> Vec<f64> {
    let n = kernel.nrows();
    (0..n)
        .map(|x| {
            let data = kernel.row(x).sum() / n as f64;
            let protos = if prototypes.is_empty() {
                0.0
            } else {
                prototypes.iter().map(|&s| kernel[[x, s]]).sum::<f64>() / prototypes.len() as f64
            };
            data - protos
        })
        .collect()
}

/// Greedy criticisms among the rows that are not prototypes (see the module documentation).
pub fn select_criticisms(
    kernel: &Array2<f64>,
    prototypes: &[usize],
    witness: &[f64],
    count: usize,
    regularizer: Regularizer,
    sign: WitnessSign,
) -> Vec<usize> {
    let score = |c: usize| match sign {
        WitnessSign::Absolute => witness[c].abs(),
        WitnessSign::Positive => witness[c],
    };
    let n = kernel.nrows();
    let mut available = vec![true; n];
    for &p in prototypes {
        available[p] = false;
    }
    // Incremental Cholesky of K_C: for each row x, `factors[x]` holds the entries of its row of
    // L against the chosen criticisms and `schur[x]` = k(x,x) − ‖factors[x]‖².
    let mut factors: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut schur: Vec<f64> = (0..n).map(|x| kernel[[x, x]]).collect();
    let mut selected = Vec::new();
    while selected.len() < count {
        let mut best: Option<(usize, f64)> = None;
        for c in (0..n).filter(|&c| available[c]) {
            let gain = match regularizer {
                Regularizer::None => score(c),
                Regularizer::LogDet => {
                    if schur[c] <= 1.0e-12 {
                        continue;
                    }
                    score(c) + schur[c].ln()
                }
            };
            if best.is_none_or(|(_, b)| gain > b) {
                best = Some((c, gain));
            }
        }
        let Some((c, _)) = best else { break };
        available[c] = false;
        selected.push(c);
        if regularizer == Regularizer::LogDet {
            let pivot = schur[c].sqrt();
            let row_c = factors[c].clone();
            for x in (0..n).filter(|&x| available[x]) {
                let inner: f64 = factors[x].iter().zip(&row_c).map(|(a, b)| a * b).sum();
                let e = (kernel[[x, c]] - inner) / pivot;
                factors[x].push(e);
                schur[x] -= e * e;
            }
        }
    }
    selected
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "rows must have the same width");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum()
}

/// Median of a non-empty list (mean of the two middle values when the length is even).
fn median_of(values: &mut [f64]) -> f64 {
    let n = values.len();
    let mid = n / 2;
    let (below, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `per` points around each centre, uniform noise of half-width `spread` per coordinate.
    fn clusters(centres: &[Vec<f32>], per: usize, spread: f32, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows = Vec::new();
        for c in centres {
            for _ in 0..per {
                rows.push(
                    c.iter()
                        .map(|x| x + rng.random_range(-spread..spread))
                        .collect(),
                );
            }
        }
        rows
    }

    #[test]
    fn cosine_known_values() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5_f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine(&[1.0, 2.0], &[-2.0, 1.0]), 0.0);
        assert!((cosine(&[1.0, 2.0], &[-1.0, -2.0]) + 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn nearest_ranks_by_cosine_with_ties_by_index() {
        let reference = vec![
            vec![0.0, 1.0],  // 0: cos 0 to the query
            vec![2.0, 0.0],  // 1: cos 1
            vec![1.0, 1.0],  // 2: cos 1/√2
            vec![5.0, 0.0],  // 3: cos 1 (tie with 1)
            vec![-1.0, 0.0], // 4: cos −1
            vec![0.0, 0.0],  // 5: zero row, cos 0 (tie with 0)
        ];
        let got = nearest(&[vec![3.0, 0.0]], &reference, 10);
        let order: Vec<usize> = got[0].iter().map(|n| n.index).collect();
        assert_eq!(order, vec![1, 3, 2, 0, 5, 4]);
        assert!((got[0][2].similarity - 0.5_f64.sqrt()).abs() < 1e-12);
        assert_eq!(got[0][5].similarity, -1.0);
        let top2 = nearest(&[vec![3.0, 0.0], vec![0.0, -1.0]], &reference, 2);
        assert_eq!(
            top2[0].iter().map(|n| n.index).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(
            top2[1].iter().map(|n| n.index).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(top2[1][0].similarity, 0.0);
        assert!(nearest(&[vec![1.0, 0.0]], &[], 3)[0].is_empty());
    }

    #[test]
    fn nearest_neighbours_come_from_the_query_cluster() {
        // Two directions far apart in angle: cluster A near (10, 0, 0), B near (0, 10, 0).
        let centres = vec![vec![10.0, 0.0, 0.0], vec![0.0, 10.0, 0.0]];
        let reference = clusters(&centres, 30, 2.0, 1);
        let queries = clusters(&centres, 5, 2.0, 2);
        let k = 10;
        for (q, result) in nearest(&queries, &reference, k).iter().enumerate() {
            let cluster = q / 5;
            assert_eq!(result.len(), k);
            for n in result {
                assert_eq!(n.index / 30, cluster, "query {q}: {result:?}");
            }
            for pair in result.windows(2) {
                assert!(pair[0].similarity >= pair[1].similarity, "{result:?}");
            }
            // The similarities are the cosines of the rows.
            for n in result {
                assert_eq!(n.similarity, cosine(&queries[q], &reference[n.index]));
            }
        }
    }

    #[test]
    fn median_bandwidth_known_values() {
        // Points 0, 1, 3 on a line: distances 1, 3, 2 → median 2.
        let rows = vec![vec![0.0], vec![1.0], vec![3.0]];
        assert!((median_bandwidth(&rows) - 2.0).abs() < 1e-12);
        // Four points: distances 1, 2, 4, 1, 3, 2 → sorted 1 1 2 2 3 4, median 2.
        let rows = vec![vec![0.0], vec![1.0], vec![2.0], vec![4.0]];
        assert!((median_bandwidth(&rows) - 2.0).abs() < 1e-12);
        // Corners of a 3-4-5 rectangle: distances 3, 4, 5, 5, 4, 3 → median 4.
        let rows = vec![
            vec![0.0, 0.0],
            vec![3.0, 0.0],
            vec![0.0, 4.0],
            vec![3.0, 4.0],
        ];
        assert!((median_bandwidth(&rows) - 4.0).abs() < 1e-12);
        assert_eq!(median_bandwidth(&[vec![1.0], vec![1.0]]), 1.0);
        let k = rbf_kernel(&[vec![0.0], vec![2.0]], 2.0);
        assert!((k[[0, 1]] - (-0.5_f64).exp()).abs() < 1e-15);
    }

    #[test]
    fn prototypes_objective_matches_brute_force_mmd() {
        // On a small set, the greedy step's MMD² equals the directly computed MMD² of the set,
        // and the first prototype is the exact best single point.
        let rows = clusters(&[vec![0.0, 0.0], vec![3.0, 1.0]], 6, 1.5, 9);
        let kernel = rbf_kernel(&rows, 1.3);
        let n = rows.len();
        let mmd2 = |set: &[usize]| {
            let m = set.len() as f64;
            let nf = n as f64;
            let data: f64 = kernel.sum() / (nf * nf);
            let cross: f64 = set.iter().map(|&s| kernel.column(s).sum()).sum::<f64>() / (nf * m);
            let within: f64 = set
                .iter()
                .flat_map(|&a| set.iter().map(move |&b| (a, b)))
                .map(|(a, b)| kernel[[a, b]])
                .sum::<f64>()
                / (m * m);
            data - 2.0 * cross + within
        };
        let (protos, values) = select_prototypes(&kernel, 4);
        for i in 0..4 {
            assert!((values[i] - mmd2(&protos[..=i])).abs() < 1e-12);
        }
        let best_single = (0..n)
            .min_by(|&a, &b| mmd2(&[a]).total_cmp(&mmd2(&[b])))
            .unwrap();
        assert_eq!(protos[0], best_single);
        // Each greedy step picks the best extension of the previous prefix.
        for i in 1..4 {
            let prefix = &protos[..i];
            let best = (0..n)
                .filter(|c| !prefix.contains(c))
                .min_by(|&a, &b| {
                    let mut sa = prefix.to_vec();
                    sa.push(a);
                    let mut sb = prefix.to_vec();
                    sb.push(b);
                    mmd2(&sa).total_cmp(&mmd2(&sb))
                })
                .unwrap();
            assert_eq!(protos[i], best);
        }
    }

    /// Two Gaussian clusters of `per` rows with standard deviation `sd` per coordinate, centred
    /// at the origin and at `(10, 0, …)`, then one planted outlier at `(5, 40, 0, …)`, far from
    /// both. Returns the rows; the outlier is the last.
    fn two_clusters_and_an_outlier(dim: usize, per: usize, sd: f64, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut gaussian = || {
            // Box–Muller.
            let u: f64 = 1.0 - rng.random::<f64>();
            let v: f64 = rng.random::<f64>();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let mut rows = Vec::new();
        for centre in [0.0, 10.0] {
            for _ in 0..per {
                let mut row: Vec<f32> = (0..dim).map(|_| (sd * gaussian()) as f32).collect();
                row[0] += centre;
                rows.push(row);
            }
        }
        let mut outlier = vec![0.0_f32; dim];
        outlier[0] = 5.0;
        outlier[1] = 40.0;
        rows.push(outlier);
        rows
    }

    #[test]
    fn two_prototypes_land_one_in_each_cluster() {
        for seed in 0..5 {
            for (dim, sd) in [(2, 0.5), (5, 1.0), (20, 1.0)] {
                let rows = two_clusters_and_an_outlier(dim, 40, sd, seed);
                let result = mmd_critic(
                    &rows,
                    &MmdCriticOptions {
                        prototypes: 2,
                        criticisms: 3,
                        ..MmdCriticOptions::default()
                    },
                );
                let mut hit: Vec<usize> = result.prototypes.iter().map(|p| p / 40).collect();
                hit.sort_unstable();
                assert_eq!(hit, vec![0, 1], "seed {seed} dim {dim}: {result:?}");
                assert!(result.mmd2[1] < result.mmd2[0], "{result:?}");
                assert_eq!(result.criticisms.len(), 3);
                assert!(
                    result
                        .criticisms
                        .iter()
                        .all(|c| !result.prototypes.contains(c))
                );
            }
        }
    }

    #[test]
    fn a_planted_outlier_is_the_first_criticism() {
        let outlier = 80;
        for seed in 0..5 {
            // The paper's absolute witness, clusters tight against a fixed bandwidth: the outlier
            // (witness ≈ 1/81) beats every cluster row (≈ −1/162), with either regulariser.
            let rows = two_clusters_and_an_outlier(2, 40, 0.1, seed);
            for regularizer in [Regularizer::LogDet, Regularizer::None] {
                let result = mmd_critic(
                    &rows,
                    &MmdCriticOptions {
                        prototypes: 2,
                        criticisms: 3,
                        bandwidth: Bandwidth::Fixed(3.0),
                        regularizer,
                        sign: WitnessSign::Absolute,
                    },
                );
                assert_eq!(result.criticisms[0], outlier, "seed {seed}: {result:?}");
                assert!((result.witness[outlier] - 1.0 / 81.0).abs() < 1e-6);
            }
            // The signed witness finds it with the median bandwidth, on wider clusters too.
            for (dim, sd) in [(2, 0.3), (5, 0.3), (20, 0.3)] {
                let rows = two_clusters_and_an_outlier(dim, 40, sd, seed);
                let result = mmd_critic(
                    &rows,
                    &MmdCriticOptions {
                        prototypes: 2,
                        criticisms: 3,
                        sign: WitnessSign::Positive,
                        ..MmdCriticOptions::default()
                    },
                );
                assert_eq!(
                    result.criticisms[0], outlier,
                    "seed {seed} dim {dim}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn with_few_prototypes_the_absolute_witness_criticises_rows_next_to_a_prototype() {
        // Wide clusters, median bandwidth, two prototypes: the largest |witness| is a negative
        // one next to a prototype (a point mass over-represents its cluster's centre), and the
        // outlier is not criticised first. This documents the behaviour; it is not a bug.
        for seed in 0..3 {
            let rows = two_clusters_and_an_outlier(2, 40, 1.0, seed);
            let result = mmd_critic(
                &rows,
                &MmdCriticOptions {
                    prototypes: 2,
                    criticisms: 1,
                    ..MmdCriticOptions::default()
                },
            );
            let first = result.criticisms[0];
            assert_ne!(first, 80);
            assert!(result.witness[first] < -1.0 / 81.0, "{result:?}");
            // Same cluster as one prototype and closer to it than the cluster's spread.
            let near = result.prototypes.iter().any(|&p| {
                p / 40 == first / 40 && squared_distance(&rows[p], &rows[first]).sqrt() < 1.0
            });
            assert!(near, "seed {seed}: {result:?}");
        }
    }

    #[test]
    fn log_det_gain_is_the_schur_complement() {
        // Hand-made kernel over rows 0..=4; row 4 duplicates row 0. K restricted to 0, 1, 2 is
        // [[1, .9, .2], [.9, 1, .5], [.2, .5, 1]] (det 0.08); row 3 is orthogonal to all.
        let kernel = ndarray::array![
            [1.0, 0.9, 0.2, 0.0, 1.0],
            [0.9, 1.0, 0.5, 0.0, 0.9],
            [0.2, 0.5, 1.0, 0.0, 0.2],
            [0.0, 0.0, 0.0, 1.0, 0.0],
            [1.0, 0.9, 0.2, 0.0, 1.0],
        ];
        // Gains under log det: step 1 picks 0 (|w| = 5, log 1 = 0). Step 2: row 4's Schur
        // complement is 0 (never chosen), row 2 scores 4 + ln 0.96, row 1 scores w₁ + ln 0.19.
        // Step 3: row 1's Schur complement given {0, 2} is 0.08/0.96 = 1/12, so it scores
        // w₁ − 2.4849 against row 3's 0: row 1 wins for w₁ = 2.5, row 3 for w₁ = 2.47.
        let none = WitnessSign::Absolute;
        let w = [5.0, 2.5, 4.0, 0.0, 4.5];
        assert_eq!(
            select_criticisms(&kernel, &[], &w, 3, Regularizer::LogDet, none),
            vec![0, 2, 1]
        );
        let w = [5.0, 2.47, 4.0, 0.0, 4.5];
        assert_eq!(
            select_criticisms(&kernel, &[], &w, 3, Regularizer::LogDet, none),
            vec![0, 2, 3]
        );
        // Without the regulariser the duplicate comes second.
        assert_eq!(
            select_criticisms(&kernel, &[], &w, 3, Regularizer::None, none),
            vec![0, 4, 2]
        );
        // Only row 3 is left besides duplicates of chosen rows once 0, 1, 2 are taken; row 4
        // is never chosen under log det, so asking for 5 gives 4.
        let w = [5.0, 2.5, 4.0, 0.0, 4.5];
        assert_eq!(
            select_criticisms(&kernel, &[], &w, 5, Regularizer::LogDet, none),
            vec![0, 2, 1, 3]
        );
        // Prototypes are excluded; negative witnesses count by magnitude unless signed.
        let w = [5.0, -2.5, 4.0, 0.1, 4.5];
        assert_eq!(
            select_criticisms(&kernel, &[0], &w, 2, Regularizer::None, none),
            vec![4, 2]
        );
        assert_eq!(
            select_criticisms(&kernel, &[0, 4], &w, 2, Regularizer::None, none),
            vec![2, 1]
        );
        assert_eq!(
            select_criticisms(
                &kernel,
                &[0, 4],
                &w,
                2,
                Regularizer::None,
                WitnessSign::Positive
            ),
            vec![2, 3]
        );
    }

    #[test]
    fn witness_known_values() {
        // Three points with a hand-written kernel; prototype {0}.
        let kernel = ndarray::array![[1.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 1.0]];
        let w = witness(&kernel, &[0]);
        assert!((w[0] - (1.5 / 3.0 - 1.0)).abs() < 1e-15);
        assert!((w[1] - (1.75 / 3.0 - 0.5)).abs() < 1e-15);
        assert!((w[2] - (1.25 / 3.0 - 0.0)).abs() < 1e-15);
        // |w| = 0.5, 0.0833, 0.4167: criticisms without a regulariser are 2, then 1.
        let c = select_criticisms(
            &kernel,
            &[0],
            &w,
            5,
            Regularizer::None,
            WitnessSign::Absolute,
        );
        assert_eq!(c, vec![2, 1]);
    }
}
