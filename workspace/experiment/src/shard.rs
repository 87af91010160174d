//! Shards: `--shard I/N` runs the I-th of N deterministic, balanced slices of an experiment's
//! units of work (its studies), and `cavern merge` puts the slices back together.

use crate::plan::Experiment;
use crate::registry::KINDS;
use cavern_runfolder::units::UnitId;
use std::fmt;
use std::str::FromStr;

/// One shard of N: `index` in `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// The shard's number, from 0.
    pub index: usize,
    /// Shards in all, at least 1.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{text}` is not a shard: write I/N with 0 <= I < N, as in 0/4");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let (index, count): (usize, usize) = (
            index.trim().parse().map_err(|_| usage())?,
            count.trim().parse().map_err(|_| usage())?,
        );
        if index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The units of `units` (with their work) this shard runs; see [`assign`].
    pub fn units(&self, units: &[(UnitId, usize)]) -> Vec<UnitId> {
        let owners = assign(units, self.count);
        units
            .iter()
            .zip(owners)
            .filter(|(_, owner)| *owner == self.index)
            .map(|((id, _), _)| id.clone())
            .collect()
    }
}

/// Every unit of work of `experiment`, in run order, with its work (the progress bar's units).
pub fn all_units(experiment: &Experiment) -> Vec<(UnitId, usize)> {
    KINDS
        .iter()
        .flat_map(|kind| {
            experiment.studies_of(kind.name()).map(|study| {
                let id = UnitId {
                    kind: kind.name().to_owned(),
                    index: study.index,
                };
                (id, kind.work(&*study.spec))
            })
        })
        .collect()
}

/// The shard of each unit: largest work first (ties in run order), each to the shard with the
/// least work so far (ties to the lowest number) — balanced, and the same on every machine.
pub fn assign(units: &[(UnitId, usize)], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(units[i].1));
    let mut load = vec![0usize; count.max(1)];
    let mut owner = vec![0; units.len()];
    for i in order {
        let shard = (0..load.len()).min_by_key(|&s| load[s]).unwrap_or(0);
        load[shard] += units[i].1.max(1);
        owner[i] = shard;
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(work: &[usize]) -> Vec<(UnitId, usize)> {
        work.iter()
            .enumerate()
            .map(|(index, &w)| {
                let id = UnitId {
                    kind: "probe".into(),
                    index,
                };
                (id, w)
            })
            .collect()
    }

    #[test]
    fn shards_parse_as_index_slash_count() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard { index: 0, count: 1 }.to_string(), "0/1");
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("I/N"), "{bad}: {error}");
        }
    }

    #[test]
    fn assignment_balances_work_and_every_unit_has_one_shard() {
        let all = units(&[5, 1, 4, 2, 3, 3]);
        assert_eq!(assign(&all, 2), vec![0, 0, 1, 1, 1, 0]);
        let shards: Vec<Vec<UnitId>> = (0..3)
            .map(|index| Shard { index, count: 3 }.units(&all))
            .collect();
        let mut seen: Vec<usize> = shards.iter().flatten().map(|id| id.index).collect();
        seen.sort();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
        let load = |s: &[UnitId]| s.iter().map(|id| all[id.index].1).sum::<usize>();
        assert!(
            shards.iter().all(|s| load(s) >= 5 && load(s) <= 7),
            "{shards:?}"
        );
        assert!(
            Shard { index: 3, count: 4 }
                .units(&units(&[1, 1]))
                .is_empty()
        );
    }
}
