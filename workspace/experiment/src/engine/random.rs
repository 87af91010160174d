//! The random sets of a run: seeded samples of the `[random]` pool that CAVs are trained against.

use crate::plan::RandomPool;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

/// The random sets of a run: `sets` seeded samples (without replacement) of the pool.
#[derive(Debug, Clone, Default)]
pub struct RandomSets {
    /// Pool examples.
    pub pool: Vec<String>,
    /// Indices into `pool`, one list per set.
    pub sets: Vec<Vec<usize>>,
}

impl RandomSets {
    /// Draws `pool.sets` sets of `pool.size` examples.
    pub fn draw(pool: &RandomPool, rng: &mut ChaCha8Rng) -> RandomSets {
        let sets = (0..pool.sets)
            .map(|_| sample(rng, pool.examples.len(), pool.size).into_vec())
            .collect();
        RandomSets {
            pool: pool.examples.clone(),
            sets,
        }
    }

    /// Rows of set `index`, picked from the pool's rows.
    pub fn rows(&self, pool_rows: &[Vec<f32>], index: usize) -> Vec<Vec<f32>> {
        self.sets[index]
            .iter()
            .map(|&i| pool_rows[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sets_are_seeded_samples_without_replacement() {
        let pool = RandomPool {
            examples: (0..10).map(|i| i.to_string()).collect(),
            sets: 3,
            size: 4,
        };
        let draw = |seed| RandomSets::draw(&pool, &mut ChaCha8Rng::seed_from_u64(seed));
        let sets = draw(7);
        assert_eq!(sets.sets.len(), 3);
        for set in &sets.sets {
            let mut sorted = set.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 4, "{set:?}");
            assert!(set.iter().all(|&i| i < 10));
        }
        assert_eq!(draw(7).sets, sets.sets);
        assert_ne!(draw(8).sets, sets.sets);
        let rows: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32]).collect();
        let picked = sets.rows(&rows, 1);
        let expected: Vec<Vec<f32>> = sets.sets[1].iter().map(|&i| vec![i as f32]).collect();
        assert_eq!(picked, expected);
    }
}
