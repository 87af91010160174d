//! The self-contained HTML report, `report.html`.
//!
//! Rendered with minijinja from `templates/report.html.j2` with HTML
//! auto-escaping always on. Charts are inline SVG built here; every piece of
//! text placed in them goes through [`escape_html`] before the SVG is handed
//! to the template as safe markup. The page has inline CSS only: no scripts
//! and no external resources.

mod interventions;

use crate::manifest::Manifest;
use crate::studies::SteeringResults;
use crate::studies::attention::AttentionHead;
use crate::studies::attention_flow::FlowCell;
use crate::studies::attribution::{AttributionSummary, TokenAttribution};
use crate::studies::examples::ExampleSet;
use crate::studies::neighbors::{Neighbor, Prototype};
use crate::studies::patching::{PatchingRow, PatchingSummary};
use crate::studies::probe::ProbeResult;
use crate::studies::pruning::{CurveRow, PrunedHead};
use crate::studies::tcav::{RANDOM, TcavResult, TcavRun};
use crate::svg::*;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use std::path::{Path, PathBuf};

/// Examples of each set shown in the report.
const SHOWN_EXAMPLES: usize = 4;

/// File name of the report inside a run folder.
pub const REPORT_FILE: &str = "report.html";

const TEMPLATE: &str = include_str!("../templates/report.html.j2");

/// Why the report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Rendering the template failed.
    #[error("cannot render the report: {0}")]
    Render(#[from] minijinja::Error),
    /// Writing the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// Page title, usually the experiment name.
    pub title: String,
    /// The experiment file's text, shown verbatim.
    pub experiment_toml: String,
    /// The run manifest (header facts and timings).
    pub manifest: &'a Manifest,
    /// TCAV results; one chart per (target, site).
    pub tcav: Vec<TcavResult>,
    /// Every CAV's TCAV score, drawn as dots over the bars (the random-run distribution).
    pub tcav_runs: Vec<TcavRun>,
    /// Probe results; one chart per site.
    pub probes: Vec<ProbeResult>,
    /// Attention statistics per (study, layer, head); summarised per layer.
    pub attention: Vec<AttentionHead>,
    /// The texts the run used (shown by size and first examples).
    pub example_sets: Vec<ExampleSet>,
    /// Token attributions (the `attributions` table); the first inputs of each study are
    /// shown as coloured text.
    pub attributions: Vec<TokenAttribution>,
    /// Integrated gradients' end points and completeness gaps (`attribution_summary`).
    pub attribution_summary: Vec<AttributionSummary>,
    /// Activation patching per (study, direction, site, layer, position/head) (`patching`).
    pub patching: Vec<PatchingRow>,
    /// Attribution patching's agreement per (study, direction, site) (`patching_summary`).
    pub patching_summary: Vec<PatchingSummary>,
    /// Every head removed alone (`pruning_heads`).
    pub pruning_heads: Vec<PrunedHead>,
    /// The pruning curves (`pruning_curve`).
    pub pruning_curve: Vec<CurveRow>,
    /// Attention rollout and flow (`attention_flow`); the first inputs of each study are shown.
    pub attention_flow: Vec<FlowCell>,
    /// Nearest reference examples (`neighbors`); the first inputs of each study are shown.
    pub neighbors: Vec<Neighbor>,
    /// Prototypes and criticisms of the reference sets (`prototypes`).
    pub prototypes: Vec<Prototype>,
    /// Steering, erasure and counterfactual results.
    pub steering: SteeringResults,
}

/// Renders the report and writes it to `dir/report.html`.
pub fn write_report(dir: &Path, input: &ReportInput) -> Result<(), ReportError> {
    let html = render_report(input)?;
    let path = dir.join(REPORT_FILE);
    std::fs::write(&path, html).map_err(|source| ReportError::Io { path, source })
}

