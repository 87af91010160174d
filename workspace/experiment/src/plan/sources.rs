//! Example sets: the lines of a text file, an inline list, or a template expanded over variables.

use super::diagnostics::{Diagnostic, SourceText, code_list, suggest};
use super::raw::RawSource;
use minijinja::{Environment, UndefinedBehavior};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Most examples one template may expand to.
pub const MAX_TEMPLATE_EXAMPLES: usize = 100_000;

/// Where sources resolve: the experiment file (for spans) and its directory (for paths).
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    /// The experiment file.
    pub experiment: &'a SourceText,
    /// Directory relative `file` paths start from.
    pub base_dir: &'a Path,
}

/// An example set, loaded and trimmed.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSet {
    /// The examples, in source order; never empty.
    pub examples: Vec<String>,
    /// Span of the source's value (`file`, `examples` or `template`) in the experiment file.
    pub span: Range<usize>,
}

pub(crate) type Vars = Spanned<BTreeMap<String, Spanned<toml::Value>>>;

/// One source key and its value.
#[derive(Clone, Copy)]
enum Kind<'a> {
    File(&'a Spanned<String>),
    Inline(&'a Spanned<Vec<Spanned<String>>>),
    Template(&'a Spanned<String>, Option<&'a Vars>),
}

impl Kind<'_> {
    fn key(self) -> &'static str {
        match self {
            Kind::File(_) => "file",
            Kind::Inline(_) => "examples",
            Kind::Template(..) => "template",
        }
    }

    fn span(self) -> Range<usize> {
        match self {
            Kind::File(value) | Kind::Template(value, _) => value.span(),
            Kind::Inline(list) => list.span(),
        }
    }
}

