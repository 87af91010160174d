//! Run-folder output: tables, atomic run folders, manifest and report.

use cavern_experiment::studies::attention::AttentionHead;
use cavern_experiment::studies::attention_flow::FlowCell;
use cavern_experiment::studies::attribution::{AttributionSummary, TokenAttribution};
use cavern_experiment::studies::examples::ExampleSet;
use cavern_experiment::studies::neighbors::{Neighbor, Prototype};
use cavern_experiment::studies::patching::{PatchingRow, PatchingSummary};
use cavern_experiment::studies::probe::ProbeResult;
use cavern_experiment::studies::tcav::{TcavResult, TcavRun};
use cavern_probe::measures::Measures;
use std::error::Error;
use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

use cavern_experiment::manifest::{
    ExperimentInfo, MANIFEST_FILE, Manifest, ModelInfo, Timing, git_revision,
};
use cavern_experiment::report::{REPORT_FILE, ReportInput, render_report, write_report};
use cavern_experiment::run_dir::{RunDir, RunDirError, default_run_path};
use cavern_experiment::table::{Table, TableError};
use polars::prelude::{
    CsvReadOptions, DataFrame, DataType, Field, ParquetReader, Schema, SerReader,
};

type TestResult = Result<(), Box<dyn Error>>;

const FLOATS: [f64; 6] = [0.1, 1.0 / 3.0, 1e-300, -2.5e10, f64::NAN, f64::INFINITY];

fn strings() -> Vec<String> {
    [
        "plain",
        "with,comma",
        "with \"quote\"",
        "ünïcødé",
        "",
        "two\nlines",
    ]
    .map(String::from)
    .to_vec()
}

fn sample_table() -> Result<Table, TableError> {
    Table::new("sample")?
        .with_str("concept", strings())?
        .with_f64("score", FLOATS.to_vec())?
        .with_u64("layer", vec![0, 1, 2, 3, 4, u64::from(u32::MAX) + 7])?
        .with_i64("delta", vec![-3, 0, 3, i64::MIN, i64::MAX, 42])?
        .with_bool("significant", vec![true, false, true, false, false, true])
}

fn read_parquet(path: &Path) -> Result<DataFrame, Box<dyn Error>> {
    Ok(ParquetReader::new(File::open(path)?).finish()?)
}

fn read_csv(path: &Path) -> Result<DataFrame, Box<dyn Error>> {
    let schema = Schema::from_iter([
        Field::new("concept".into(), DataType::String),
        Field::new("score".into(), DataType::Float64),
        Field::new("layer".into(), DataType::UInt64),
        Field::new("delta".into(), DataType::Int64),
        Field::new("significant".into(), DataType::Boolean),
    ]);
    Ok(CsvReadOptions::default()
        .with_schema(Some(Arc::new(schema)))
        .try_into_reader_with_file_path(Some(path.to_owned()))?
        .finish()?)
}

/// Checks names, order and every value; floats compared bit for bit.
fn assert_sample(df: &DataFrame) -> TestResult {
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["concept", "score", "layer", "delta", "significant"]);
    let concepts: Vec<Option<&str>> = df.column("concept")?.str()?.iter().collect();
    let expected = strings();
    assert_eq!(
        concepts,
        expected
            .iter()
            .map(|s| Some(s.as_str()))
            .collect::<Vec<_>>()
    );
    let scores: Vec<u64> = df
        .column("score")?
        .f64()?
        .into_no_null_iter()
        .map(f64::to_bits)
        .collect();
    assert_eq!(scores, FLOATS.map(f64::to_bits));
    let layers: Vec<u64> = df.column("layer")?.u64()?.into_no_null_iter().collect();
    assert_eq!(layers, [0, 1, 2, 3, 4, u64::from(u32::MAX) + 7]);
    let deltas: Vec<i64> = df.column("delta")?.i64()?.into_no_null_iter().collect();
    assert_eq!(deltas, [-3, 0, 3, i64::MIN, i64::MAX, 42]);
    let flags: Vec<Option<bool>> = df.column("significant")?.bool()?.iter().collect();
    assert_eq!(flags, [true, false, true, false, false, true].map(Some));
    Ok(())
}