/// Renders the report to an HTML string.
pub fn render_report(input: &ReportInput) -> Result<String, ReportError> {
    let env = environment()?;
    let tcav_charts: Vec<Value> = group_by(&input.tcav, |r| (r.target.clone(), r.site.clone()))
        .into_iter()
        .map(|((target, site), rows)| {
            let svg = Value::from_safe_string(tcav_chart(&target, &site, &rows, &input.tcav_runs));
            context! { target, site, svg }
        })
        .collect();
    let probe_charts: Vec<Value> = group_by(&input.probes, |r| r.site.clone())
        .into_iter()
        .map(|(site, rows)| {
            let svg = Value::from_safe_string(probe_chart(&site, &rows));
            context! { site, svg }
        })
        .collect();
    let total_seconds: f64 = input.manifest.timings.iter().map(|t| t.seconds).sum();
    let html = env.get_template(REPORT_FILE)?.render(context! {
        title => input.title,
        experiment_toml => input.experiment_toml,
        manifest => input.manifest,
        tcav => input.tcav,
        tcav_charts,
        probes => input.probes,
        example_sets => input.example_sets,
        shown_examples => SHOWN_EXAMPLES,
        probe_charts,
        attention_studies => attention_summary(&input.attention),
        attribution_studies => attribution_views(&input.attributions, &input.attribution_summary),
        attribution_legend => Value::from_safe_string(attribution_legend()),
        patching_views => interventions::patching_views(&input.patching, &input.patching_summary),
        pruning_views => interventions::pruning_views(&input.pruning_heads, &input.pruning_curve),
        flow_studies => flow_views(&input.attention_flow),
        neighbors_studies => neighbors_views(&input.neighbors, &input.prototypes),
        total_seconds,
        edits => crate::steering_report::steering_views(&input.steering),
    })?;
    Ok(html)
}

/// Per attention study: how its average pattern went, and per layer the head with the lowest
/// mean entropy and the heads that attend most to the previous and to the first token.
fn attention_summary(rows: &[AttentionHead]) -> Vec<Value> {
    group_by(rows, |r| r.study)
        .into_iter()
        .map(|(study, heads)| {
            let first = heads[0];
            let pattern = match first.average_pattern.as_str() {
                "written" => format!(
                    "written to tables/attention_pattern ({} tokens per input)",
                    first.max_tokens
                ),
                "lengths_differ" => format!(
                    "not written, since the inputs have {} to {} tokens and an average needs \
                     equal lengths",
                    first.min_tokens, first.max_tokens
                ),
                "too_long" => format!(
                    "not written, since the inputs have {} tokens, more than {}",
                    first.max_tokens,
                    crate::schema::MAX_PATTERN_TOKENS
                ),
                _ => "not asked for (average_pattern = false)".to_owned(),
            };
            let layers: Vec<Value> = group_by(heads.iter().copied(), |r| r.layer)
                .into_iter()
                .map(|(layer, heads)| {
                    let best = |score: fn(&AttentionHead) -> f64| {
                        let finite = heads.iter().filter(|h| score(h).is_finite());
                        finite
                            .max_by(|a, b| score(a).total_cmp(&score(b)))
                            .map(|h| context! { head => h.head, value => score(h) })
                    };
                    let sharpest = heads
                        .iter()
                        .filter(|h| h.entropy_mean.is_finite())
                        .min_by(|a, b| a.entropy_mean.total_cmp(&b.entropy_mean))
                        .map(|h| {
                            let (entropy, quality) = (h.entropy_mean, h.quality_mean);
                            context! { head => h.head, entropy, quality }
                        });
                    context! {
                        layer,
                        heads => heads.len(),
                        sharpest,
                        previous => best(|h| h.previous_mean),
                        first => best(|h| h.first_mean),
                    }
                })
                .collect();
            context! {
                study,
                n_inputs => first.n_inputs,
                min_tokens => first.min_tokens,
                max_tokens => first.max_tokens,
                pattern,
                layers,
            }
        })
        .collect()
}

