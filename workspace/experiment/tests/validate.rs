//! Experiment-file validation: resolved values, and the position and wording of every
//! class of diagnostic.

use cavern_experiment::kinds::attention::AttentionSpec;
use cavern_experiment::kinds::attribution::AttributionSpec;
use cavern_experiment::kinds::probe::ProbeSpec;
use cavern_experiment::kinds::tcav::TcavSpec;
use cavern_experiment::load_experiment;
use cavern_experiment::plan::{
    DeviceChoice, Diagnostic, Experiment, ExperimentError, ModelFacts, ModelKind, ModelProblem,
    ModelRef, Target,
};
use cavern_model::{Family, SitePoint};
use cavern_probe::{CavMethod, Pooling, Validation};
use cavern_stats::Correction;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const KNOWN: &[&str] = &["toy-sentiment", "toy-gpt"];

/// A fake encoder with 2 layers and a two-class classifier, a fake 4-layer decoder, a model
/// that is known but not fetched, and any local BERT folder that exists: a 6-layer sentence
/// encoder without a classifier.
fn facts(model: &ModelRef) -> Result<ModelFacts, ModelProblem> {
    let encoder = |n_layers, class_names: &[&str]| ModelFacts {
        n_layers,
        width: 16,
        kind: ModelKind::Encoder,
        class_names: class_names.iter().map(|c| c.to_string()).collect(),
        vocabulary: None,
    };
    match model {
        ModelRef::Named(name) => match name.as_str() {
            "toy-sentiment" => Ok(encoder(2, &["negative", "positive"])),
            "toy-gpt" => Ok(ModelFacts {
                n_layers: 4,
                width: 16,
                kind: ModelKind::Decoder,
                class_names: Vec::new(),
                vocabulary: Some(["Paris", "London", "the"].map(String::from).into()),
            }),
            "far-away" => Err(ModelProblem::Unavailable(
                "model `far-away` is not fetched; run `cavern models fetch far-away`".into(),
            )),
            _ => Err(ModelProblem::Unknown),
        },
        ModelRef::Local {
            family: Some(Family::Bert),
            path,
        } if path.is_dir() => Ok(encoder(6, &[])),
        ModelRef::Local { path, .. } => Err(ModelProblem::Unavailable(format!(
            "{} is not a model folder",
            path.display()
        ))),
    }
}

fn load(path: &Path) -> Result<Experiment, ExperimentError> {
    load_experiment(path, &facts, KNOWN)
}

/// Writes `toml` as `x.toml` plus `files` into a fresh directory.
fn write(toml: &str, files: &[(&str, &[u8])]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, content).expect("write file");
    }
    let path = dir.path().join("x.toml");
    std::fs::write(&path, toml).expect("write experiment");
    (dir, path)
}

fn load_str(toml: &str) -> Result<Experiment, ExperimentError> {
    let (_dir, path) = write(toml, &[]);
    load(&path)
}

fn errors_with(toml: &str, files: &[(&str, &[u8])]) -> Vec<Diagnostic> {
    let (_dir, path) = write(toml, files);
    match load(&path) {
        Ok(experiment) => panic!("expected errors, got {experiment:#?}"),
        Err(err) => err.diagnostics,
    }
}

fn errors(toml: &str) -> Vec<Diagnostic> {
    errors_with(toml, &[])
}

/// The diagnostic whose message contains `needle`, at `line:column`.
#[track_caller]
fn expect<'a>(
    diagnostics: &'a [Diagnostic],
    needle: &str,
    line: usize,
    column: usize,
) -> &'a Diagnostic {
    let found = diagnostics.iter().find(|d| d.message.contains(needle));
    let Some(diagnostic) = found else {
        let all: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        panic!("no diagnostic containing {needle:?} in {all:#?}");
    };
    assert_eq!(
        (diagnostic.line, diagnostic.column),
        (line, column),
        "position of {:?}",
        diagnostic.message
    );
    diagnostic
}

#[track_caller]
fn help(diagnostic: &Diagnostic) -> &str {
    diagnostic.help.as_deref().expect("a help line")
}

const HEAD: &str = "[experiment]\nname = \"t\"\nmodel = \"toy-sentiment\"\n";
const SIX: &str = r#"examples = ["a", "b", "c", "d", "e", "f"]"#;

/// A two-line `[random]` table with 50 examples (enough for the default `size`).
fn pool() -> String {
    let examples: Vec<String> = (0..50).map(|i| format!("\"r{i}\"")).collect();
    format!("[random]\nexamples = [{}]", examples.join(", "))
}

