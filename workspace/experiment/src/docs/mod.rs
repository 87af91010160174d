//! The references generated from the registry: the experiment-file reference (`cavern schema`,
//! docs/schema.md) from each kind's schema section, and the run-folder reference
//! (docs/tables.md) from each table's row type. Tests keep the committed files current; with
//! `CAVERN_BLESS_DOCS=1` they rewrite them instead.

use crate::engine::head::HeadRow;
use crate::plan::FILE_TABLES;
use crate::registry::KINDS;
use cavern_runfolder::Row;
use cavern_runfolder::examples::ExampleRow;

const SCHEMA_FILE: &str = include_str!("schema_file.md");
const SCHEMA_EXAMPLE: &str = include_str!("schema_example.md");
const TABLES_INTRO: &str = include_str!("tables_intro.md");
const TABLES_END: &str = include_str!("tables_end.md");

/// The experiment-file reference: every key, its type, default and meaning (Markdown).
pub fn schema_reference() -> String {
    let keys: Vec<String> = (FILE_TABLES.iter().copied())
        .chain(KINDS.iter().map(|k| k.name()))
        .map(|k| format!("`{k}`"))
        .collect();
    let needing: Vec<String> = (KINDS.iter())
        .filter(|k| k.needs_random())
        .map(|k| format!("`[[{}]]`", k.name()))
        .collect();
    let intro = format!(
        "An experiment file is TOML. Top-level keys: {}; any other key is an error. Relative \
         paths resolve against the directory of the experiment file.",
        keys.join(", ")
    );
    let mut out = format!("# Experiment file reference\n\n{}\n\n", wrap(&intro, 80));
    out.push_str(&SCHEMA_FILE.replace("{needs_random}", &needing.join(" or ")));
    for kind in KINDS {
        out.push('\n');
        out.push_str(kind.schema());
    }
    out.push('\n');
    out.push_str(SCHEMA_EXAMPLE);
    out
}

/// `text` with its spaces turned into line breaks so that no line exceeds `width` characters
/// (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        let length = word.chars().count();
        if line > 0 && line + 1 + length > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += length;
    }
    out
}

/// The run-folder reference: every table's rows, key and columns, and the other files.
pub fn tables_reference() -> String {
    let mut out = String::from(TABLES_INTRO);
    for table in KINDS.iter().flat_map(|k| k.tables()) {
        out.push('\n');
        out.push_str(&table.markdown());
    }
    out.push('\n');
    out.push_str(&ExampleRow::TABLE.markdown());
    let sets: Vec<String> = (KINDS.iter())
        .filter_map(|k| Some(format!("`{}` (`[[{}]]`)", k.inputs_set()?, k.name())))
        .collect();
    out.push_str(&format!(
        "\nThe sets of study inputs: {}.\n",
        sets.join(", ")
    ));
    out.push('\n');
    out.push_str(&HeadRow::TABLE.markdown());
    for kind in KINDS.iter().filter(|k| !k.files().is_empty()) {
        out.push('\n');
        out.push_str(kind.files());
    }
    out.push('\n');
    out.push_str(TABLES_END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Compares the committed file with the generated text, or writes it with
    /// `CAVERN_BLESS_DOCS=1`.
    fn check(file: &str, generated: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs")
            .join(file);
        if std::env::var_os("CAVERN_BLESS_DOCS").is_some() {
            std::fs::write(&path, generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/{file} is not what the registry generates; run \
             `CAVERN_BLESS_DOCS=1 cargo test --release -p cavern-experiment docs` and commit it"
        );
    }

    #[test]
    fn docs_schema_md_is_current() {
        check("schema.md", &schema_reference());
    }

    #[test]
    fn docs_tables_md_is_current() {
        check("tables.md", &tables_reference());
    }

    #[test]
    fn every_model_family_is_listed() {
        let schema = schema_reference();
        for family in cavern_model::Family::ALL {
            let name = format!("`{family}`");
            assert!(schema.contains(&name), "{name} is not listed");
        }
    }

    #[test]
    fn wrapping_breaks_at_spaces_before_the_width() {
        assert_eq!(wrap("aa bb cc", 5), "aa bb\ncc");
        assert_eq!(wrap("aaaaaaa b", 5), "aaaaaaa\nb");
        assert_eq!(wrap("a", 5), "a");
    }

    #[test]
    fn every_kind_and_table_is_documented() {
        let schema = schema_reference();
        let tables = tables_reference();
        for kind in KINDS {
            assert!(schema.contains(&format!("## [[{}]]", kind.name())));
            for table in kind.tables() {
                assert!(tables.contains(&format!("## `{}`", table.name)));
                for column in table.columns {
                    assert!(
                        !column.doc.trim().is_empty(),
                        "{}.{}",
                        table.name,
                        column.name
                    );
                }
            }
        }
    }
}