/// Inputs of each attribution study shown as coloured text.
const SHOWN_ATTRIBUTION_INPUTS: usize = 10;
/// The method that colours the text, in order of preference.
const COLOURING_METHODS: [&str; 4] = [
    "integrated_gradients",
    "occlusion",
    "gradient_x_input",
    "saliency",
];
/// Background of tokens that raise f, and of those that lower it (RGB).
const RAISE_RGB: (u8, u8, u8) = (33, 102, 172);
const LOWER_RGB: (u8, u8, u8) = (178, 24, 43);
/// Opacity of the strongest token's background.
const MAX_ALPHA: f64 = 0.65;

/// The background of a token whose attribution is `share` of the input's largest |attribution|
/// (in [-1, 1]): blue when it raises f, red when it lowers it, more opaque the larger it is.
fn attribution_colour(share: f64) -> String {
    let share = if share.is_finite() {
        share.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (r, g, b) = if share >= 0.0 { RAISE_RGB } else { LOWER_RGB };
    format!("rgba({r}, {g}, {b}, {:.2})", share.abs() * MAX_ALPHA)
}

/// The colour scale under the attribution texts: from the largest lowering to the largest
/// raising attribution of an input.
fn attribution_legend() -> String {
    let swatch = |share: f64, label: &str| {
        format!(
            r#"<span class="tok" style="background-color: {}">{}</span>"#,
            attribution_colour(share),
            escape_html(label)
        )
    };
    [
        swatch(-1.0, "lowers f most"),
        swatch(-0.5, "−½"),
        swatch(0.0, "0"),
        swatch(0.5, "+½"),
        swatch(1.0, "raises f most"),
    ]
    .join(" ")
}

/// How tokens are joined into readable text: WordPiece continuations (`##ing`) and single
/// punctuation marks attach to the previous token; byte-level BPE tokens carry their own
/// leading space; other tokens (words, `[CLS]`) are separated by a space.
fn token_pieces(tokens: &[&str]) -> Vec<(String, String)> {
    let bpe = tokens.iter().any(|t| t.starts_with(' '));
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            if bpe {
                return (String::new(), token.to_string());
            }
            let punctuation = token.len() == 1 && token.chars().all(|c| c.is_ascii_punctuation());
            match token.strip_prefix("##") {
                Some(rest) if !rest.is_empty() => (String::new(), rest.to_string()),
                _ if i == 0 || punctuation => (String::new(), token.to_string()),
                _ => (" ".to_string(), token.to_string()),
            }
        })
        .collect()
}

/// Per attribution study: its first inputs as coloured tokens (by the preferred method the
/// study ran), the largest token of every method, and integrated gradients' completeness.
fn attribution_views(tokens: &[TokenAttribution], summary: &[AttributionSummary]) -> Vec<Value> {
    group_by(tokens, |r| r.study)
        .into_iter()
        .map(|(study, rows)| {
            let methods: Vec<String> = group_by(rows.iter().copied(), |r| r.method.clone())
                .into_iter()
                .map(|(m, _)| m)
                .collect();
            let colouring = COLOURING_METHODS
                .iter()
                .find(|m| methods.iter().any(|x| x == *m))
                .map_or_else(|| methods[0].clone(), |m| m.to_string());
            let inputs = group_by(rows.iter().copied(), |r| r.input);
            let n_inputs = inputs.len();
            let of_method = |method: &str| -> Vec<&AttributionSummary> {
                let rows = summary.iter().filter(|s| s.study == study);
                rows.filter(|s| s.method == method).collect()
            };
            let gaps = of_method("integrated_gradients");
            let fits = of_method("lime");
            let shown: Vec<Value> = inputs
                .into_iter()
                .take(SHOWN_ATTRIBUTION_INPUTS)
                .map(|(input, rows)| {
                    attribution_input(input, &rows, &methods, &colouring, &gaps, &fits)
                })
                .collect();
            let worst_gap = gaps
                .iter()
                .map(|s| relative_gap(s))
                .filter(|g| g.is_finite())
                .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))));
            let first = rows[0];
            let ig = gaps.first().map(|s| {
                context! {
                    site => s.site,
                    baseline => s.baseline,
                    steps => s.steps,
                    worst_gap,
                }
            });
            let lime = fits.first().map(|s| {
                let r2: Vec<f64> = fits.iter().map(|s| s.fidelity_r2).collect();
                context! {
                    samples => s.steps,
                    mean_r2 => cavern_stats::mean(&r2),
                    lowest_r2 => r2.iter().copied().fold(f64::INFINITY, f64::min),
                }
            });
            context! {
                study,
                target => first.target,
                n_inputs,
                methods,
                colouring,
                ig,
                lime,
                inputs => shown,
            }
        })
        .collect()
}

