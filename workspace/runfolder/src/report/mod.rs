//! The self-contained HTML report, `report.html`: the shell every run's report shares (the
//! header, the experiment file, the example sets and the timings) with the study kinds' sections
//! placed in it, and what those sections are rendered with: one minijinja environment with HTML
//! auto-escaping always on and the report's filters, and an SVG toolkit ([`svg`]) whose text is
//! escaped before it enters the markup. The page has inline CSS only: no scripts and no external
//! resources.

mod finding;
pub mod svg;

pub use finding::Finding;

use crate::examples::ExampleSet;
use crate::manifest::Manifest;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use std::path::PathBuf;

/// File name of the report inside a run folder.
pub const REPORT_FILE: &str = "report.html";

/// The page around the sections.
const SHELL: &str = include_str!("../../templates/report.html.j2");

/// Examples of each set shown in the report.
const SHOWN_EXAMPLES: usize = 4;

/// Why the report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Rendering a template failed.
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

/// Everything the page shows besides the study kinds' sections.
#[derive(Debug, Clone)]
pub struct Shell<'a> {
    /// Page title, the experiment name.
    pub title: &'a str,
    /// The experiment file's text, shown verbatim.
    pub experiment_toml: &'a str,
    /// The run manifest (header facts and timings).
    pub manifest: &'a Manifest,
    /// The texts the run used (shown by size and first examples).
    pub example_sets: &'a [ExampleSet],
    /// What the run found, which opens the page (each line links to its study's section, whose
    /// anchor is the study kind's name).
    pub findings: &'a [Finding],
}

/// Renders and escapes report sections: one environment with the report's settings and filters.
pub struct ReportEnv {
    env: Environment<'static>,
}

impl ReportEnv {
    /// The environment: HTML auto-escaping, strict undefined values, trimmed block lines, and
    /// the filters `fixed(digits)`, `fixed_or_dash(digits)` and `pvalue`.
    pub fn new() -> ReportEnv {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("fixed", fixed);
        env.add_filter("pvalue", pvalue);
        env.add_filter("fixed_or_dash", fixed_or_dash);
        ReportEnv { env }
    }

    /// Renders a section template with `context`.
    pub fn render(&self, template: &str, context: Value) -> Result<String, ReportError> {
        Ok(self.env.render_str(template, context)?)
    }

    /// Renders the page: the shell around `sections`, in order.
    pub fn page(&self, shell: &Shell<'_>, sections: &[String]) -> Result<String, ReportError> {
        let sections: Vec<Value> = sections
            .iter()
            .map(|s| Value::from_safe_string(s.clone()))
            .collect();
        let total_seconds: f64 = shell.manifest.timings.iter().map(|t| t.seconds).sum();
        self.render(
            SHELL,
            context! {
                title => shell.title,
                experiment_toml => shell.experiment_toml,
                manifest => shell.manifest,
                example_sets => shell.example_sets,
                findings => shell.findings,
                shown_examples => SHOWN_EXAMPLES,
                sections,
                total_seconds,
            },
        )
    }
}

impl Default for ReportEnv {
    fn default() -> Self {
        ReportEnv::new()
    }
}

/// Template filter: `value` with `digits` decimals (`NaN` stays `NaN`).
pub fn fixed(value: f64, digits: usize) -> String {
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
pub fn pvalue(value: f64) -> String {
    if value > 0.0 && value < 1e-3 {
        format!("{value:.1e}")
    } else {
        format!("{value:.3}")
    }
}

/// Groups rows by key, keeping the order in which keys first appear.
pub fn group_by<T, K: PartialEq>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_appearance_order() {
        let groups = group_by([3, 1, 3, 2, 1], |v| *v);
        let keys: Vec<i32> = groups.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [3, 1, 2]);
        assert_eq!(groups[0].1.len(), 2);
    }

    #[test]
    fn formats_p_values() {
        assert_eq!(pvalue(0.04321), "0.043");
        assert_eq!(pvalue(0.00001234), "1.2e-5");
        assert_eq!(fixed(f64::NAN, 3), "NaN");
        assert_eq!(fixed_or_dash(f64::NAN, 3), "–");
    }

    #[test]
    fn sections_are_escaped_and_the_page_is_self_contained() {
        let (manifest, _) = Manifest::parse(crate::manifest::tests::MINIMAL).unwrap();
        let env = ReportEnv::new();
        let section = env
            .render("<h2>{{ name }}</h2>", context! { name => "<script>" })
            .unwrap();
        assert_eq!(section, "<h2>&lt;script&gt;</h2>");
        let sets = [ExampleSet {
            kind: "concept".into(),
            name: "x".into(),
            texts: vec!["<b>".into()],
        }];
        let shell = Shell {
            title: "t",
            experiment_toml: "name = \"<x>\"",
            manifest: &manifest,
            example_sets: &sets,
            findings: &[Finding::new("probe", "x <decodable>")],
        };
        let page = env.page(&shell, &[section]).unwrap();
        assert!(page.contains("<h2>&lt;script&gt;</h2>"), "{page}");
        assert!(page.contains("<q>&lt;b&gt;</q>"), "{page}");
        assert!(
            page.contains("<li><a href=\"#probe\">probe</a>: x &lt;decodable&gt;</li>"),
            "{page}"
        );
        assert!(
            page.contains("<td>probe</td><td class=\"num\">1.737</td>"),
            "{page}"
        );
        assert!(
            !page.contains("<script") && !page.contains("src="),
            "{page}"
        );
    }
}
