//! The structural pass: TOML syntax, unknown keys and value types, one table at a time, so
//! that one bad table does not hide the problems of the others.

use super::Section;
use super::diagnostics::{Diagnostic, SourceText, did_you_mean, suggest};
use super::raw::{RawExperiment, RawHead, RawRandom, RawSource, RawTable};
use std::any::Any;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// A table that is absent, unusable (already reported), or parsed.
pub enum Slot<T> {
    Absent,
    Invalid,
    Present(Parsed<T>),
}

impl<T> Slot<T> {
    fn mark_reported(&mut self) {
        if let Slot::Absent = self {
            *self = Slot::Invalid;
        }
    }

    fn present(self) -> Option<Parsed<T>> {
        match self {
            Slot::Present(parsed) => Some(parsed),
            Slot::Absent | Slot::Invalid => None,
        }
    }
}

/// A parsed table, without the keys whose values had the wrong type (already reported).
pub struct Parsed<T> {
    pub raw: Spanned<T>,
    /// Keys whose problems were already reported: values of the wrong type (dropped), keys
    /// an unknown key is a likely misspelling of, and inline tables holding unknown keys.
    pub reported: Vec<String>,
}

/// A `[concepts.NAME]` entry; `source` is `None` when it could not be parsed (already reported).
pub(super) struct RawConcept {
    pub name: Spanned<String>,
    pub source: Option<Parsed<RawSource>>,
}

/// The file's own top-level tables; every other top-level key is a study kind's.
pub const FILE_TABLES: [&str; 4] = ["experiment", "concepts", "head", "random"];

/// The experiment file after the structural pass.
pub(super) struct RawFile {
    pub experiment: Slot<RawExperiment>,
    pub concepts: Vec<RawConcept>,
    pub head: Slot<RawHead>,
    pub random: Slot<RawRandom>,
    /// Per section (in the order given to [`parse`]), its parsed tables, each a `Parsed` of the
    /// section's raw type.
    pub studies: Vec<Vec<Box<dyn Any>>>,
    /// Span of the first table of a kind that needs `[random]`, when the file has one.
    pub first_study: Option<Range<usize>>,
}

/// Parses the file's TOML; a syntax error stops here, structural errors are collected. Each
/// study kind's array is parsed by its section.
pub(super) fn parse(
    src: &SourceText,
    sections: &[&dyn Section],
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<RawFile, Diagnostic> {
    let root = DeTable::parse(src.text()).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        let message = match (err.message(), src.text().get(span.clone())) {
            ("duplicate key", Some(key)) => format!("invalid TOML: duplicate key `{key}`"),
            (message, _) => format!("invalid TOML: {}", message.trim_end()),
        };
        src.diagnostic(span, message)
    })?;
    let mut parser = Parser { src, diagnostics };
    let mut file = RawFile {
        experiment: Slot::Absent,
        concepts: Vec::new(),
        head: Slot::Absent,
        random: Slot::Absent,
        studies: sections.iter().map(|_| Vec::new()).collect(),
        first_study: None,
    };
    let top_level: Vec<&str> = (FILE_TABLES.iter().copied())
        .chain(sections.iter().map(|s| s.name()))
        .collect();
    for (key, value) in root.into_inner() {
        let section = sections.iter().position(|s| s.name() == key.get_ref());
        match (key.get_ref().as_ref(), section) {
            ("experiment", _) => file.experiment = parser.table(value, "[experiment]"),
            ("random", _) => file.random = parser.table(value, "[random]"),
            ("head", _) => file.head = parser.table(value, "[head]"),
            ("concepts", _) => file.concepts = parser.concepts(value),
            (_, Some(index)) => {
                if sections[index].needs_random() {
                    let starts = [file.first_study.take(), study_start(&value)];
                    file.first_study = starts.into_iter().flatten().min_by_key(|s| s.start);
                }
                file.studies[index] = sections[index].parse(value, &mut parser);
            }
            (other, None) => {
                let meant = parser.unknown_key(other, key.span(), &top_level, "at the top level");
                // A misspelt table is reported; do not also report it as missing.
                match meant.as_deref() {
                    Some("experiment") => file.experiment.mark_reported(),
                    Some("random") => file.random.mark_reported(),
                    _ => {}
                }
            }
        }
    }
    Ok(file)
}

/// Where a study kind's value starts, unless it is an empty array.
fn study_start(value: &Spanned<DeValue<'_>>) -> Option<Range<usize>> {
    match value.get_ref() {
        DeValue::Array(items) if items.into_iter().next().is_none() => None,
        _ => Some(value.span()),
    }
}