/// |completeness gap| / |f(x) − f(baseline)|.
fn relative_gap(s: &AttributionSummary) -> f64 {
    s.completeness_gap.abs() / (s.f_x - s.f_baseline).abs()
}

/// One shown input: its tokens coloured by `colouring`, and per method the token with the
/// largest |attribution| (special tokens aside).
fn attribution_input(
    input: usize,
    rows: &[&TokenAttribution],
    methods: &[String],
    colouring: &str,
    gaps: &[&AttributionSummary],
    fits: &[&AttributionSummary],
) -> Value {
    let of = |method: &str| -> Vec<&TokenAttribution> {
        let mut v: Vec<&TokenAttribution> = rows
            .iter()
            .copied()
            .filter(|r| r.method == method)
            .collect();
        v.sort_by_key(|r| r.position);
        v
    };
    let coloured = of(colouring);
    let scale = coloured
        .iter()
        .map(|r| r.attribution.abs())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let texts: Vec<&str> = coloured.iter().map(|r| r.token.as_str()).collect();
    let token_views: Vec<Value> = coloured
        .iter()
        .zip(token_pieces(&texts))
        .map(|(r, (space, text))| {
            let share = if scale > 0.0 {
                r.attribution / scale
            } else {
                0.0
            };
            let special = if r.is_special { ", special token" } else { "" };
            context! {
                space,
                text,
                special => r.is_special,
                color => attribution_colour(share),
                title => format!("{} · {}: {:+.4}{special}", r.token, colouring, r.attribution),
            }
        })
        .collect();
    let top: Vec<Value> = methods
        .iter()
        .map(|method| {
            let best = of(method)
                .into_iter()
                .filter(|r| !r.is_special && r.attribution.is_finite())
                .max_by(|a, b| a.attribution.abs().total_cmp(&b.attribution.abs()));
            match best {
                Some(r) => context! { token => r.token, value => r.attribution },
                None => context! { token => "-", value => f64::NAN },
            }
        })
        .collect();
    let ig = gaps.iter().find(|s| s.input == input).map(|s| {
        context! {
            f_x => s.f_x,
            f_baseline => s.f_baseline,
            gap => s.completeness_gap,
            relative_gap => relative_gap(s),
        }
    });
    let lime_r2 = fits
        .iter()
        .find(|s| s.input == input)
        .map(|s| s.fidelity_r2);
    context! {
        input,
        text => rows[0].text,
        tokens => token_views,
        top,
        ig,
        lime_r2,
    }
}

/// Inputs of each attention study shown with their rollout and flow.
const SHOWN_FLOW_INPUTS: usize = 10;

/// Per (attention study, method): at the study's top layer, each shown input's tokens coloured
/// by the mean over output positions of the value they receive (for a mean-pooled classifier,
/// the share of the pooled output that comes from the token), relative to the input's largest
/// among tokens that are not special (`[CLS]` and `[SEP]` collect most of it in BERT models).
fn flow_views(cells: &[FlowCell]) -> Vec<Value> {
    group_by(cells, |c| (c.study, c.method.clone()))
        .into_iter()
        .map(|((study, method), rows)| {
            let layer = rows.iter().map(|c| c.layer).max().unwrap_or(0);
            let inputs = group_by(rows.into_iter().filter(|c| c.layer == layer), |c| c.input);
            let n_inputs = inputs.len();
            let shown: Vec<Value> = inputs
                .into_iter()
                .take(SHOWN_FLOW_INPUTS)
                .map(|(input, rows)| flow_input(input, &rows, &method))
                .collect();
            context! { study, method, layer, n_inputs, inputs => shown }
        })
        .collect()
}

