//! Shapley values of a cooperative game over `n` players whose value function is evaluated on
//! batches of coalitions (masks, `true` = the player is in the coalition).
//!
//! - [`exact_shapley`] enumerates all 2^n coalitions: φ_i = Σ_{S ∌ i} |S|!(n − |S| − 1)!/n! ·
//!   (v(S ∪ {i}) − v(S)).
//! - [`permutation_shapley`] samples permutations in antithetic pairs (a permutation and its
//!   reverse; Mitchell et al. 2022): each permutation gives every player its marginal
//!   contribution when it joins the players before it, so each permutation's values sum exactly to
//!   v(all) − v(none) and so does their mean (efficiency holds for every estimate, up to
//!   rounding). The standard error of a player's value is the standard deviation of the pair
//!   means over √pairs: the pairs are independent, the two halves of a pair are not.
//!
//! Both call the value function once, with every distinct coalition they need (the caller
//! batches them), so v is never evaluated twice on one coalition.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Fewest antithetic pairs [`permutation_shapley`] draws: a standard error needs two.
pub const MIN_PAIRS: usize = 2;

/// Players up to which [`exact_shapley`] may be asked for (2^20 coalitions).
pub const MAX_EXACT_PLAYERS: usize = 20;

/// Shapley values of a game.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapleyValues {
    /// φ per player.
    pub values: Vec<f64>,
    /// The standard error of each φ (0 when exact).
    pub std_errors: Vec<f64>,
    /// v(every player).
    pub v_all: f64,
    /// v(no player).
    pub v_none: f64,
    /// Whether the values are exact (every coalition enumerated).
    pub exact: bool,
    /// Distinct coalitions the value function was evaluated on.
    pub evaluations: usize,
}

impl ShapleyValues {
    /// Σ φ − (v(all) − v(none)): 0 up to rounding, for exact and sampled values alike.
    pub fn efficiency_gap(&self) -> f64 {
        self.values.iter().sum::<f64>() - (self.v_all - self.v_none)
    }
}

/// The mask of coalition `bits` (player i is in it when bit i is set).
fn mask_of(bits: usize, n: usize) -> Vec<bool> {
    (0..n).map(|i| bits >> i & 1 == 1).collect()
}

/// Exact Shapley values of the game `value` over `n` players (n ≤ [`MAX_EXACT_PLAYERS`]):
/// `value` gets all 2^n coalitions at once, coalition `s` being the players of the bits of `s`,
/// and returns v of each.
pub fn exact_shapley<E>(
    n: usize,
    value: impl FnOnce(&[Vec<bool>]) -> Result<Vec<f64>, E>,
) -> Result<ShapleyValues, E> {
    assert!(
        n <= MAX_EXACT_PLAYERS,
        "{n} players is too many to enumerate"
    );
    let size = 1usize << n;
    let masks: Vec<Vec<bool>> = (0..size).map(|bits| mask_of(bits, n)).collect();
    let v = value(&masks)?;
    // weight[k] = k!(n − k − 1)!/n! = 1/(n · C(n − 1, k)).
    let mut weight = Vec::with_capacity(n);
    let mut binomial = 1.0f64;
    for k in 0..n {
        weight.push(1.0 / (n as f64 * binomial));
        binomial = binomial * (n - 1 - k) as f64 / (k + 1) as f64;
    }
    let mut values = vec![0.0f64; n];
    for (s, &v_s) in v.iter().enumerate() {
        let k = s.count_ones() as usize;
        for (i, phi) in values.iter_mut().enumerate() {
            if s >> i & 1 == 0 {
                *phi += weight[k] * (v[s | 1 << i] - v_s);
            }
        }
    }
    Ok(ShapleyValues {
        values,
        std_errors: vec![0.0; n],
        v_all: v[size - 1],
        v_none: v[0],
        exact: true,
        evaluations: size,
    })
}

