//! The texts a run used, kept in its folder as the `examples` table so that the run stays
//! readable (and its report can be re-rendered) after the experiment's files move.

use serde::Serialize;

crate::table_rows! {
    /// Every text the run used, so the run folder stays readable (and `cavern report` can
    /// re-render it) after the experiment's files move: each concept set, the random pool and each
    /// study's inputs (concepts, the pool, then the study kinds in the order of the schema
    /// reference, each kind's studies in file order).
    #[table("examples", keys = [kind, set, index])]
    pub struct ExampleRow {
        /// `concept`, `random` (the counterexample pool), or the inputs of a study kind's studies
        /// (listed below); a kind whose texts are pairs, such as patching's, keeps them in its
        /// own tables
        pub kind: String,
        /// the concept's name, `pool`, or the study's index in the file among studies of its
        /// kind (from 0)
        pub set: String,
        /// position of the text in its set, from 0
        pub index: usize,
        /// the text as the model received it
        pub text: String,
    }
}

/// One named set of texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExampleSet {
    /// `concept`, `random` or the inputs of a study kind's studies (see [`ExampleRow::kind`]).
    pub kind: String,
    /// Concept name, `pool`, or the study's index in the file among its kind (from 0).
    pub name: String,
    /// The texts, in file order.
    pub texts: Vec<String>,
}

/// The `examples` rows of `sets`: one per text.
pub fn rows(sets: &[ExampleSet]) -> Vec<ExampleRow> {
    sets.iter()
        .flat_map(|set| {
            set.texts
                .iter()
                .enumerate()
                .map(|(index, text)| ExampleRow {
                    kind: set.kind.clone(),
                    set: set.name.clone(),
                    index,
                    text: text.clone(),
                })
        })
        .collect()
}

/// The sets the `examples` rows hold, in order.
pub fn sets(rows: Vec<ExampleRow>) -> Vec<ExampleSet> {
    let mut sets: Vec<ExampleSet> = Vec::new();
    for row in rows {
        match sets.last_mut() {
            Some(set) if set.kind == row.kind && set.name == row.set => set.texts.push(row.text),
            _ => sets.push(ExampleSet {
                kind: row.kind,
                name: row.set,
                texts: vec![row.text],
            }),
        }
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_become_rows_and_back() {
        let sets = vec![
            ExampleSet {
                kind: "concept".into(),
                name: "praise".into(),
                texts: vec!["good".into(), "fine".into()],
            },
            ExampleSet {
                kind: "tcav_inputs".into(),
                name: "0".into(),
                texts: vec!["a film".into()],
            },
        ];
        let rows = rows(&sets);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[1].set.as_str(), rows[1].index), ("praise", 1));
        assert_eq!(super::sets(rows), sets);
    }
}
