//! The units of work a run does (one study each) and the random stream each draws from.

use cavern_probe::control::fnv1a;
use cavern_runfolder::units::{UnitId, Units};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// The units a run is to do, and where it saves them as they finish.
pub struct UnitWork<'a> {
    /// Where finished units are saved (and found, when the run resumes).
    pub units: &'a Units,
    /// The units this run does: all of the experiment's, or one shard's.
    pub mine: &'a HashSet<UnitId>,
}

impl UnitWork<'_> {
    /// Whether unit `id` is this run's and not finished yet.
    pub fn wants(&self, id: &UnitId) -> bool {
        self.mine.contains(id) && !self.units.is_done(id)
    }
}

/// The random stream of unit `id` in a run with seed `seed`: the seed's ChaCha8 generator on a
/// stream named by the unit, so a study draws the same numbers whatever else the file holds,
/// whichever shard runs it and whether or not the run was resumed. (Stream 0 is the run's own,
/// for the random sets and the `[head]`.)
pub fn unit_rng(seed: u64, id: &UnitId) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(format!("unit {id}").as_bytes()));
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn each_unit_has_its_own_stream_of_the_seed() {
        let id = |kind: &str, index| UnitId {
            kind: kind.into(),
            index,
        };
        let first = |seed, unit: &UnitId| unit_rng(seed, unit).random::<u64>();
        let probe = id("probe", 0);
        assert_eq!(first(7, &probe), first(7, &probe));
        assert_ne!(first(7, &probe), first(8, &probe));
        assert_ne!(first(7, &probe), first(7, &id("probe", 1)));
        assert_ne!(first(7, &probe), first(7, &id("tcav", 0)));
        assert_ne!(
            first(7, &probe),
            ChaCha8Rng::seed_from_u64(7).random::<u64>()
        );
    }
}
