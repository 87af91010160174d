//! The registry: the one list that names every study kind.
//!
//! Its order is the order kinds are documented, validated, run and reported in. Each study
//! draws from its own random stream (`engine::units`), so adding a kind, or a study, changes no
//! other study's numbers. Adding a kind is a module in `kinds/` and a line here.

use crate::kinds::adversarial::Adversarial;
use crate::kinds::attention::Attention;
use crate::kinds::attribution::Attribution;
use crate::kinds::counterfactual::Counterfactual;
use crate::kinds::erasure::Erasure;
use crate::kinds::influence::Influence;
use crate::kinds::logit_lens::LogitLens;
use crate::kinds::neighbors::Neighbors;
use crate::kinds::patching::Patching;
use crate::kinds::probe::Probe;
use crate::kinds::pruning::Pruning;
use crate::kinds::steering::Steering;
use crate::kinds::surrogate::Surrogate;
use crate::kinds::tcav::Tcav;
use crate::study::{Kind, Registered};

/// Every study kind.
pub static KINDS: &[&dyn Kind] = &[
    &Registered::<Probe>::KIND,
    &Registered::<Tcav>::KIND,
    &Registered::<Attention>::KIND,
    &Registered::<Attribution>::KIND,
    &Registered::<Neighbors>::KIND,
    &Registered::<Patching>::KIND,
    &Registered::<Pruning>::KIND,
    &Registered::<Steering>::KIND,
    &Registered::<Erasure>::KIND,
    &Registered::<Counterfactual>::KIND,
    &Registered::<LogitLens>::KIND,
    &Registered::<Influence>::KIND,
    &Registered::<Surrogate>::KIND,
    &Registered::<Adversarial>::KIND,
];

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The key columns of the table named `name`, as its kind declares them (for runs whose
/// manifests do not record them).
pub fn table_keys(name: &str) -> Option<&'static [&'static str]> {
    let tables = KINDS.iter().flat_map(|k| k.tables());
    let fixed = [
        &<cavern_runfolder::examples::ExampleRow as cavern_runfolder::Row>::TABLE,
        &<crate::engine::head::HeadRow as cavern_runfolder::Row>::TABLE,
    ];
    (fixed.into_iter().chain(tables))
        .find(|t| t.name == name)
        .map(|t| t.keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FILE_TABLES;
    use std::collections::HashSet;

    #[test]
    fn names_and_tables_are_unique_and_keys_name_columns() {
        let names: HashSet<&str> = KINDS.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), KINDS.len(), "two kinds share a name");
        assert!(
            FILE_TABLES.iter().all(|t| !names.contains(t)),
            "a kind named like a file table"
        );
        let mut tables = HashSet::new();
        for table in KINDS.iter().flat_map(|k| k.tables()) {
            assert!(tables.insert(table.name), "table {} twice", table.name);
            for key in table.keys {
                assert!(
                    table.columns.iter().any(|c| c.name == *key),
                    "{}: key {key} is no column",
                    table.name
                );
            }
        }
        assert_eq!(
            table_keys("tcav"),
            Some(&["concept", "target", "layer", "site"][..])
        );
        assert_eq!(table_keys("examples"), Some(&["kind", "set", "index"][..]));
        assert_eq!(table_keys("no_such_table"), None);
    }

    #[test]
    fn every_folder_in_kinds_is_a_registered_kind_of_its_name() {
        let kinds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kinds");
        let mut folders: Vec<String> = std::fs::read_dir(kinds)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        folders.sort();
        let mut names: Vec<String> = KINDS.iter().map(|k| k.name().to_owned()).collect();
        names.sort();
        assert_eq!(folders, names);
    }

    #[test]
    fn every_key_of_a_kind_is_in_its_schema_section() {
        for kind in KINDS {
            let schema = kind.schema();
            assert!(
                schema.starts_with(&format!("## [[{}]]\n", kind.name())),
                "{}: {schema}",
                kind.name()
            );
            for key in kind.keys() {
                assert!(
                    schema.contains(&format!("| {key} ")),
                    "[[{}]]: key `{key}` is not in its schema table",
                    kind.name()
                );
            }
        }
    }
}