#[test]
fn table_round_trips_through_parquet_and_csv() -> TestResult {
    let dir = tempfile::tempdir()?;
    sample_table()?.write(dir.path())?;
    assert_sample(&read_parquet(&dir.path().join("sample.parquet"))?)?;
    assert_sample(&read_csv(&dir.path().join("sample.csv"))?)?;
    Ok(())
}

#[test]
fn csv_uses_plain_conventions() -> TestResult {
    let dir = tempfile::tempdir()?;
    Table::new("conv")?
        .with_f64("x", vec![0.1, 1.0, f64::NAN])?
        .with_bool("b", vec![true, false, true])?
        .write(dir.path())?;
    let csv = fs::read_to_string(dir.path().join("conv.csv"))?;
    assert_eq!(csv, "x,b\n0.1,true\n1.0,false\nNaN,true\n");
    Ok(())
}

#[test]
fn double_write_is_byte_identical() -> TestResult {
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    sample_table()?.write(a.path())?;
    sample_table()?.write(b.path())?;
    for file in ["sample.parquet", "sample.csv"] {
        let (x, y) = (
            fs::read(a.path().join(file))?,
            fs::read(b.path().join(file))?,
        );
        assert!(!x.is_empty());
        assert_eq!(x, y, "{file} differs between writes");
    }
    Ok(())
}

#[test]
fn column_length_mismatch_is_an_error() -> TestResult {
    let result = Table::new("bad")?
        .with_u64("a", vec![1, 2, 3])?
        .with_f64("b", vec![1.0]);
    match result {
        Err(TableError::LengthMismatch {
            column,
            expected,
            found,
            ..
        }) => assert_eq!((column.as_str(), expected, found), ("b", 3, 1)),
        other => panic!("expected a length mismatch, got {other:?}"),
    }
    Ok(())
}

#[test]
fn run_dir_commit_renames_into_place() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("runs/colors-01234567");
    let run = RunDir::create(&target)?;
    assert!(run.path().join("tables").is_dir());
    assert!(run.path().join("cavs").is_dir());
    assert!(
        !target.exists(),
        "final folder must not exist before commit"
    );
    fs::write(run.path().join("marker"), "x")?;
    let committed = run.commit()?;
    assert_eq!(committed, target);
    assert_eq!(fs::read_to_string(target.join("marker"))?, "x");
    assert!(target.join("tables").is_dir());
    assert_eq!(fs::read_dir(root.path().join("runs"))?.count(), 1);
    Ok(())
}

#[test]
fn run_dir_dropped_without_commit_leaves_nothing() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("run");
    let run = RunDir::create(&target)?;
    let temp = run.path().to_owned();
    assert!(temp.is_dir());
    assert!(
        temp.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".run.partial-"))
    );
    fs::write(temp.join("tables/t.csv"), "a\n1\n")?;
    drop(run);
    assert!(!temp.exists() && !target.exists());
    assert_eq!(fs::read_dir(root.path())?.count(), 0);
    Ok(())
}

#[test]
fn run_dir_is_removed_when_unwinding_from_a_panic() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("run");
    let outcome = std::panic::catch_unwind(|| {
        let _run = RunDir::create(&target).map_err(|e| e.to_string());
        panic!("simulated failure mid-run");
    });
    assert!(outcome.is_err());
    assert_eq!(fs::read_dir(root.path())?.count(), 0);
    Ok(())
}