/// One input's tokens coloured by the mean value they receive over output positions.
fn flow_input(input: usize, rows: &[&FlowCell], method: &str) -> Value {
    let n = rows.iter().map(|c| c.to_position + 1).max().unwrap_or(0);
    let mut tokens = vec![String::new(); n];
    let mut special = vec![false; n];
    let mut received = vec![0.0f64; n];
    for c in rows {
        tokens[c.to_position] = c.to_token.clone();
        special[c.to_position] = c.to_special;
        received[c.to_position] += c.value / n as f64;
    }
    let scale = received
        .iter()
        .zip(&special)
        .filter(|(_, s)| !**s)
        .fold(0.0f64, |m, (v, _)| m.max(*v));
    let texts: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let token_views: Vec<Value> = received
        .iter()
        .zip(tokens.iter().zip(&special))
        .zip(token_pieces(&texts))
        .map(|((&value, (token, &special)), (space, text))| {
            let share = if scale > 0.0 { value / scale } else { 0.0 };
            context! {
                space,
                text,
                special,
                color => attribution_colour(share),
                title => format!("{token} · mean {method} received: {value:.4}"),
            }
        })
        .collect();
    context! { input, text => rows[0].text, tokens => token_views }
}

/// Inputs of each neighbors study shown with their nearest examples.
const SHOWN_NEIGHBOR_INPUTS: usize = 10;

/// Per neighbors study: the first inputs with their nearest reference examples, and the
/// prototypes and criticisms of the reference set.
fn neighbors_views(neighbors: &[Neighbor], prototypes: &[Prototype]) -> Vec<Value> {
    let studies = group_by(neighbors, |n| n.study);
    studies
        .into_iter()
        .map(|(study, rows)| {
            let inputs = group_by(rows, |n| n.input);
            let n_inputs = inputs.len();
            let shown: Vec<Value> = inputs
                .into_iter()
                .take(SHOWN_NEIGHBOR_INPUTS)
                .map(|(input, rows)| {
                    context! {
                        input,
                        text => rows[0].text,
                        prediction => rows[0].prediction,
                        neighbors => rows,
                    }
                })
                .collect();
            let of_kind = |kind: &str| -> Vec<&Prototype> {
                let rows = prototypes.iter().filter(|p| p.study == study);
                rows.filter(|p| p.kind == kind).collect()
            };
            context! {
                study,
                n_inputs,
                inputs => shown,
                prototypes => of_kind("prototype"),
                criticisms => of_kind("criticism"),
            }
        })
        .collect()
}

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("fixed", fixed);
    env.add_filter("pvalue", pvalue);
    env.add_filter("fixed_or_dash", fixed_or_dash);
    env.add_template(REPORT_FILE, TEMPLATE)?;
    Ok(env)
}

/// Template filter: `value` with `digits` decimals (`NaN` stays `NaN`).
fn fixed(value: f64, digits: usize) -> String {
    format!("{value:.digits$}")
}

/// Template filter: like `fixed`, but `–` for NaN (a value that does not exist).
fn fixed_or_dash(value: f64, digits: usize) -> String {
    if value.is_nan() {
        "–".to_owned()
    } else {
        fixed(value, digits)
    }
}

/// Template filter: a p-value, in scientific notation below 0.001.
fn pvalue(value: f64) -> String {
    if value > 0.0 && value < 1e-3 {
        format!("{value:.1e}")
    } else {
        format!("{value:.3}")
    }
}

/// Groups rows by key, keeping the order in which keys first appear.
fn group_by<T, K: PartialEq>(
    rows: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, Vec<T>)> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for row in rows {
        let k = key(&row);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(row),
            None => groups.push((k, vec![row])),
        }
    }
    groups
}