/// Loads the examples of `source`, which must name exactly one of `file`, `examples` or
/// `template`. `table` spans the table holding it; `what` names it in messages, e.g.
/// `[concepts.praise]`. An empty set is an error.
pub fn load_set(
    source: &RawSource,
    table: Range<usize>,
    what: &str,
    cx: SourceContext<'_>,
) -> Result<LoadedSet, Vec<Diagnostic>> {
    let src = cx.experiment;
    if let (Some(vars), None) = (&source.vars, &source.template) {
        let message = format!("`vars` in {what} needs a `template`");
        let help = "write `template = \"... {{ name }} ...\"` next to `vars`, or remove `vars`";
        return Err(vec![src.diagnostic(vars.span(), message).with_help(help)]);
    }
    let given: Vec<Kind<'_>> = [
        source.file.as_ref().map(Kind::File),
        source.examples.as_ref().map(Kind::Inline),
        (source.template.as_ref()).map(|template| Kind::Template(template, source.vars.as_ref())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let &[kind] = given.as_slice() else {
        return Err(vec![source_count_error(&given, table, what, src)]);
    };
    let examples = match kind {
        Kind::File(path) => read_file(path, what, cx)?,
        Kind::Inline(list) => inline(list, what, src)?,
        Kind::Template(template, vars) => expand(template, vars, what, src)?,
    };
    Ok(LoadedSet {
        examples,
        span: kind.span(),
    })
}

fn source_count_error(
    given: &[Kind<'_>],
    table: Range<usize>,
    what: &str,
    src: &SourceText,
) -> Diagnostic {
    let mut given = given.to_vec();
    given.sort_by_key(|kind| kind.span().start);
    match given.as_slice() {
        [_, second, ..] => {
            let keys: Vec<&str> = given.iter().map(|kind| kind.key()).collect();
            let message = format!("{what} has several example sources: {}", code_list(&keys));
            src.diagnostic(second.span(), message)
                .with_help("keep exactly one of `file`, `examples` or `template`")
        }
        _ => src
            .diagnostic(table, format!("{what} has no example source"))
            .with_help("add exactly one of `file`, `examples` or `template` (with `vars`)"),
    }
}

fn read_file(
    path: &Spanned<String>,
    what: &str,
    cx: SourceContext<'_>,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    let written = path.get_ref();
    let resolved = cx.base_dir.join(written);
    let bytes = std::fs::read(&resolved).map_err(|err| {
        let shown = std::path::absolute(&resolved).unwrap_or_else(|_| resolved.clone());
        let message = format!("cannot read `{written}` (`file` of {what}): {err}");
        let help = format!(
            "the path resolves to `{}`; relative paths start at the experiment file's directory",
            shown.display()
        );
        vec![
            cx.experiment
                .diagnostic(path.span(), message)
                .with_help(help),
        ]
    })?;
    let text = decode_utf8(&resolved, bytes).map_err(|d| vec![d])?;
    let examples = example_lines(&text);
    if examples.is_empty() {
        let (line, column) = cx.experiment.position(path.span().start);
        let message = format!("`{written}` has no examples (`file` of {what})");
        return Err(vec![Diagnostic::at_file(&resolved, message).with_help(
            format!(
                "write one example per line (blank lines and lines starting with `#` are skipped); \
             referenced at {}:{line}:{column}",
                cx.experiment.path().display()
            ),
        )]);
    }
    Ok(examples)
}

/// Decodes a file's bytes, pointing at the first invalid byte when they are not UTF-8.
pub(crate) fn decode_utf8(path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|err| {
        let at = err.utf8_error().valid_up_to();
        let lossy = String::from_utf8_lossy(err.as_bytes()).into_owned();
        SourceText::new(path, lossy)
            .diagnostic(at..at, "file is not valid UTF-8")
            .with_help("save the file with UTF-8 encoding")
    })
}

/// One example per line: trimmed, skipping blank lines and lines starting with `#`.
fn example_lines(text: &str) -> Vec<String> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn inline(
    list: &Spanned<Vec<Spanned<String>>>,
    what: &str,
    src: &SourceText,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    if list.get_ref().is_empty() {
        let message = format!("`examples` of {what} is empty");
        return Err(vec![src.diagnostic(list.span(), message)]);
    }
    let mut diagnostics = Vec::new();
    let mut examples = Vec::new();
    for example in list.get_ref() {
        match example.get_ref().trim() {
            "" => diagnostics.push(src.diagnostic(
                example.span(),
                format!("blank example in `examples` of {what}"),
            )),
            text => examples.push(text.to_owned()),
        }
    }
    if diagnostics.is_empty() {
        Ok(examples)
    } else {
        Err(diagnostics)
    }
}

fn expand(
    template: &Spanned<String>,
    vars: Option<&Vars>,
    what: &str,
    src: &SourceText,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    let rendered = render_together(&[(template, true)], vars, false, what, src)?;
    Ok(rendered.into_iter().flatten().collect())
}

/// Renders several templates with the same variables, once per combination of the variables'
/// values (the last variable varies fastest); each row holds one rendering of every template.
///
/// A template paired with `true` is trimmed and must not render blank; one paired with `false`
/// is kept as rendered (a token such as `" Mary"` keeps its space) and must not be empty. With
/// `distinct`, combinations in which two variables take the same value are skipped.
pub(crate) fn render_together(
    templates: &[(&Spanned<String>, bool)],
    vars: Option<&Vars>,
    distinct: bool,
    what: &str,
    src: &SourceText,
) -> Result<Vec<Vec<String>>, Vec<Diagnostic>> {
    let vars: Vec<(&str, &Spanned<toml::Value>)> = (vars.into_iter())
        .flat_map(|vars| vars.get_ref().iter().map(|(k, v)| (k.as_str(), v)))
        .collect();
    let mut diagnostics = Vec::new();
    let mut columns = Vec::new();
    for &(name, value) in &vars {
        match string_list(value.get_ref()) {
            Some(list) => columns.push((name, list)),
            None => {
                let message = format!(
                    "template variable `{name}` in {what} must be a non-empty list of strings"
                );
                let help = format!("for example: {name} = [\"first\", \"second\"]");
                diagnostics.push(src.diagnostic(value.span(), message).with_help(help));
            }
        }
    }

    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let defined: Vec<&str> = vars.iter().map(|(name, _)| *name).collect();
    let globals: HashSet<&str> = env.globals().map(|(name, _)| name).collect();
    let mut compiled = Vec::new();
    for &(template, trim) in templates {
        let parsed = match env.template_from_str(template.get_ref()) {
            Ok(parsed) => parsed,
            Err(err) => {
                let message = format!("invalid template in {what}: {}", jinja_message(&err));
                diagnostics.push(src.diagnostic(template.span(), message));
                continue;
            }
        };
        let mut undefined: Vec<String> = (parsed.undeclared_variables(false).into_iter())
            .filter(|name| !defined.contains(&name.as_str()) && !globals.contains(name.as_str()))
            .collect();
        undefined.sort();
        for name in undefined {
            let help = suggest(&name, &defined, "defined variables")
                .unwrap_or_else(|| format!("define it in `vars`: {name} = [\"...\"]"));
            let message = format!("template in {what} uses undefined variable `{name}`");
            diagnostics.push(src.diagnostic(template.span(), message).with_help(help));
        }
        compiled.push((parsed, template.span(), trim));
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    render_product(&compiled, &columns, distinct, what, src).map_err(|d| vec![d])
}

/// Renders every template once per combination of the variables' values.
fn render_product(
    compiled: &[(minijinja::Template<'_, '_>, Range<usize>, bool)],
    columns: &[(&str, Vec<&str>)],
    distinct: bool,
    what: &str,
    src: &SourceText,
) -> Result<Vec<Vec<String>>, Diagnostic> {
    let total = (columns.iter())
        .try_fold(1usize, |acc, (_, values)| acc.checked_mul(values.len()))
        .filter(|total| *total <= MAX_TEMPLATE_EXAMPLES);
    let Some(total) = total else {
        let span = compiled.first().map_or(0..0, |(_, span, _)| span.clone());
        let message =
            format!("template in {what} expands to more than {MAX_TEMPLATE_EXAMPLES} examples");
        return Err(src.diagnostic(span, message));
    };
    let mut rows = Vec::with_capacity(total);
    for index in 0..total {
        let assignment = nth_assignment(columns, index);
        let values: HashSet<&str> = assignment.values().copied().collect();
        if distinct && values.len() < assignment.len() {
            continue;
        }
        let mut row = Vec::with_capacity(compiled.len());
        for (template, span, trim) in compiled {
            let failure = match template.render(&assignment) {
                Ok(text) if *trim && !text.trim().is_empty() => {
                    row.push(text.trim().to_owned());
                    continue;
                }
                Ok(text) if !*trim && !text.is_empty() => {
                    row.push(text);
                    continue;
                }
                Ok(_) => "renders an empty example".to_owned(),
                Err(err) => format!("fails to render: {}", jinja_message(&err)),
            };
            let message = format!("template in {what} {failure}");
            let help = format!("with {}", describe(&assignment));
            return Err(src.diagnostic(span.clone(), message).with_help(help));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The `index`-th combination of the cartesian product; the last variable varies fastest.
fn nth_assignment<'a>(
    columns: &[(&'a str, Vec<&'a str>)],
    index: usize,
) -> BTreeMap<&'a str, &'a str> {
    let mut rest = index;
    let mut assignment = BTreeMap::new();
    for (name, values) in columns.iter().rev() {
        let len = values.len().max(1);
        if let Some(value) = values.get(rest % len) {
            assignment.insert(*name, *value);
        }
        rest /= len;
    }
    assignment
}

fn describe(assignment: &BTreeMap<&str, &str>) -> String {
    if assignment.is_empty() {
        return "no variables".to_owned();
    }
    let parts: Vec<String> = assignment
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect();
    parts.join(", ")
}

fn string_list(value: &toml::Value) -> Option<Vec<&str>> {
    let list: Option<Vec<&str>> = value.as_array()?.iter().map(toml::Value::as_str).collect();
    list.filter(|list| !list.is_empty())
}

fn jinja_message(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}