/// The permutations of a sample: `pairs` random permutations of `0..n` from ChaCha8 seeded
/// with `seed`, each followed by its reverse.
pub fn antithetic_permutations(n: usize, pairs: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(2 * pairs);
    for _ in 0..pairs {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let reverse: Vec<usize> = order.iter().rev().copied().collect();
        out.push(order);
        out.push(reverse);
    }
    out
}

/// Shapley values of the game `value` over `n` players estimated from `pairs` (at least
/// [`MIN_PAIRS`]) antithetic pairs of permutations drawn from `seed` (see
/// [`antithetic_permutations`]): `value` gets every distinct coalition the permutations'
/// prefixes form at once and returns v of each.
pub fn permutation_shapley<E>(
    n: usize,
    pairs: usize,
    seed: u64,
    value: impl FnOnce(&[Vec<bool>]) -> Result<Vec<f64>, E>,
) -> Result<ShapleyValues, E> {
    let pairs = pairs.max(MIN_PAIRS);
    let orders = antithetic_permutations(n, pairs, seed);
    // Distinct coalitions in order of first use; `chains[p][j]` is the slot of the first j
    // players of permutation p.
    let mut masks: Vec<Vec<bool>> = Vec::new();
    let mut slots: HashMap<Vec<bool>, usize> = HashMap::new();
    let mut slot_of = |mask: &Vec<bool>| -> usize {
        *slots.entry(mask.clone()).or_insert_with(|| {
            masks.push(mask.clone());
            masks.len() - 1
        })
    };
    let chains: Vec<Vec<usize>> = orders
        .iter()
        .map(|order| {
            let mut mask = vec![false; n];
            let mut chain = vec![slot_of(&mask)];
            for &player in order {
                mask[player] = true;
                chain.push(slot_of(&mask));
            }
            chain
        })
        .collect();
    let v = value(&masks)?;
    // Per pair, the mean of its two permutations' marginal contributions.
    let mut pair_means = vec![vec![0.0f64; n]; pairs];
    for (p, (order, chain)) in orders.iter().zip(&chains).enumerate() {
        for (j, &player) in order.iter().enumerate() {
            pair_means[p / 2][player] += (v[chain[j + 1]] - v[chain[j]]) / 2.0;
        }
    }
    let mut values = vec![0.0f64; n];
    let mut std_errors = vec![0.0f64; n];
    for i in 0..n {
        let y: Vec<f64> = pair_means.iter().map(|m| m[i]).collect();
        let mean = y.iter().sum::<f64>() / pairs as f64;
        let var = y.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (pairs - 1) as f64;
        values[i] = mean;
        std_errors[i] = (var / pairs as f64).sqrt();
    }
    Ok(ShapleyValues {
        values,
        std_errors,
        v_all: v[chains[0][n]],
        v_none: v[chains[0][0]],
        exact: false,
        evaluations: masks.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// The values of `game` on every mask.
    fn play(
        game: impl Fn(&[bool]) -> f64,
    ) -> impl FnOnce(&[Vec<bool>]) -> Result<Vec<f64>, Infallible> {
        move |masks| Ok(masks.iter().map(|m| game(m)).collect())
    }

    /// A weighted voting game: v(S) = 1 when the weights in S reach the quota.
    fn voting(weights: &[f64], quota: f64) -> impl Fn(&[bool]) -> f64 + '_ {
        move |mask| {
            let w: f64 = weights
                .iter()
                .zip(mask)
                .filter(|(_, k)| **k)
                .map(|(w, _)| w)
                .sum();
            f64::from(u8::from(w >= quota))
        }
    }

    fn close(a: &[f64], b: &[f64], tolerance: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tolerance, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn the_textbook_voting_game() {
        // [3; 2, 1, 1]: the big player is pivotal in 4 of the 6 orders, each small one in 1.
        let exact = exact_shapley(3, play(voting(&[2.0, 1.0, 1.0], 3.0))).unwrap();
        close(&exact.values, &[2.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0], 1e-15);
        assert!(exact.exact && exact.evaluations == 8);
        assert_eq!((exact.v_all, exact.v_none), (1.0, 0.0));
        // [4; 3, 1, 1, 1]: the big player is pivotal unless it comes first (3/4); the small ones
        // share the rest.
        let exact = exact_shapley(4, play(voting(&[3.0, 1.0, 1.0, 1.0], 4.0))).unwrap();
        close(
            &exact.values,
            &[0.75, 1.0 / 12.0, 1.0 / 12.0, 1.0 / 12.0],
            1e-15,
        );
    }

    #[test]
    fn an_additive_game_gives_each_player_its_weight_exactly_and_without_sampling_error() {
        let w = [0.5, -2.0, 3.25, 0.0, 1.5, -0.75, 4.0];
        let additive = |mask: &[bool]| -> f64 {
            10.0 + w
                .iter()
                .zip(mask)
                .filter(|(_, k)| **k)
                .map(|(w, _)| w)
                .sum::<f64>()
        };
        let exact = exact_shapley(w.len(), play(additive)).unwrap();
        close(&exact.values, &w, 1e-12);
        let sampled = permutation_shapley(w.len(), 3, 1, play(additive)).unwrap();
        close(&sampled.values, &w, 1e-12);
        close(&sampled.std_errors, &[0.0; 7], 1e-12);
        assert!(!sampled.exact);
    }

    /// A game with interactions: a weighted majority plus a pairwise term and a product term.
    fn tangled(mask: &[bool]) -> f64 {
        let weights = [3.0, 1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0];
        let k = |i: usize| f64::from(u8::from(mask[i]));
        voting(&weights, 7.0)(mask) * 2.0 + 1.5 * k(0) * k(3) - 0.7 * k(1) * k(2) * k(9)
            + 0.3 * k(4)
    }

    #[test]
    fn sampling_agrees_with_enumeration_within_its_standard_errors_and_is_efficient() {
        let exact = exact_shapley(10, play(tangled)).unwrap();
        assert!(exact.efficiency_gap().abs() < 1e-12, "{exact:?}");
        // Symmetric players get equal values.
        assert!((exact.values[1] - exact.values[2]).abs() < 1e-12);
        let sampled = permutation_shapley(10, 200, 9, play(tangled)).unwrap();
        assert!(sampled.efficiency_gap().abs() < 1e-12, "{sampled:?}");
        assert!(
            sampled.evaluations < 2 * 200 * 11,
            "prefixes shared by permutations are reused"
        );
        let mut worst = 0.0f64;
        for ((e, s), se) in exact
            .values
            .iter()
            .zip(&sampled.values)
            .zip(&sampled.std_errors)
        {
            assert!(*se > 0.0 || (e - s).abs() < 1e-12);
            if *se > 0.0 {
                worst = worst.max((e - s).abs() / se);
            }
        }
        assert!(
            worst < 4.0,
            "an estimate {worst:.1} standard errors from the exact value"
        );
        // More pairs, smaller errors.
        let more = permutation_shapley(10, 800, 9, play(tangled)).unwrap();
        let total = |v: &ShapleyValues| v.std_errors.iter().sum::<f64>();
        assert!(total(&more) < 0.7 * total(&sampled));
    }

    #[test]
    fn the_same_seed_draws_the_same_permutations_each_with_its_reverse() {
        let a = antithetic_permutations(6, 4, 3);
        assert_eq!(a, antithetic_permutations(6, 4, 3));
        assert_ne!(a, antithetic_permutations(6, 4, 4));
        assert_eq!(a.len(), 8);
        for pair in a.chunks(2) {
            let reversed: Vec<usize> = pair[0].iter().rev().copied().collect();
            assert_eq!(pair[1], reversed);
            let mut sorted = pair[0].clone();
            sorted.sort();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        }
    }

    #[test]
    fn no_players_no_values() {
        let exact = exact_shapley(0, play(|_| 2.0)).unwrap();
        assert!(exact.values.is_empty() && exact.efficiency_gap() == 0.0);
        let sampled = permutation_shapley(0, 2, 0, play(|_| 2.0)).unwrap();
        assert!(sampled.values.is_empty() && sampled.evaluations == 1);
    }
}