const GROUP_WIDTH: f64 = 84.0;
const BAR_GAP: f64 = 6.0;
const TCAV_LABEL_SPACE: f64 = 120.0;
const TCAV_LABEL_CHARS: usize = 20;
/// Approximate width of one character of 11px label text.
const CHAR_WIDTH: f64 = 6.8;
/// Counter-clockwise rotation of TCAV group labels, in degrees.
const LABEL_ANGLE: f64 = 40.0;
const LAYER_STEP: f64 = 90.0;
const X_AXIS_SPACE: f64 = 44.0;
const TCAV_COLOR: &str = "#4e79a7";
const RANDOM_COLOR: &str = "#bab0ac";
const BASELINE_COLOR: &str = "#6b6b6b";

/// Bar chart of TCAV scores for one (target, site): per concept×layer group a
/// score bar and a grey random-baseline bar, each with its runs' scores as dots,
/// `*` over significant scores.
fn tcav_chart(target: &str, site: &str, rows: &[&TcavResult], runs: &[TcavRun]) -> String {
    let plot = Plot::new(tcav_left_margin(rows), rows.len() as f64 * GROUP_WIDTH);
    let legend_items = [
        (
            Some(TCAV_COLOR),
            "concept TCAV score (mean ± std)".to_owned(),
        ),
        (
            Some(RANDOM_COLOR),
            "random baseline (mean ± std)".to_owned(),
        ),
        (None, "• one CAV's score (one random set)".to_owned()),
        (None, significance_note(rows)),
    ];
    let legend_top = plot.bottom() + TCAV_LABEL_SPACE;
    let width = plot.right() + MARGIN_RIGHT;
    let axis_title = format!(
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">concept · layer</text>"#,
        x = plot.left + plot.width / 2.0,
        y = legend_top - 14.0,
    );
    let height = legend_top + legend_height(legend_items.len());
    let mut s = svg_open(
        width,
        height,
        &format!("TCAV scores for target {target} at site {site}"),
    );
    s.push_str(&unit_y_axis(&plot, "TCAV score"));
    s.push_str(&axis_title);
    for (i, row) in rows.iter().enumerate() {
        s.push_str(&tcav_group(
            &plot,
            plot.left + i as f64 * GROUP_WIDTH,
            row,
            runs,
        ));
    }
    s.push_str(&legend(plot.left, legend_top + 12.0, &legend_items));
    s.push_str("</svg>");
    s
}

/// The legend line for `*`: the significance level and correction of these rows' study.
fn significance_note(rows: &[&TcavResult]) -> String {
    match rows.first() {
        Some(row) => format!(
            "* significant: adjusted p < {} ({})",
            row.alpha, row.correction
        ),
        None => "* significant".to_owned(),
    }
}

/// The x-axis label of a concept×layer group.
fn tcav_label(row: &TcavResult) -> String {
    format!(
        "{} · L{}",
        truncate(&row.concept, TCAV_LABEL_CHARS),
        row.layer
    )
}

/// Left margin wide enough that no rotated group label leaves the chart.
fn tcav_left_margin(rows: &[&TcavResult]) -> f64 {
    let cos = LABEL_ANGLE.to_radians().cos();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let reach = tcav_label(row).chars().count() as f64 * CHAR_WIDTH * cos;
            reach - (i as f64 + 0.5) * GROUP_WIDTH + 4.0
        })
        .fold(MARGIN_LEFT, f64::max)
}