/// The structural pass's state: the file and the problems found.
pub struct Parser<'a> {
    src: &'a SourceText,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Parser<'_> {
    fn report(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        let diagnostic = self.src.diagnostic(span, message).with_optional_help(help);
        self.diagnostics.push(diagnostic);
    }

    /// Reports an unknown key; returns the key it is likely a misspelling of.
    fn unknown_key(
        &mut self,
        key: &str,
        span: Range<usize>,
        keys: &[&str],
        place: &str,
    ) -> Option<String> {
        let help = suggest(key, keys, "valid keys are");
        self.report(span, format!("unknown key `{key}` {place}"), help);
        did_you_mean(key, keys.iter().copied()).map(str::to_owned)
    }

    /// Checks a value that must be a table of type `T`, then deserializes it. A key with a
    /// value of the wrong type is reported, dropped and recorded, and the rest deserialized.
    fn table<T: RawTable>(&mut self, mut value: Spanned<DeValue<'_>>, name: &str) -> Slot<T> {
        let span = value.span();
        let DeValue::Table(table) = value.get_mut() else {
            let found = value.get_ref().type_str();
            self.report(span, format!("{name} must be a table, found {found}"), None);
            return Slot::Invalid;
        };
        let unknown = self.strip_unknown(table, T::KEYS, name);
        let mut reported: Vec<String> = unknown.into_iter().flatten().collect();
        for (key, keys) in T::NESTED {
            if let Some(DeValue::Table(inner)) = table.get_mut(*key).map(Spanned::get_mut) {
                let unknown = self.strip_unknown(inner, keys, &format!("`{key}` of {name}"));
                if !unknown.is_empty() {
                    reported.push((*key).to_owned());
                }
            }
        }
        loop {
            let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(raw) => {
                    let raw = Spanned::new(span, raw);
                    return Slot::Present(Parsed { raw, reported });
                }
                Err(err) => err,
            };
            let err_span = err.span().unwrap_or_else(|| span.clone());
            let DeValue::Table(table) = value.get_mut() else {
                return Slot::Invalid;
            };
            let key = table
                .iter()
                .find(|(_, v)| v.span().start <= err_span.start && err_span.end <= v.span().end)
                .map(|(k, _)| k.get_ref().to_string());
            let place = match &key {
                Some(key) => format!("`{key}` in {name}"),
                None => name.to_owned(),
            };
            self.report(err_span, type_message(err.message(), &place), None);
            let Some(key) = key else {
                return Slot::Invalid;
            };
            table.remove(key.as_str());
            reported.push(key);
        }
    }

    /// Removes and reports keys not in `keys`; returns one entry per unknown key: the key it
    /// is likely a misspelling of, if any.
    fn strip_unknown(
        &mut self,
        table: &mut DeTable<'_>,
        keys: &[&str],
        name: &str,
    ) -> Vec<Option<String>> {
        let unknown: Vec<(String, Range<usize>)> = table
            .iter()
            .filter(|(k, _)| !keys.contains(&k.get_ref().as_ref()))
            .map(|(k, _)| (k.get_ref().to_string(), k.span()))
            .collect();
        let mut meant = Vec::new();
        for (key, span) in unknown {
            table.remove(key.as_str());
            meant.push(self.unknown_key(&key, span, keys, &format!("in {name}")));
        }
        meant
    }

    fn concepts(&mut self, value: Spanned<DeValue<'_>>) -> Vec<RawConcept> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            let help =
                "define each concept as [concepts.NAME] with `file`, `examples` or `template`";
            self.report(span, "`concepts` must be a table".into(), Some(help.into()));
            return Vec::new();
        };
        let mut concepts = Vec::new();
        for (key, value) in table {
            let name = Spanned::new(key.span(), key.get_ref().to_string());
            let source = self.table(value, &format!("[concepts.{}]", name.get_ref()));
            let source = source.present();
            concepts.push(RawConcept { name, source });
        }
        concepts
    }

    /// An array of `[[key]]` tables of type `T`; each table's problems are reported and the
    /// tables that could be read are returned.
    pub fn array<T: RawTable>(&mut self, value: Spanned<DeValue<'_>>, key: &str) -> Vec<Parsed<T>> {
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            let help = format!("write each study as its own [[{key}]] table (double brackets)");
            self.report(
                span,
                format!("`{key}` must be an array of tables"),
                Some(help),
            );
            return Vec::new();
        };
        let name = format!("[[{key}]]");
        let tables = items.into_iter().map(|item| self.table::<T>(item, &name));
        tables.filter_map(Slot::present).collect()
    }
}

/// Rewrites a serde type error as `wrong type for `key` in [table]: expected X, found Y`.
fn type_message(message: &str, place: &str) -> String {
    let (lead, rest) = if let Some(rest) = message.strip_prefix("invalid type: ") {
        ("wrong type for", rest)
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        ("invalid value for", rest)
    } else {
        return format!("invalid value for {place}: {message}");
    };
    match rest.rsplit_once(", expected ") {
        Some((found, expected)) => format!(
            "{lead} {place}: expected {}, found {}",
            plain_type(expected),
            plain_type(found)
        ),
        None => format!("{lead} {place}: {rest}"),
    }
}

/// Serde's type names in TOML words.
fn plain_type(name: &str) -> &str {
    match name {
        "u64" | "usize" => "a non-negative integer",
        "i64" => "an integer",
        "f64" => "a number",
        "a sequence" | "sequence" => "an array",
        "a map" | "map" => "a table",
        other => other,
    }
}
