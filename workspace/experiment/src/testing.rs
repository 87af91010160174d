//! What the unit tests beside each study kind share: experiment files with one kind's tables
//! loaded against a model's facts, and a kind's report section rendered from rows written to and
//! read back from a run folder.

use crate::plan::{self, Experiment, ModelFacts};
use crate::study::{Kind, Outputs, Registered, Study};
use cavern_model::{ModelKind, ModelRef};
use cavern_runfolder::RunFolder;
use cavern_runfolder::manifest::{ExperimentInfo, Manifest, ModelInfo};
use cavern_runfolder::report::ReportEnv;

/// The file's own tables every test file starts with: two concepts of six examples and a random
/// pool of ten.
pub const HEADER: &str = r#"
[experiment]
name = "t"
model = "toy"

[concepts.good]
examples = ["good", "fine", "great", "nice", "lovely", "superb"]

[concepts.bad]
examples = ["bad", "awful", "poor", "dull", "grim", "weak"]

[random]
examples = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
sets = 3
size = 4
"#;

/// An encoder with two layers and the classes `negative` and `positive`.
pub fn encoder() -> ModelFacts {
    ModelFacts {
        n_layers: 2,
        width: 8,
        kind: ModelKind::Encoder,
        class_names: vec!["negative".into(), "positive".into()],
        vocabulary: None,
    }
}

/// A decoder with three layers whose vocabulary is ` Mary`, ` John`, `=` and `a`.
pub fn decoder() -> ModelFacts {
    ModelFacts {
        n_layers: 3,
        width: 8,
        kind: ModelKind::Decoder,
        class_names: Vec::new(),
        vocabulary: Some([" Mary", " John", "=", "a"].map(String::from).into()),
    }
}

/// Loads [`HEADER`] followed by `tables` (of kind `S` only) on a model with `facts`.
pub fn load<S: Study>(tables: &str, facts: ModelFacts) -> Result<Experiment, Vec<String>> {
    let dir = tempfile::tempdir().map_err(|e| vec![e.to_string()])?;
    let path = dir.path().join("x.toml");
    std::fs::write(&path, format!("{HEADER}\n{tables}")).map_err(|e| vec![e.to_string()])?;
    let lookup = move |_: &ModelRef| Ok(facts.clone());
    let kind: &dyn Kind = &Registered::<S>::KIND;
    plan::load(&path, &lookup, &["toy"], &[kind]).map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
            .collect()
    })
}

/// The one study of kind `S` that `tables` declares; panics with the problems when invalid.
pub fn spec<S: Study>(tables: &str, facts: ModelFacts) -> S::Spec {
    let experiment = load::<S>(tables, facts).unwrap_or_else(|problems| panic!("{problems:#?}"));
    let specs = experiment.specs::<S::Spec>();
    assert_eq!(specs.len(), 1, "one study expected");
    specs[0].clone()
}

/// The problems of `tables` (line:column: message); panics when it is valid.
pub fn problems<S: Study>(tables: &str, facts: ModelFacts) -> Vec<String> {
    match load::<S>(tables, facts) {
        Ok(experiment) => panic!("valid: {experiment:#?}"),
        Err(problems) => problems,
    }
}

/// Kind `S`'s report section for `output`, written into a run folder and read back from it;
/// `None` when the output has no rows.
pub fn section<S: Study>(mut output: S::Output) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join(cavern_runfolder::run_dir::TABLES_DIR);
    std::fs::create_dir(&tables).unwrap();
    for table in output.tables() {
        if !table.is_empty() {
            table.write(&tables).unwrap();
        }
    }
    manifest().write(dir.path()).unwrap();
    let folder = RunFolder::open(dir.path()).unwrap();
    let kind: &dyn Kind = &Registered::<S>::KIND;
    kind.report(&folder, &ReportEnv::new()).unwrap()
}

/// A manifest for test run folders.
pub fn manifest() -> Manifest {
    Manifest {
        cavern_version: "0.1.0".into(),
        git_revision: None,
        experiment: ExperimentInfo {
            path: "x.toml".into(),
            name: "t".into(),
            sha256: "00".into(),
        },
        model: ModelInfo {
            name: "toy".into(),
            source: "built-in".into(),
            sha256: "11".into(),
            head: None,
        },
        backend: "flex (cpu)".into(),
        seed: 7,
        timings: Vec::new(),
        tables: Vec::new(),
        table_keys: Default::default(),
        shard: None,
        merged_from: Vec::new(),
    }
}