/// One concept×layer group of [`tcav_chart`], starting at pixel `x`.
fn tcav_group(plot: &Plot, x: f64, row: &TcavResult, runs: &[TcavRun]) -> String {
    let score_x = x + (GROUP_WIDTH - 2.0 * BAR_WIDTH - BAR_GAP) / 2.0;
    let center = x + GROUP_WIDTH / 2.0;
    let details = format!(
        "{} · layer {}: TCAV {:.3} ± {:.3}, random {:.3} ± {:.3}, adjusted p {}",
        row.concept,
        row.layer,
        row.tcav_mean,
        row.tcav_std,
        row.random_mean,
        row.random_std,
        pvalue(row.p_adjusted),
    );
    let mut s = format!("<g><title>{}</title>", escape_html(&details));
    s.push_str(&bar(plot, score_x, row.tcav_mean, row.tcav_std, TCAV_COLOR));
    s.push_str(&bar(
        plot,
        score_x + BAR_WIDTH + BAR_GAP,
        row.random_mean,
        row.random_std,
        RANDOM_COLOR,
    ));
    let same_cell =
        |run: &&TcavRun| run.target == row.target && run.site == row.site && run.layer == row.layer;
    let concept_runs = runs
        .iter()
        .filter(same_cell)
        .filter(|r| r.concept == row.concept);
    let random_runs = runs
        .iter()
        .filter(same_cell)
        .filter(|r| r.concept == RANDOM);
    s.push_str(&run_dots(plot, score_x + BAR_WIDTH / 2.0, concept_runs));
    s.push_str(&run_dots(
        plot,
        score_x + 1.5 * BAR_WIDTH + BAR_GAP,
        random_runs,
    ));
    if row.significant {
        s.push_str(&significance_star(plot, score_x + BAR_WIDTH / 2.0));
    }
    let label = tcav_label(row);
    s.push_str(&format!(
        r#"<text transform="translate({center:.1} {y:.1}) rotate(-{LABEL_ANGLE})" text-anchor="end">{}</text></g>"#,
        escape_html(&label),
        y = plot.bottom() + 14.0,
    ));
    s
}

/// Each run's score as a small dot around `center`, spread sideways by run index so that
/// equal scores stay visible.
fn run_dots<'a>(plot: &Plot, center: f64, runs: impl Iterator<Item = &'a TcavRun>) -> String {
    runs.filter(|r| r.tcav_score.is_finite())
        .map(|r| {
            let spread = ((r.run * 7) % 11) as f64 / 10.0 - 0.5;
            format!(
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="2" fill="#111" fill-opacity="0.35" stroke="#fff" stroke-width="0.5"/>"##,
                x = center + spread * BAR_WIDTH * 0.7,
                y = plot.y(r.tcav_score),
            )
        })
        .collect()
}

/// The `*` drawn above the plot area over a significant score, clear of its dots.
fn significance_star(plot: &Plot, x: f64) -> String {
    format!(
        r#"<text class="star" x="{x:.1}" y="{y:.1}" text-anchor="middle">*</text>"#,
        y = plot.top - 4.0,
    )
}

/// Line chart of probe accuracy against layer for one site, one line per concept.
fn probe_chart(site: &str, rows: &[&ProbeResult]) -> String {
    let mut layers: Vec<usize> = rows.iter().map(|r| r.layer).collect();
    layers.sort_unstable();
    layers.dedup();
    let plot = Plot::new(MARGIN_LEFT, layers.len() as f64 * LAYER_STEP);
    let step = plot.width / layers.len().max(1) as f64;
    let x_of = |layer: usize| {
        let index = layers.binary_search(&layer).unwrap_or_default();
        plot.left + (index as f64 + 0.5) * step
    };
    let concepts = group_by(rows.iter().copied(), |r| r.concept.clone());
    let legend_top = plot.bottom() + X_AXIS_SPACE;
    let mut s = svg_open(
        plot.right() + MARGIN_RIGHT,
        legend_top + legend_height(concepts.len() + 1),
        &format!("Probe accuracy by layer at site {site}"),
    );
    s.push_str(&unit_y_axis(&plot, "probe accuracy"));
    s.push_str(&layer_axis(&plot, &layers, x_of));
    s.push_str(&baseline_line(&plot, rows, &x_of));
    let mut legend_items = vec![(Some(BASELINE_COLOR), "random vs random (dotted)".to_owned())];
    for (i, (concept, points)) in concepts.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        s.push_str(&probe_line(&plot, points, color, x_of));
        legend_items.push((Some(color), concept.clone()));
    }
    s.push_str(&legend(plot.left, legend_top + 12.0, &legend_items));
    s.push_str("</svg>");
    s
}