#[test]
fn run_dir_refuses_an_existing_target() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("run");
    fs::create_dir(&target)?;
    match RunDir::create(&target) {
        Err(err @ RunDirError::AlreadyExists(_)) => {
            let msg = err.to_string();
            assert!(msg.contains(&target.display().to_string()) && msg.contains("--out"));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(fs::read_dir(root.path())?.count(), 1, "no temp folder left");
    Ok(())
}

#[test]
fn default_run_path_appends_short_hash() {
    let path = default_run_path(Path::new("runs"), "colors", &"ab12cd34ef".repeat(6));
    assert_eq!(path, Path::new("runs/colors-ab12cd34"));
}

fn sample_manifest() -> Manifest {
    Manifest {
        cavern_version: "0.1.0".into(),
        git_revision: git_revision(),
        experiment: ExperimentInfo {
            path: "experiments/colors.toml".into(),
            name: "colors".into(),
            sha256: "ab".repeat(32),
        },
        model: ModelInfo {
            name: "tiny-gpt".into(),
            source: "built-in".into(),
            sha256: "cd".repeat(32),
            head: None,
        },
        backend: "flex (cpu)".into(),
        seed: 7,
        timings: vec![
            Timing {
                step: "activations".into(),
                seconds: 1.25,
            },
            Timing {
                step: "tcav".into(),
                seconds: 0.1,
            },
        ],
        tables: vec!["tcav".into(), "probes".into()],
    }
}

#[test]
fn manifest_round_trips_through_json() -> TestResult {
    let dir = tempfile::tempdir()?;
    let manifest = sample_manifest();
    manifest.write(dir.path())?;
    let text = fs::read_to_string(dir.path().join(MANIFEST_FILE))?;
    assert!(text.ends_with("}\n") && text.contains("\n  \"seed\": 7"));
    let back: Manifest = serde_json::from_str(&text)?;
    assert_eq!(back, manifest);
    Ok(())
}

fn tcav_row(concept: &str, layer: usize, significant: bool) -> TcavResult {
    TcavResult {
        concept: concept.into(),
        target: "positive".into(),
        layer,
        site: "resid_post".into(),
        tcav_mean: 0.8,
        tcav_std: 0.05,
        tcav_ci: (0.78, 0.82),
        random_mean: 0.5,
        random_std: 0.1,
        p_value: 0.001,
        p_adjusted: 0.004,
        significant,
        cav_accuracy: 0.95,
        t_statistic: 4.2,
        df: 30.0,
        random_accuracy: 0.5,
        cap_mean: 1.5,
        runs: 20,
        correction: "bonferroni".into(),
        alpha: 0.05,
        warning: String::new(),
    }
}

fn probe_row(concept: &str, layer: usize, accuracy: f64) -> ProbeResult {
    ProbeResult {
        concept: concept.into(),
        layer,
        site: "resid_post".into(),
        pooling: "mean".into(),
        accuracy_mean: accuracy,
        accuracy_std: 0.02,
        accuracy_ci: (accuracy - 0.01, accuracy + 0.01),
        random_accuracy_mean: 0.5,
        measures: Measures {
            task_accuracy: accuracy,
            control_accuracy: 0.5,
            selectivity: accuracy - 0.5,
            mi_bits: 0.4,
            mi_low_bits: 0.3,
            mi_high_bits: 0.5,
            mdl_compression: 3.0,
            control_mdl_compression: 0.9,
        },
        random_sets: 20,
        n_train: 80,
        n_test: 20,
    }
}

/// An `attention_heads` row of study 0 with the given entropy and previous-token weight.
fn attention_row(layer: usize, head: usize, entropy: f64, previous: f64) -> AttentionHead {
    AttentionHead {
        study: 0,
        layer,
        head,
        n_inputs: 8,
        min_tokens: 5,
        max_tokens: 9,
        entropy_mean: entropy,
        entropy_std: 0.1,
        quality_mean: 1.0 - entropy / 2.0,
        quality_std: 0.1,
        self_mean: 0.2,
        previous_mean: previous,
        first_mean: 0.3,
        special_mean: 0.0,
        average_pattern: "lengths_differ".into(),
    }
}

const EVIL: &str = "<script>alert(1)</script>";

fn render_sample(manifest: &Manifest) -> Result<String, Box<dyn Error>> {
    let input = ReportInput {
        title: format!("colors {EVIL}"),
        experiment_toml: format!("name = \"colors\"\n# {EVIL}\n"),
        manifest,
        tcav: vec![tcav_row(EVIL, 1, true), tcav_row("warm", 2, false)],
        tcav_runs: (0..3)
            .map(|run| TcavRun {
                concept: EVIL.into(),
                target: "positive".into(),
                layer: 1,
                site: "resid_post".into(),
                run,
                tcav_score: 0.7 + 0.1 * run as f64,
                cav_accuracy: 0.9,
            })
            .collect(),
        probes: vec![
            probe_row(EVIL, 0, 0.6),
            probe_row(EVIL, 1, 0.9),
            probe_row("warm", 0, 0.55),
        ],
        example_sets: vec![ExampleSet {
            kind: "concept".into(),
            name: "evil".into(),
            texts: vec![format!("the film was {EVIL} good"), "plain".into()],
        }],
        attention: vec![
            attention_row(0, 0, 0.9, 0.1),
            attention_row(0, 1, 0.25, 0.05),
            attention_row(0, 2, 0.6, 0.875),
            attention_row(1, 0, f64::NAN, f64::NAN),
        ],
        attributions: attribution_rows(),
        attribution_summary: vec![AttributionSummary {
            study: 0,
            input: 0,
            target: "class:positive".into(),
            site: "embed".into(),
            baseline: "pad".into(),
            method: "integrated_gradients".into(),
            steps: 32,
            f_x: 1.5,
            f_baseline: -0.5,
            completeness_gap: 0.004,
            fidelity_r2: f64::NAN,
        }],
        attention_flow: flow_rows(),
        neighbors: vec![Neighbor {
            study: 0,
            input: 0,
            text: format!("input {EVIL}"),
            prediction: "positive".into(),
            rank: 1,
            example: format!("example {EVIL}"),
            label: "praise".into(),
            cosine: 0.875,
            example_prediction: "positive".into(),
        }],
        prototypes: vec![Prototype {
            study: 0,
            kind: "criticism".into(),
            rank: 1,
            example: format!("odd {EVIL}"),
            label: "praise".into(),
            witness: 0.0125,
            prediction: "negative".into(),
        }],
        patching: patching_rows(),
        patching_summary: vec![PatchingSummary {
            study: 0,
            direction: "denoise".into(),
            site: "resid_pre".into(),
            correlation: Some(0.875),
            variants_run: 3,
            variants: 4,
        }],
        pruning_heads: Vec::new(),
        pruning_curve: Vec::new(),
        steering: Default::default(),
    };
    Ok(render_report(&input)?)
}

/// Patching of study 0 at layer 0, positions 0 (`<script>…`) and 1.
fn patching_rows() -> Vec<PatchingRow> {
    [(0, EVIL, 0.25), (1, "=", 1.0)]
        .into_iter()
        .map(|(position, token, recovered)| PatchingRow {
            study: 0,
            direction: "denoise".into(),
            site: "resid_pre".into(),
            layer: 0,
            position: Some(position),
            token: token.into(),
            head: None,
            recovered,
            recovered_std: 0.125,
            attribution: Some(recovered / 2.0),
            pairs: 2,
        })
        .collect()
}

#[test]
fn report_shows_the_patching_grid_with_escaped_tokens() -> TestResult {
    let html = render_sample(&sample_manifest())?;
    let start = html
        .find("<h2>Activation patching</h2>")
        .ok_or("no patching section")?;
    let section = &html[start..];
    assert!(section.contains("Pearson r = 0.875"), "{section}");
    assert!(section.contains("3 of 4 patches run"), "{section}");
    assert!(section.contains("0 &lt;script&gt;"), "{section}");
    assert!(
        section.contains(r#"title="recovered 1.000 ± 0.125; attribution patching 0.500">1.00<"#),
        "{section}"
    );
    Ok(())
}

/// Rollout of one two-token input `<script> good` at layer 0, the first token special: it
/// receives 0.75 of 1 on average, `good` 0.25.
fn flow_rows() -> Vec<FlowCell> {
    let tokens = [EVIL, "good"];
    let values = [[1.0, 0.0], [0.5, 0.5]];
    let mut rows = Vec::new();
    for (from, row) in values.iter().enumerate() {
        for (to, &value) in row.iter().enumerate() {
            rows.push(FlowCell {
                study: 0,
                input: 0,
                text: format!("{EVIL} good"),
                method: "rollout".into(),
                layer: 0,
                from_position: from,
                from_token: tokens[from].into(),
                to_position: to,
                to_token: tokens[to].into(),
                to_special: to == 0,
                value,
            });
        }
    }
    rows
}

#[test]
fn report_shows_flow_and_neighbors_escaped() -> TestResult {
    let html = render_sample(&sample_manifest())?;
    let flow = html
        .split("<h2>Attention rollout and flow</h2>")
        .nth(1)
        .ok_or("no flow section")?;
    assert!(
        flow.contains("Study 0 · rollout through layer 0 · 1 inputs"),
        "{flow}"
    );
    // Scaled by the largest mean among tokens that are not special (0.25): `good` fully blue,
    // and the special token, three times stronger, no more.
    assert!(
        flow.contains(r#"<span class="tok" style="background-color: rgba(33, 102, 172, 0.65)" title="good · mean rollout received: 0.2500">good</span>"#),
        "{flow}"
    );
    assert!(
        flow.contains(r#"<span class="tok special" style="background-color: rgba(33, 102, 172, 0.65)" title="&lt;script&gt;"#),
        "{flow}"
    );
    let neighbors = html
        .split("<h2>Nearest examples, prototypes and criticisms</h2>")
        .nth(1)
        .ok_or("no neighbors section")?;
    assert!(
        neighbors.contains("<td>example &lt;script&gt;alert(1)&lt;&#x2f;script&gt;</td><td>praise</td><td class=\"num\">0.875</td><td>positive</td>"),
        "{neighbors}"
    );
    assert!(
        neighbors.contains("<td>criticism</td><td class=\"num\">1</td><td>odd &lt;script&gt;"),
        "{neighbors}"
    );
    Ok(())
}

/// One input of attribution study 0, `[CLS] not <script> good [SEP]`, by integrated gradients
/// and occlusion.
fn attribution_rows() -> Vec<TokenAttribution> {
    let tokens = ["[CLS]", "not", EVIL, "good", "##ish", "[SEP]"];
    let ig = [0.0, -1.0, 0.25, 2.0, 0.75, 0.0];
    let occlusion = [0.1, -0.5, 0.0, 1.0, 0.2, 0.0];
    let mut rows = Vec::new();
    for (method, values) in [("integrated_gradients", ig), ("occlusion", occlusion)] {
        for (position, (token, attribution)) in tokens.iter().zip(values).enumerate() {
            rows.push(TokenAttribution {
                study: 0,
                input: 0,
                text: format!("not {EVIL} goodish"),
                target: "class:positive".into(),
                position,
                token: token.to_string(),
                is_special: position == 0 || position == 5,
                method: method.into(),
                attribution,
            });
        }
    }
    rows
}

#[test]
fn report_colours_tokens_by_their_integrated_gradients() -> TestResult {
    let html = render_sample(&sample_manifest())?;
    let section = html
        .split("<h2>Token attributions</h2>")
        .nth(1)
        .ok_or("no attribution section")?;
    // Scaled by the largest |attribution| (2.0): `good` fully blue, `not` half red, and the
    // WordPiece continuation joined to its word.
    assert!(
        section.contains(r#"style="background-color: rgba(33, 102, 172, 0.65)" title="good · integrated_gradients: +2.0000">good</span><span"#),
        "{section}"
    );
    assert!(
        section.contains(r#"style="background-color: rgba(178, 24, 43, 0.33)" title="not · integrated_gradients: -1.0000">not</span>"#),
        "{section}"
    );
    assert!(section.contains(">ish</span>"), "{section}");
    assert!(
        section.contains(r#"<span class="tok special""#),
        "{section}"
    );
    assert!(section.contains("&lt;script&gt;"), "{section}");
    assert!(
        section.contains("largest completeness gap 0.20%"),
        "{section}"
    );
    // The largest token of each method, special tokens aside.
    assert!(section.contains("<td>good <span class=\"dim\">2.000</span></td><td>good <span class=\"dim\">1.000</span></td>"), "{section}");
    Ok(())
}

#[test]
fn report_escapes_user_text_everywhere() -> TestResult {
    let html = render_sample(&sample_manifest())?;
    assert!(html.contains("&lt;script&gt;"));
    assert!(
        html.contains("<q>the film was &lt;script&gt;alert(1)&lt;&#x2f;script&gt; good</q>"),
        "{html}"
    );
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    Ok(())
}

#[test]
fn report_is_self_contained_with_charts() -> TestResult {
    let html = render_sample(&sample_manifest())?;
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "one TCAV and one probe chart"
    );
    assert!(html.contains("TCAV score") && html.contains("stroke-dasharray"));
    assert!(html.contains(">*</text>"), "significant bar is starred");
    assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("src="));
    for section in [
        "Experiment file",
        "TCAV",
        "Probes",
        "Timings",
        "activations",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    Ok(())
}

#[test]
fn report_names_the_sharpest_and_the_previous_token_head_per_layer() -> TestResult {
    let html = render_sample(&sample_manifest())?;
    let section = html
        .split("<h2>Attention</h2>")
        .nth(1)
        .ok_or("no attention section")?;
    assert!(
        section.contains("Study 0 · 8 inputs of 5 to 9 tokens"),
        "{section}"
    );
    assert!(
        section.contains("the inputs have 5 to 9 tokens"),
        "{section}"
    );
    // Layer 0: head 1 is the sharpest (entropy 0.25, Q 0.875), head 2 the previous-token head.
    let layer0 = concat!(
        r#"<tr><td class="num">0</td><td class="num">3</td><td class="num">1</td>"#,
        r#"<td class="num">0.250</td><td class="num">0.875</td>"#,
        r#"<td class="num">2</td><td class="num">0.875</td>"#,
    );
    assert!(section.contains(layer0), "{section}");
    // Layer 1 has no defined entropy or previous-token weight (one-token inputs only).
    let layer1 = r#"<tr><td class="num">1</td><td class="num">1</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>"#;
    assert!(section.contains(layer1), "{section}");
    Ok(())
}

#[test]
fn report_without_tcav_rows_has_no_tcav_chart() -> TestResult {
    let manifest = sample_manifest();
    let input = ReportInput {
        title: "empty".into(),
        experiment_toml: String::new(),
        manifest: &manifest,
        tcav: Vec::new(),
        tcav_runs: Vec::new(),
        probes: Vec::new(),
        example_sets: Vec::new(),
        attention: Vec::new(),
        attributions: Vec::new(),
        attribution_summary: Vec::new(),
        patching: Vec::new(),
        patching_summary: Vec::new(),
        pruning_heads: Vec::new(),
        pruning_curve: Vec::new(),
        attention_flow: Vec::new(),
        neighbors: Vec::new(),
        prototypes: Vec::new(),
        steering: Default::default(),
    };
    let dir = tempfile::tempdir()?;
    write_report(dir.path(), &input)?;
    let html = fs::read_to_string(dir.path().join(REPORT_FILE))?;
    assert!(!html.contains("<svg") && html.contains("No TCAV results"));
    Ok(())
}