#[test]
fn full_file_resolves_every_value() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/full/experiment.toml");
    let experiment = load(&path).expect("valid experiment");
    let bytes = std::fs::read(&path).expect("fixture");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(experiment.source_sha256, digest);
    assert_eq!(experiment.source_text.as_bytes(), bytes.as_slice());
    assert_eq!(experiment.name, "full-example_1");
    assert_eq!(experiment.seed, 7);
    assert_eq!(experiment.model, ModelRef::Named("toy-sentiment".into()));
    assert_eq!(experiment.device, DeviceChoice::Cuda);
    assert_eq!(experiment.batch_size, 8);

    let concepts = &experiment.concepts;
    assert_eq!(
        concepts.keys().collect::<Vec<_>>(),
        ["colour", "meals", "praise"]
    );
    let praise = [
        "wonderful",
        "great",
        "superb",
        "excellent",
        "marvellous",
        "splendid",
    ];
    assert_eq!(concepts["praise"], praise);
    assert_eq!(
        concepts["colour"],
        ["red", "green", "blue", "red", "yellow", "purple"]
    );
    // Keys sorted (adj, noun); the last key varies fastest.
    let meals = [
        "the soup was hot",
        "the pie was hot",
        "the stew was hot",
        "the soup was cold",
        "the pie was cold",
        "the stew was cold",
    ];
    assert_eq!(concepts["meals"], meals);

    let random = experiment.random.as_ref().expect("random pool");
    assert_eq!((random.examples.len(), random.sets, random.size), (6, 4, 5));

    let probes = experiment.specs::<ProbeSpec>();
    let [all, tuned] = probes.as_slice() else {
        panic!("two probes");
    };
    assert_eq!(all.concepts, ["praise", "colour"]);
    assert_eq!(all.layers, [0, 1]);
    assert_eq!(
        (all.sites.as_slice(), all.pooling),
        ([SitePoint::ResidPost].as_slice(), Pooling::Mean)
    );
    assert_eq!(all.cav.method, CavMethod::Logistic);
    assert_eq!(
        (all.cav.l2, all.cav.max_iterations, all.cav.validation),
        (0.01, 200, Validation::Holdout(0.3))
    );
    assert_eq!(tuned.layers, [1]);
    assert_eq!(
        (tuned.sites.as_slice(), tuned.pooling),
        ([SitePoint::MlpOut].as_slice(), Pooling::Last)
    );
    assert_eq!(tuned.cav.method, CavMethod::MeanDifference);
    assert_eq!(
        (tuned.cav.l2, tuned.cav.max_iterations, tuned.cav.validation),
        (0.5, 50, Validation::Holdout(0.25))
    );

    let tcavs = experiment.specs::<TcavSpec>();
    let [first, second] = tcavs.as_slice() else {
        panic!("two tcav studies");
    };
    assert_eq!(first.target, Target::Class("positive".into()));
    assert_eq!(first.inputs, ["what a film", "loved it"]);
    assert_eq!(first.layers, [0, 1]);
    assert_eq!((first.random_runs, first.alpha), (4, 0.05));
    assert_eq!(first.correction, Correction::Bonferroni);
    assert_eq!(second.target, Target::Class("negative".into()));
    assert_eq!(second.inputs, ["awful", "dreadful"]);
    assert_eq!(second.concepts, ["colour", "meals"]);
    assert_eq!(second.site, SitePoint::AttnOut);
    assert_eq!((second.random_runs, second.alpha), (3, 0.01));
    assert_eq!(second.correction, Correction::Holm);
    assert_eq!(second.correction.as_str(), "holm");
}

#[test]
fn folds_replace_holdout_but_not_both() {
    let random = pool();
    let study = |keys: &str| {
        format!(
            "{HEAD}[concepts.c]\n{SIX}\n{random}\n[[probe]]\nconcepts = [\"c\"]\nlayers = [0]\n{keys}\n"
        )
    };
    let experiment = load_str(&study("folds = 5")).expect("valid");
    assert_eq!(
        experiment.specs::<ProbeSpec>()[0].cav.validation,
        Validation::Folds(5)
    );
    let both = errors(&study("holdout = 0.2\nfolds = 5"));
    let line = HEAD.lines().count() + 9;
    let d = expect(&both, "[[probe]] sets both `holdout` and `folds`", line, 9);
    assert!(help(d).contains("keep one"));
    expect(
        &errors(&study("folds = 1")),
        "`folds` in [[probe]] must be at least 2, found 1",
        line - 1,
        9,
    );
}

#[test]
fn minimal_file_takes_defaults() {
    let experiment = load_str(HEAD).expect("valid");
    assert_eq!(experiment.seed, 0);
    assert_eq!(experiment.device, DeviceChoice::Cpu);
    assert_eq!(experiment.batch_size, 32);
    assert!(experiment.concepts.is_empty() && experiment.random.is_none());
    assert!(experiment.studies.is_empty());
}

#[test]
fn random_defaults_and_decoder_token_target() {
    let random = pool();
    let toml = format!(
        "[experiment]\nname = \"d\"\nmodel = \"toy-gpt\"\n[concepts.c]\n{SIX}\n{random}\n\
         [[tcav]]\ntarget = {{ token = \"Paris\" }}\n\
         inputs = {{ template = \"capital of {{{{ c }}}}\", vars = {{ c = [\"France\"] }} }}\n\
         concepts = [\"c\"]\nlayers = \"all\"\n"
    );
    let experiment = load_str(&toml).expect("valid");
    let random = experiment.random.as_ref().expect("pool");
    assert_eq!((random.sets, random.size), (10, 50));
    let tcav = &experiment.specs::<TcavSpec>()[0];
    assert_eq!(tcav.target, Target::Token("Paris".into()));
    assert_eq!(tcav.inputs, ["capital of France"]);
    assert_eq!(tcav.layers, [0, 1, 2, 3]);
    assert_eq!(tcav.random_runs, 10);
}