/// The random-vs-random accuracy at each layer as a dashed grey line.
fn baseline_line(plot: &Plot, rows: &[&ProbeResult], x_of: &impl Fn(usize) -> f64) -> String {
    let mut points: Vec<(usize, f64)> = rows
        .iter()
        .filter(|r| r.random_accuracy_mean.is_finite())
        .map(|r| (r.layer, r.random_accuracy_mean))
        .collect();
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    let coords: Vec<String> = points
        .iter()
        .map(|&(layer, y)| format!("{:.1},{:.1}", x_of(layer), plot.y(y)))
        .collect();
    format!(
        r#"<polyline points="{}" fill="none" stroke="{BASELINE_COLOR}" stroke-width="2.5" stroke-dasharray="1 4" stroke-linecap="round"/>"#,
        coords.join(" ")
    )
}

/// Layer tick labels under the x axis and the axis title.
fn layer_axis(plot: &Plot, layers: &[usize], x_of: impl Fn(usize) -> f64) -> String {
    let mut s = String::new();
    for &layer in layers {
        s.push_str(&format!(
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{layer}</text>"#,
            x = x_of(layer),
            y = plot.bottom() + 16.0,
        ));
    }
    s.push_str(&format!(
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">layer</text>"#,
        x = plot.left + plot.width / 2.0,
        y = plot.bottom() + 34.0,
    ));
    s
}

/// One concept's accuracies joined in layer order, with a marker per point.
fn probe_line(
    plot: &Plot,
    points: &[&ProbeResult],
    color: &str,
    x_of: impl Fn(usize) -> f64,
) -> String {
    let mut sorted: Vec<&ProbeResult> = points
        .iter()
        .copied()
        .filter(|p| p.accuracy_mean.is_finite())
        .collect();
    sorted.sort_by_key(|p| p.layer);
    let coords: Vec<String> = sorted
        .iter()
        .map(|p| format!("{:.1},{:.1}", x_of(p.layer), plot.y(p.accuracy_mean)))
        .collect();
    let mut s = format!(
        r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
        coords.join(" ")
    );
    for p in sorted {
        let tip = format!(
            "{} · layer {}: accuracy {:.3} (train {}, test {})",
            p.concept, p.layer, p.accuracy_mean, p.n_train, p.n_test
        );
        s.push_str(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"><title>{}</title></circle>"#,
            escape_html(&tip),
            x = x_of(p.layer),
            y = plot.y(p.accuracy_mean),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn y_scale_maps_unit_interval_and_clamps() {
        let plot = Plot::new(MARGIN_LEFT, 300.0);
        assert_eq!(plot.y(1.0), plot.top);
        assert_eq!(plot.y(0.0), plot.bottom());
        assert_eq!(plot.y(2.0), plot.top);
        assert_eq!(plot.y(-1.0), plot.bottom());
    }

    #[test]
    fn non_finite_bars_are_skipped() {
        let plot = Plot::new(MARGIN_LEFT, 300.0);
        assert!(bar(&plot, 0.0, f64::NAN, 0.1, TCAV_COLOR).is_empty());
        assert!(!bar(&plot, 0.0, 0.5, f64::NAN, TCAV_COLOR).contains("<path"));
    }

    #[test]
    fn groups_keep_first_appearance_order() {
        let groups = group_by([3, 1, 3, 2, 1], |v| *v);
        let keys: Vec<i32> = groups.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [3, 1, 2]);
        assert_eq!(groups[0].1.len(), 2);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn formats_p_values() {
        assert_eq!(pvalue(0.04321), "0.043");
        assert_eq!(pvalue(0.00001234), "1.2e-5");
        assert_eq!(fixed(f64::NAN, 3), "NaN");
    }

    #[test]
    fn axis_has_quarter_ticks_and_dashed_midline() {
        let axis = unit_y_axis(&Plot::new(MARGIN_LEFT, 300.0), "TCAV score");
        for tick in ["0", "0.25", "0.5", "0.75", "1"] {
            assert!(axis.contains(&format!(">{tick}</text>")), "{tick}");
        }
        assert!(axis.contains("stroke-dasharray"));
    }
}
