//! What the CLI prints about a run folder: its findings (the end of `cavern run`), and the JSON
//! it prints with `--json` about an experiment file (`cavern validate`) and a run folder
//! (`cavern run`), with a count or the summary tables and findings of every study kind.

use crate::plan::{Experiment, ExperimentError};
use crate::registry::KINDS;
use crate::report::findings;
use cavern_runfolder::report::Finding;
use cavern_runfolder::{RunFolder, RunFolderError};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::path::Path;

/// Entries serialized as a map in their order.
struct Ordered(Vec<(String, Value)>);

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The studies of each kind, `[(kind, count)]`, every kind in the registry's order.
pub fn study_counts(experiment: &Experiment) -> Vec<(&'static str, usize)> {
    KINDS
        .iter()
        .map(|kind| (kind.name(), experiment.studies_of(kind.name()).count()))
        .collect()
}

/// The findings of the run folder at `run` as the end of `cavern run` prints them: a
/// `findings:` line, then one indented `STUDY: TEXT` line each (nothing when there are none).
pub fn findings_text(run: &Path) -> Result<String, RunFolderError> {
    let found = findings(&RunFolder::open(run)?)?;
    if found.is_empty() {
        return Ok(String::new());
    }
    let mut text = String::from("findings:\n");
    for finding in found {
        text.push_str(&format!("  {}: {}\n", finding.study, finding.text));
    }
    Ok(text)
}

/// `cavern run --json`: the run folder, its experiment and seed, the tables it wrote, its
/// findings (`[{"study", "text", ...the values it quotes}]`), and the rows of each study kind's
/// summary tables, each under its table's name (read back from the folder's tables; non-finite
/// numbers are `null`).
pub fn run_summary_json(run: &Path) -> Result<String, RunFolderError> {
    #[derive(Serialize)]
    struct Summary<'a> {
        run: String,
        experiment: &'a str,
        seed: u64,
        tables: &'a [String],
        findings: Vec<Finding>,
        #[serde(flatten)]
        rows: Ordered,
    }
    let folder = RunFolder::open(run)?;
    let found = findings(&folder)?;
    let mut rows = Vec::new();
    for kind in KINDS {
        for (name, table) in kind.summary(&folder)? {
            rows.push((name.to_owned(), table));
        }
    }
    Ok(pretty(&Summary {
        run: run.display().to_string(),
        experiment: &folder.manifest.experiment.name,
        seed: folder.manifest.seed,
        tables: &folder.manifest.tables,
        findings: found,
        rows: Ordered(rows),
    }))
}

/// `cavern validate --json`: `{"file", "ok": true, "name", "model", "seed", "concepts",
/// "KIND_studies" for every study kind}` for a valid file, `{"file", "ok": false,
/// "diagnostics": [{"file", "line", "column", "message", "help"}]}` for an invalid one.
pub fn validation_json(file: &Path, result: &Result<Experiment, ExperimentError>) -> String {
    #[derive(Serialize)]
    struct Valid<'a> {
        file: String,
        ok: bool,
        name: &'a str,
        model: &'a cavern_model::ModelRef,
        seed: u64,
        concepts: usize,
        #[serde(flatten)]
        studies: Ordered,
    }
    #[derive(Serialize)]
    struct Invalid {
        file: String,
        ok: bool,
        diagnostics: Vec<DiagnosticJson>,
    }
    #[derive(Serialize)]
    struct DiagnosticJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
        help: Option<String>,
    }
    let file = file.display().to_string();
    match result {
        Ok(experiment) => pretty(&Valid {
            file,
            ok: true,
            name: &experiment.name,
            model: &experiment.model,
            seed: experiment.seed,
            concepts: experiment.concepts.len(),
            studies: Ordered(
                study_counts(experiment)
                    .into_iter()
                    .map(|(kind, n)| (format!("{kind}_studies"), Value::from(n)))
                    .collect(),
            ),
        }),
        Err(error) => pretty(&Invalid {
            file,
            ok: false,
            diagnostics: error
                .diagnostics
                .iter()
                .map(|d| DiagnosticJson {
                    file: d.file.display().to_string(),
                    line: d.line,
                    column: d.column,
                    message: d.message.clone(),
                    help: d.help.clone(),
                })
                .collect(),
        }),
    }
}

/// Pretty-printed JSON of a value whose serialization cannot fail (plain structs, maps with
/// string keys).
fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