#[test]
fn display_is_rustc_style() {
    let (_dir, path) = write(
        "[experiment]\nmodel = \"toy-sentiment\"\nnmae = \"x\"\nname = \"x\"\n",
        &[],
    );
    let err = load(&path).expect_err("unknown key");
    let expected = format!(
        "error: unknown key `nmae` in [experiment]\n  --> {}:3:1\n   |\n 3 | nmae = \"x\"\n   | ^^^^\n   = help: did you mean `name`?",
        path.display()
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn syntax_error_points_at_the_problem() {
    let d = errors("[experiment]\nname = \"x\nmodel = \"m\"\n");
    assert_eq!(d.len(), 1);
    expect(&d, "invalid TOML", 2, 10);
    let d = errors("[experiment]\nname = \"x\"\nname = \"y\"\n");
    expect(&d, "duplicate key `name`", 3, 1);
}

#[test]
fn unknown_keys_at_every_level() {
    let d = errors(
        r#"[experiment]
name = "t"
model = "toy-sentiment"
sed = 1
[concepts.a]
fille = "a.txt"
[random]
examples = ["a", "b", "c", "d"]
sizes = 4
[[probe]]
concepts = ["a"]
layers = [0]
layer = [1]
[[tcav]]
target = { clas = "positive" }
inputs = { examples = ["x"], varz = {} }
concepts = ["a"]
layers = [0]
corection = "holm"
[probes]
"#,
    );
    assert_eq!(
        help(expect(&d, "unknown key `sed` in [experiment]", 4, 1)),
        "did you mean `seed`?"
    );
    assert_eq!(
        help(expect(&d, "unknown key `fille` in [concepts.a]", 6, 1)),
        "did you mean `file`?"
    );
    assert_eq!(
        help(expect(&d, "unknown key `sizes` in [random]", 9, 1)),
        "did you mean `size`?"
    );
    assert_eq!(
        help(expect(&d, "unknown key `layer` in [[probe]]", 13, 1)),
        "did you mean `layers`?"
    );
    let target = expect(&d, "unknown key `clas` in `target` of [[tcav]]", 15, 12);
    assert_eq!(help(target), "did you mean `class`?");
    let inputs = expect(&d, "unknown key `varz` in `inputs` of [[tcav]]", 16, 30);
    assert_eq!(help(inputs), "did you mean `vars`?");
    let correction = expect(&d, "unknown key `corection` in [[tcav]]", 19, 1);
    assert_eq!(help(correction), "did you mean `correction`?");
    assert_eq!(
        help(expect(&d, "unknown key `probes` at the top level", 20, 2)),
        "did you mean `probe`?"
    );
    // Misspelt keys are not reported a second time as missing.
    assert_eq!(d.len(), 8, "{d:#?}");
}

#[test]
fn unknown_key_without_close_match_lists_valid_keys() {
    let d = errors("[experiment]\nname = \"t\"\nmodel = \"toy-sentiment\"\ncolour = 1\n");
    let unknown = expect(&d, "unknown key `colour`", 4, 1);
    assert_eq!(
        help(unknown),
        "valid keys are: `name`, `seed`, `model`, `device`, `batch_size`"
    );
}

#[test]
fn wrong_types_name_the_key_and_the_expected_type() {
    let random = pool();
    let d = errors(&format!(
        "{HEAD}seed = \"7\"\nbatch_size = -1\n[concepts.c]\nexamples = \"one\"\n{random}\n[[probe]]\nconcepts = [\"c\"]\nlayers = [0.5]\n"
    ));
    let seed = expect(&d, "wrong type for `seed` in [experiment]", 4, 8);
    assert!(
        seed.message
            .ends_with("expected a non-negative integer, found string \"7\"")
    );
    expect(&d, "invalid value for `batch_size` in [experiment]", 5, 14);
    let examples = expect(&d, "wrong type for `examples` in [concepts.c]", 7, 12);
    assert!(
        examples.message.contains("expected an array"),
        "{}",
        examples.message
    );
    let layers = expect(&d, "wrong type for `layers` in [[probe]]", 12, 11);
    assert!(
        layers.message.contains("expected an integer"),
        "{}",
        layers.message
    );
    assert_eq!(d.len(), 4, "{d:#?}");
}

#[test]
fn missing_required_keys_point_at_their_table() {
    let random = pool();
    let d = errors(&format!(
        "[experiment]\nseed = 1\n[concepts.c]\n{SIX}\n{random}\n[[probe]]\nsite = \"embed\"\n[[tcav]]\nconcepts = [\"c\"]\n"
    ));
    expect(&d, "missing required key `name` in [experiment]", 1, 1);
    let model = expect(&d, "missing required key `model` in [experiment]", 1, 1);
    assert_eq!(help(model), "known models: `toy-sentiment`, `toy-gpt`");
    expect(&d, "missing required key `concepts` in [[probe]]", 7, 1);
    expect(&d, "missing required key `layers` in [[probe]]", 7, 1);
    expect(&d, "missing required key `target` in [[tcav]]", 9, 1);
    expect(&d, "missing required key `inputs` in [[tcav]]", 9, 1);
    expect(&d, "missing required key `layers` in [[tcav]]", 9, 1);
    let d = errors("[concepts.c]\nexamples = []\n");
    expect(&d, "missing [experiment] table", 1, 1);
}

#[test]
fn concept_needs_exactly_one_source() {
    let d = errors(&format!(
        "{HEAD}[concepts.none]\n[concepts.two]\nfile = \"two.txt\"\n{SIX}\n[concepts.vars]\nvars = {{ a = [\"x\"] }}\n"
    ));
    let none = expect(&d, "[concepts.none] has no example source", 4, 1);
    assert!(help(none).contains("`file`, `examples` or `template`"));
    let two = expect(
        &d,
        "[concepts.two] has several example sources: `file`, `examples`",
        7,
        12,
    );
    assert!(help(two).contains("exactly one"));
    expect(&d, "`vars` in [concepts.vars] needs a `template`", 9, 8);
}

#[test]
fn missing_file_shows_written_and_resolved_paths() {
    let (dir, path) = write(&format!("{HEAD}[concepts.c]\nfile = \"sets/c.txt\"\n"), &[]);
    let err = load(&path).expect_err("missing file");
    let d = expect(
        &err.diagnostics,
        "cannot read `sets/c.txt` (`file` of [concepts.c])",
        5,
        8,
    );
    let resolved = dir.path().join("sets/c.txt");
    assert!(
        help(d).contains(&resolved.display().to_string()),
        "{}",
        help(d)
    );
}

#[test]
fn empty_and_small_sets() {
    let files: &[(&str, &[u8])] = &[
        ("empty.txt", b"# only a comment\n\n   \n"),
        ("three.txt", b"a\nb\na\n"),
    ];
    let d = errors_with(
        &format!(
            "{HEAD}[concepts.e]\nfile = \"empty.txt\"\n[concepts.s]\nfile = \"three.txt\"\n[concepts.i]\nexamples = []\n"
        ),
        files,
    );
    let empty = d
        .iter()
        .find(|d| d.message.contains("`empty.txt` has no examples"))
        .expect("empty");
    assert!(empty.file.ends_with("empty.txt"));
    assert_eq!((empty.line, empty.column), (1, 1));
    assert!(help(empty).contains("x.toml:5:8"), "{}", help(empty));
    let small = expect(
        &d,
        "concept `s` has 3 examples; at least 6 are required",
        7,
        8,
    );
    assert!(help(small).contains("duplicates are allowed"));
    expect(&d, "`examples` of [concepts.i] is empty", 9, 12);
}

#[test]
fn invalid_utf8_points_into_the_text_file() {
    let files: &[(&str, &[u8])] = &[("bad.txt", b"fine\nalso fine\ncaf\xe9 au lait\n")];
    let d = errors_with(&format!("{HEAD}[concepts.c]\nfile = \"bad.txt\"\n"), files);
    let bad = d
        .iter()
        .find(|d| d.message.contains("not valid UTF-8"))
        .expect("utf-8");
    assert!(bad.file.ends_with("bad.txt"));
    assert_eq!((bad.line, bad.column), (3, 4));
}

#[test]
fn unknown_and_repeated_concept_references() {
    let random = pool();
    let d = errors(&format!(
        "{HEAD}[concepts.praise]\n{SIX}\n{random}\n[[probe]]\nconcepts = [\"praize\", \"praise\", \"praise\", \"zzz\"]\nlayers = [0]\n[[tcav]]\ntarget = {{ class = \"positive\" }}\ninputs = {{ examples = [\"x\"] }}\nconcepts = []\nlayers = [0]\n"
    ));
    let typo = expect(&d, "unknown concept `praize` in [[probe]]", 9, 13);
    assert_eq!(help(typo), "did you mean `praise`?");
    expect(&d, "concept `praise` is listed twice in [[probe]]", 9, 33);
    let far = expect(&d, "unknown concept `zzz` in [[probe]]", 9, 43);
    assert_eq!(help(far), "defined concepts: `praise`");
    expect(&d, "`concepts` in [[tcav]] is empty", 14, 12);
}

#[test]
fn layers_out_of_range() {
    let random = pool();
    let d = errors(&format!(
        "{HEAD}[concepts.c]\n{SIX}\n{random}\n[[probe]]\nconcepts = [\"c\"]\nlayers = [0, 2, -1, 0]\n[[probe]]\nconcepts = [\"c\"]\nlayers = []\n[[probe]]\nconcepts = [\"c\"]\nlayers = \"every\"\n"
    ));
    let two = expect(&d, "layer 2 is out of range in [[probe]]", 10, 14);
    assert_eq!(
        help(two),
        "model `toy-sentiment` has 2 layers: valid indices are 0 to 1"
    );
    expect(&d, "layer -1 is out of range", 10, 17);
    expect(&d, "layer 0 is listed twice", 10, 21);
    expect(&d, "`layers` in [[probe]] is empty", 13, 10);
    let every = expect(&d, "invalid value for `layers` in [[probe]]", 16, 10);
    assert!(
        every
            .message
            .contains(r#"expected a list of layer indices or "all""#)
    );
}

#[test]
fn targets_are_checked_against_the_model() {
    let random = pool();
    let study = |target: &str| {
        format!(
            "[[tcav]]\ntarget = {target}\ninputs = {{ examples = [\"x\"] }}\nconcepts = [\"c\"]\nlayers = [0]\n"
        )
    };
    let body = format!("[concepts.c]\n{SIX}\n{random}\n");
    let encoder = format!(
        "{HEAD}{body}{}{}{}",
        study(r#"{ class = "positve" }"#),
        study(r#"{ token = "Paris" }"#),
        study(r#"{ class = "a", token = "b" }"#),
    );
    let d = errors(&encoder);
    let class = expect(
        &d,
        "unknown class `positve` for model `toy-sentiment`",
        9,
        20,
    );
    assert_eq!(help(class), "did you mean `positive`?");
    let token = expect(
        &d,
        "model `toy-sentiment` is an encoder; `token` targets need a decoder",
        14,
        20,
    );
    assert!(help(token).contains("class"));
    expect(&d, "must have exactly one of `class` or `token`", 19, 10);

    let decoder = format!(
        "[experiment]\nname = \"d\"\nmodel = \"toy-gpt\"\n{body}{}{}",
        study(r#"{ token = "Pariss" }"#),
        study(r#"{ class = "positive" }"#),
    );
    let d = errors(&decoder);
    let vocab = expect(
        &d,
        "token \"Pariss\" is not in the vocabulary of model `toy-gpt`",
        9,
        20,
    );
    assert_eq!(help(vocab), "did you mean \"Paris\"?");
    expect(
        &d,
        "model `toy-gpt` is a decoder; `class` targets need an encoder",
        14,
        20,
    );
}

#[test]
fn random_pool_rules() {
    let study = "[[tcav]]\ntarget = { class = \"positive\" }\ninputs = \"in.txt\"\nconcepts = [\"c\"]\nlayers = [0]\n";
    let files: &[(&str, &[u8])] = &[("in.txt", b"good\n")];
    let d = errors_with(
        &format!("{HEAD}[concepts.c]\n{SIX}\n{study}random_runs = 5\n"),
        files,
    );
    let missing = expect(&d, "[random] is required", 6, 1);
    assert!(help(missing).contains("add a [random] table"));
    assert_eq!(d.len(), 1, "{d:#?}");

    let d = errors_with(
        &format!(
            "{HEAD}[concepts.c]\n{SIX}\n[random]\n{SIX}\nsets = 3\nsize = 7\n{study}random_runs = 5\n"
        ),
        files,
    );
    let pool = expect(
        &d,
        "the [random] pool has 6 examples, fewer than `size` = 7",
        9,
        8,
    );
    assert!(help(pool).contains("lower `size`"));

    let d = errors_with(
        &format!(
            "{HEAD}[concepts.c]\n{SIX}\n[random]\n{SIX}\nsets = 3\nsize = 4\n{study}random_runs = 5\n"
        ),
        files,
    );
    let runs = expect(
        &d,
        "`random_runs` = 5 exceeds `sets` = 3 in [random]",
        15,
        15,
    );
    assert!(help(runs).contains("raise `sets`"));

    let d = errors(&format!("{HEAD}[random]\n{SIX}\nsets = 1\nsize = 3\n"));
    expect(&d, "`sets` in [random] must be at least 2, found 1", 6, 8);
    expect(&d, "`size` in [random] must be at least 4, found 3", 7, 8);
}

#[test]
fn local_models_resolve_against_the_file_and_report_their_problems() {
    let toml =
        "[experiment]\nname = \"t\"\nmodel = { family = \"bert\", path = \"models/mini\" }\n";
    let (dir, path) = write(toml, &[("models/mini/config.json", b"{}")]);
    let experiment = load(&path).expect("valid experiment");
    let expected = ModelRef::Local {
        family: Some(Family::Bert),
        path: dir.path().join("models/mini"),
    };
    assert_eq!(experiment.model, expected);

    let d = errors("[experiment]\nname = \"t\"\nmodel = { family = \"bret\", path = \"m\" }\n");
    assert_eq!(
        help(expect(&d, "unknown family `bret`", 3, 20)),
        "did you mean `bert`? expected one of: `bert`, `gpt2`, `gpt_neox`, `llama`, `mistral`, \
         `qwen2`, `qwen3`, `gemma2`, `gemma3`"
    );
    // `family` is optional: the folder's config.json names it.
    let d = errors("[experiment]\nname = \"t\"\nmodel = { path = \"m\" }\n");
    expect(&d, "m is not a model folder", 3, 9);
    let d = errors("[experiment]\nname = \"t\"\nmodel = { family = \"bert\" }\n");
    expect(
        &d,
        "missing required key `path` in `model` of [experiment]",
        3,
        9,
    );
    let d =
        errors("[experiment]\nname = \"t\"\nmodel = { family = \"bert\", path = \"nowhere\" }\n");
    expect(&d, "nowhere is not a model folder", 3, 9);
    let d = errors("[experiment]\nname = \"t\"\nmodel = { family = \"bert\", paht = \"m\" }\n");
    expect(&d, "unknown key `paht` in `model` of [experiment]", 3, 28);
    let d = errors("[experiment]\nname = \"t\"\nmodel = \"far-away\"\n");
    expect(&d, "run `cavern models fetch far-away`", 3, 9);
}

#[test]
fn a_head_gives_a_sentence_encoder_class_targets() {
    let sets = format!(
        "[concepts.neg]\n{SIX}\n[concepts.pos]\nexamples = [\"g\", \"h\", \"i\", \"j\", \"k\", \"l\"]\n{}\n",
        pool()
    );
    let tcav = "[[tcav]]\ntarget = { class = \"pos\" }\ninputs = { examples = [\"x\"] }\nconcepts = [\"neg\"]\nlayers = [5]\n";
    let local = "[experiment]\nname = \"t\"\nmodel = { family = \"bert\", path = \"mini\" }\n";
    let files: &[(&str, &[u8])] = &[("mini/config.json", b"{}")];

    let with_head =
        format!("{local}{sets}[head]\nclasses = [\"neg\", \"pos\"]\nholdout = 0.25\n{tcav}");
    let (_dir, path) = write(&with_head, files);
    let experiment = load(&path).expect("valid experiment");
    let head = experiment.head.as_ref().expect("a head");
    assert_eq!(head.classes, ["neg", "pos"]);
    assert_eq!(head.holdout, 0.25);
    assert_eq!(
        experiment.specs::<TcavSpec>()[0].target,
        Target::Class("pos".into())
    );

    // Without a head the encoder has no classes, and the help says how to get them.
    let d = errors_with(&format!("{local}{sets}{tcav}"), files);
    let unknown = expect(&d, "unknown class `pos`", 11, 20);
    assert!(help(unknown).contains("add a [head]"), "{}", help(unknown));

    let d = errors_with(
        &format!("{local}{sets}[head]\nclasses = [\"pos\", \"neu\"]\n"),
        files,
    );
    expect(&d, "unknown concept `neu` in [head]", 11, 19);
    let d = errors_with(
        &format!("{local}{sets}[head]\nclasses = [\"pos\"]\n"),
        files,
    );
    expect(&d, "`classes` in [head] needs at least two classes", 11, 11);
    let d = errors_with(&format!("{local}{sets}[head]\nholdout = 1.5\n"), files);
    expect(&d, "missing required key `classes` in [head]", 10, 1);
    expect(&d, "`holdout` in [head] must be between 0 and 1", 11, 11);

    let decoder = format!(
        "[experiment]\nname = \"d\"\nmodel = \"toy-gpt\"\n{sets}[head]\nclasses = [\"neg\", \"pos\"]\n"
    );
    let d = errors(&decoder);
    let head = expect(
        &d,
        "[head] needs an encoder, but model `toy-gpt` is a decoder",
        10,
        1,
    );
    assert!(help(head).contains("token"));
}

#[test]
fn relative_cavs_need_two_concepts() {
    let toml = format!(
        "{HEAD}[concepts.a]\n{SIX}\n[concepts.b]\n{SIX}\n{}\n\
         [[probe]]\nconcepts = [\"a\"]\nlayers = [0]\nrelative = true\n\
         [[probe]]\nconcepts = [\"a\", \"b\"]\nlayers = [0]\nrelative = true\ndecompose = true\n",
        pool()
    );
    let d = errors(&toml);
    assert_eq!(d.len(), 1, "{d:#?}");
    expect(
        &d,
        "`relative` in [[probe]] needs at least two concepts",
        13,
        12,
    );
    let fixed = toml.replacen(
        "concepts = [\"a\"]\nlayers = [0]\nrelative = true\n",
        "concepts = [\"a\"]\nlayers = [0]\n",
        1,
    );
    let experiment = load_str(&fixed).expect("valid");
    assert!(
        !experiment.specs::<ProbeSpec>()[0].relative
            && !experiment.specs::<ProbeSpec>()[0].decompose
    );
    assert!(
        experiment.specs::<ProbeSpec>()[1].relative && experiment.specs::<ProbeSpec>()[1].decompose
    );
}

#[test]
fn a_probe_sweeps_a_list_of_sites() {
    let body = format!(
        "{HEAD}[concepts.a]\n{SIX}\n{}\n[[probe]]\nconcepts = [\"a\"]\nlayers = [0]\n",
        pool()
    );
    let experiment =
        load_str(&format!("{body}sites = [\"resid_post\", \"attn_out\"]\n")).expect("valid");
    assert_eq!(
        experiment.specs::<ProbeSpec>()[0].sites,
        [SitePoint::ResidPost, SitePoint::AttnOut]
    );
    let d = errors(&format!("{body}sites = [\"resid_post\", \"atn_out\"]\n"));
    assert!(
        help(expect(&d, "unknown site `atn_out`", 11, 24)).contains("did you mean `attn_out`?")
    );
    let d = errors(&format!("{body}sites = [\"mlp_out\", \"mlp_out\"]\n"));
    expect(&d, "site `mlp_out` is listed twice in [[probe]]", 11, 21);
    let d = errors(&format!("{body}site = \"embed\"\nsites = [\"mlp_out\"]\n"));
    expect(&d, "[[probe]] has both `site` and `sites`", 12, 9);
    let d = errors(&format!("{body}sites = []\n"));
    expect(&d, "`sites` in [[probe]] is empty", 11, 9);
}

#[test]
fn unknown_model_lists_known_models() {
    let d = errors("[experiment]\nname = \"t\"\nmodel = \"toy-sentimnt\"\n");
    assert_eq!(
        help(expect(&d, "unknown model `toy-sentimnt`", 3, 9)),
        "did you mean `toy-sentiment`?"
    );
    let d = errors("[experiment]\nname = \"t\"\nmodel = \"bert\"\n");
    assert_eq!(
        help(expect(&d, "unknown model `bert`", 3, 9)),
        "known models: `toy-sentiment`, `toy-gpt`"
    );
}

#[test]
fn template_errors() {
    let d = errors(&format!(
        r#"{HEAD}[concepts.syntax]
template = "the {{{{ noun }}"
[concepts.undefined]
template = "the {{{{ nuon }}}}"
vars = {{ noun = ["a"] }}
[concepts.values]
template = "{{{{ a }}}} {{{{ b }}}}"
vars = {{ a = [], b = ["x", 1] }}
[concepts.huge]
template = "{{{{ a }}}}{{{{ b }}}}{{{{ c }}}}"
vars = {{ a = [{ten}], b = [{ten}], c = [{thousand}] }}
[concepts.render]
template = "{{{{ a | shout }}}}"
vars = {{ a = ["x"] }}
[concepts.blank]
template = "{{{{ a }}}}{{{{ b }}}}"
vars = {{ b = [" ", "y"], a = ["x", " "] }}
"#,
        ten = ["\"x\""; 10].join(","),
        thousand = vec!["\"y\""; 1001].join(","),
    ));
    expect(
        &d,
        "invalid template in [concepts.syntax]: syntax error",
        5,
        12,
    );
    let undefined = expect(
        &d,
        "template in [concepts.undefined] uses undefined variable `nuon`",
        7,
        12,
    );
    assert_eq!(help(undefined), "did you mean `noun`?");
    expect(
        &d,
        "template variable `a` in [concepts.values] must be a non-empty list of strings",
        11,
        14,
    );
    expect(
        &d,
        "template variable `b` in [concepts.values] must be a non-empty list of strings",
        11,
        22,
    );
    expect(
        &d,
        "template in [concepts.huge] expands to more than 100000 examples",
        13,
        12,
    );
    let render = expect(&d, "template in [concepts.render] fails to render", 16, 12);
    assert!(render.message.contains("shout"), "{}", render.message);
    assert_eq!(help(render), "with a = \"x\"");
    // Keys sorted (a, b), b fastest: "x ", "xy", "  ", " y"; the third is blank.
    let blank = expect(
        &d,
        "template in [concepts.blank] renders an empty example",
        19,
        12,
    );
    assert_eq!(help(blank), "with a = \" \", b = \" \"");
}

#[test]
fn choices_and_numeric_bounds() {
    let random = pool();
    let d = errors(&format!(
        "[experiment]\nname = \"bad name\"\nmodel = \"toy-sentiment\"\ndevice = \"cpus\"\nbatch_size = 0\n[concepts.c]\n{SIX}\n{random}\n\
         [[probe]]\nconcepts = [\"c\"]\nlayers = [0]\nsite = \"resid-post\"\npooling = \"max\"\nmethod = \"svm\"\nl2 = -0.1\nmax_iterations = 0\nholdout = 1.0\n\
         [[tcav]]\ntarget = {{ class = \"positive\" }}\ninputs = {{ examples = [\"x\"] }}\nconcepts = [\"c\"]\nlayers = [0]\nalpha = 0\ncorrection = \"holms\"\nrandom_runs = 1\n"
    ));
    let name = expect(&d, "invalid experiment name `bad name`", 2, 8);
    assert!(help(name).contains("1 to 64 characters"));
    assert_eq!(
        help(expect(&d, "unknown device `cpus`", 4, 10)),
        "did you mean `cpu`? expected one of: `cpu`, `gpu`, `cuda`"
    );
    expect(
        &d,
        "`batch_size` in [experiment] must be at least 1, found 0",
        5,
        14,
    );
    let site = expect(&d, "unknown site `resid-post`", 13, 8);
    assert!(help(site).starts_with("did you mean `resid_post`? expected one of: `embed`,"));
    assert_eq!(
        help(expect(&d, "unknown pooling `max`", 14, 11)),
        "expected one of: `mean`, `last`"
    );
    expect(&d, "unknown method `svm`", 15, 10);
    expect(
        &d,
        "`l2` in [[probe]] must be a finite number >= 0, found -0.1",
        16,
        6,
    );
    expect(
        &d,
        "`max_iterations` in [[probe]] must be at least 1, found 0",
        17,
        18,
    );
    expect(
        &d,
        "`holdout` in [[probe]] must be between 0 and 1 (exclusive), found 1",
        18,
        11,
    );
    expect(
        &d,
        "`alpha` in [[tcav]] must be between 0 and 1 (exclusive), found 0",
        24,
        9,
    );
    let correction = expect(&d, "unknown correction `holms`", 25, 14);
    assert!(help(correction).starts_with("did you mean `holm`?"));
    expect(
        &d,
        "`random_runs` in [[tcav]] must be at least 2, found 1",
        26,
        15,
    );
    assert_eq!(d.len(), 12, "{d:#?}");
}

#[test]
fn invalid_names() {
    let long = "n".repeat(65);
    let d = errors(&format!(
        "[experiment]\nname = \"{long}\"\nmodel = \"toy-sentiment\"\n[concepts.\"two words\"]\n{SIX}\n"
    ));
    expect(
        &d,
        "experiment name is 65 characters long; at most 64 are allowed",
        2,
        8,
    );
    expect(&d, "invalid concept name `two words`", 4, 11);
}

#[test]
fn wrong_table_shapes() {
    let d = errors(&format!(
        "{HEAD}[probe]\nconcepts = [\"c\"]\n[concepts]\nc = \"c.txt\"\n"
    ));
    let probe = expect(&d, "`probe` must be an array of tables", 4, 1);
    assert!(help(probe).contains("[[probe]]"));
    expect(&d, "[concepts.c] must be a table, found string", 7, 5);
}

#[test]
fn unreadable_experiment_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.toml");
    let err = load(&path).expect_err("missing");
    let [d] = err.diagnostics.as_slice() else {
        panic!("one diagnostic");
    };
    assert_eq!((d.file.as_path(), d.line, d.column), (path.as_path(), 1, 1));
    assert!(d.message.starts_with("cannot read experiment file"));
}

#[test]
fn all_errors_are_collected_in_file_order() {
    let random = pool();
    let d = errors(&format!(
        "[experiment]\nname = \"t\"\nmodel = \"toy-sentiment\"\nseed = -1\n[concepts.c]\nexamples = [\"a\"]\n{random}\nsets = 1\n[[probe]]\nconcepts = [\"d\"]\nlayers = [9]\n"
    ));
    let positions: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(
        positions,
        [(4, 8), (6, 12), (9, 8), (11, 13), (12, 11)],
        "{d:#?}"
    );
}

#[test]
fn attention_studies_resolve_without_a_random_pool() {
    let toml = "[experiment]\nname = \"d\"\nmodel = \"toy-gpt\"\n\
        [[attention]]\ninputs = { examples = [\"a b\", \"c\"] }\nlayers = \"all\"\n\
        [[attention]]\n\
        inputs = { template = \"capital of {{ c }}\", vars = { c = [\"France\", \"Peru\"] } }\n\
        layers = [3, 1]\naverage_pattern = false\n";
    let experiment = load_str(toml).expect("valid");
    assert!(experiment.random.is_none());
    let attentions = experiment.specs::<AttentionSpec>();
    let [all, some] = attentions[..] else {
        panic!("two attention studies: {attentions:#?}");
    };
    assert_eq!(all.inputs, ["a b", "c"]);
    assert_eq!(all.layers, [0, 1, 2, 3]);
    assert!(all.average_pattern, "average_pattern defaults to true");
    assert_eq!(some.inputs, ["capital of France", "capital of Peru"]);
    assert_eq!(some.layers, [3, 1]);
    assert!(!some.average_pattern);
}

#[test]
fn attention_keys_layers_and_inputs_are_checked() {
    let d = errors(
        r#"[experiment]
name = "t"
model = "toy-sentiment"
[[attention]]
inputs = { exampels = ["a"] }
layer = [0]
[[attention]]
inputs = "missing.txt"
layers = [0, 2]
average_pattern = "yes"
[[attention]]
layers = "all"
"#,
    );
    let inputs = expect(
        &d,
        "unknown key `exampels` in `inputs` of [[attention]]",
        5,
        12,
    );
    assert_eq!(help(inputs), "did you mean `examples`?");
    let layer = expect(&d, "unknown key `layer` in [[attention]]", 6, 1);
    assert_eq!(help(layer), "did you mean `layers`?");
    expect(
        &d,
        "cannot read `missing.txt` (`file` of `inputs` of [[attention]])",
        8,
        10,
    );
    let range = expect(&d, "layer 2 is out of range in [[attention]]", 9, 14);
    assert_eq!(
        help(range),
        "model `toy-sentiment` has 2 layers: valid indices are 0 to 1"
    );
    expect(
        &d,
        "wrong type for `average_pattern` in [[attention]]: expected a boolean",
        10,
        19,
    );
    expect(&d, "missing required key `inputs` in [[attention]]", 11, 1);
    // The misspelt `layer` and the inputs with an unknown key are not reported again.
    assert_eq!(d.len(), 6, "{d:#?}");
}

#[test]
fn attribution_studies_resolve_with_defaults_and_without_a_random_pool() {
    use cavern_experiment::kinds::attribution::{
        AttributionBaseline, AttributionMethod, DEFAULT_METHODS,
    };
    let toml = "[experiment]\nname = \"a\"\nmodel = \"toy-sentiment\"\n\
        [[attribution]]\ntarget = { class = \"positive\" }\ninputs = { examples = [\"a b\", \"c\"] }\n\
        [[attribution]]\ntarget = { class = \"positive\" }\ncontrast = { class = \"negative\" }\n\
        inputs = { examples = [\"x\"] }\nmethods = [\"occlusion\", \"integrated_gradients\"]\n\
        steps = 64\nbaseline = \"zeros\"\nsite = \"resid_pre\"\nlayer = 1\nwindow = 2\n";
    let experiment = load_str(toml).expect("valid");
    assert!(experiment.random.is_none());
    let attributions = experiment.specs::<AttributionSpec>();
    let [plain, full] = attributions[..] else {
        panic!("two attribution studies: {attributions:#?}");
    };
    assert_eq!(plain.target, Target::Class("positive".into()));
    assert_eq!(plain.contrast, None);
    assert_eq!(plain.inputs, ["a b", "c"]);
    assert_eq!(plain.methods, DEFAULT_METHODS);
    assert_eq!(
        (
            plain.steps,
            plain.baseline,
            plain.site,
            plain.layer,
            plain.window
        ),
        (32, AttributionBaseline::Pad, SitePoint::Embed, None, 1)
    );
    assert_eq!(full.contrast, Some(Target::Class("negative".into())));
    assert_eq!(
        full.methods,
        [
            AttributionMethod::Occlusion,
            AttributionMethod::IntegratedGradients
        ]
    );
    assert_eq!(
        (
            full.steps,
            full.baseline,
            full.site,
            full.layer,
            full.window
        ),
        (
            64,
            AttributionBaseline::Zeros,
            SitePoint::ResidPre,
            Some(1),
            2
        )
    );
}

#[test]
fn attribution_keys_are_checked() {
    let d = errors(
        r#"[experiment]
name = "t"
model = "toy-sentiment"
[[attribution]]
target = { class = "positve" }
inputs = { examples = ["a"] }
methods = ["saliency", "deep", "saliency"]
steps = 0
baseline = "mask_token"
window = 0
[[attribution]]
target = { class = "positive" }
contrast = { class = "positive" }
inputs = { examples = ["a"] }
site = "resid_post"
[[attribution]]
target = { class = "positive" }
inputs = { examples = ["a"] }
site = "embed"
layer = 0
[[attribution]]
target = { token = "good" }
inputs = { examples = ["a"] }
site = "mlp_out"
layer = 2
methods = []
[[attribution]]
inputs = { examples = ["a"] }
stepz = 3
site = "pattern"
"#,
    );
    let class = expect(
        &d,
        "unknown class `positve` for model `toy-sentiment`",
        5,
        20,
    );
    assert_eq!(help(class), "did you mean `positive`?");
    let method = expect(&d, "unknown method `deep`", 7, 24);
    assert!(
        help(method).contains("`integrated_gradients`"),
        "{}",
        help(method)
    );
    expect(
        &d,
        "method `saliency` is listed twice in [[attribution]]",
        7,
        32,
    );
    expect(
        &d,
        "`steps` in [[attribution]] must be at least 1, found 0",
        8,
        9,
    );
    let baseline = expect(&d, "unknown baseline `mask_token`", 9, 12);
    assert!(
        help(baseline).contains("`pad`, `zeros`, `unk`, `mask`"),
        "{}",
        help(baseline)
    );
    expect(
        &d,
        "`window` in [[attribution]] must be at least 1, found 0",
        10,
        10,
    );
    let same = expect(
        &d,
        "`contrast` in [[attribution]] is the target itself",
        13,
        12,
    );
    assert!(help(same).contains("is 0"));
    let needs = expect(
        &d,
        "site `resid_post` in [[attribution]] needs a `layer`",
        15,
        8,
    );
    assert!(help(needs).contains("layer = N"));
    expect(
        &d,
        "`layer` does not apply to site `embed` in [[attribution]]",
        20,
        9,
    );
    expect(
        &d,
        "model `toy-sentiment` is an encoder; `token` targets need a decoder",
        22,
        20,
    );
    let range = expect(&d, "layer 2 is out of range in [[attribution]]", 25, 9);
    assert_eq!(
        help(range),
        "model `toy-sentiment` has 2 layers: valid indices are 0 to 1"
    );
    expect(&d, "`methods` in [[attribution]] is empty", 26, 11);
    expect(
        &d,
        "missing required key `target` in [[attribution]]",
        27,
        1,
    );
    let typo = expect(&d, "unknown key `stepz` in [[attribution]]", 29, 1);
    assert_eq!(help(typo), "did you mean `steps`?");
    expect(&d, "unknown site `pattern`", 30, 8);
}
