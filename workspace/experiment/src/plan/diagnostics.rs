//! Diagnostics: positioned, rustc-style messages about experiment files and the files they name.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem, located in the experiment file or in a file it references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
    /// The offending line and the width of its underline, when the position is in a text.
    pub snippet: Option<Snippet>,
}

/// The source line printed under a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The line, without its line ending (tabs shown as spaces).
    pub text: String,
    /// Number of characters to underline, at least 1.
    pub width: usize,
}

impl Diagnostic {
    /// A diagnostic about a file as a whole, pointing at its line 1, column 1.
    pub fn at_file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line when there is one.
    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self.line.to_string().len() + 1;
        let pad = " ".repeat(gutter);
        writeln!(f, "error: {}", self.message)?;
        write!(
            f,
            "{pad}--> {}:{}:{}",
            self.file.display(),
            self.line,
            self.column
        )?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{pad} |")?;
            write!(f, "\n{:>gutter$} | {}", self.line, snippet.text)?;
            let indent = " ".repeat(self.column.saturating_sub(1));
            write!(f, "\n{pad} | {indent}{}", "^".repeat(snippet.width.max(1)))?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// Everything found wrong with an experiment file: one or more diagnostics.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render_all(.diagnostics))]
pub struct ExperimentError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl From<Diagnostic> for ExperimentError {
    fn from(diagnostic: Diagnostic) -> Self {
        Self {
            diagnostics: vec![diagnostic],
        }
    }
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    let rendered: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    rendered.join("\n\n")
}

/// A text file held in memory, turning byte spans into positioned diagnostics.
#[derive(Debug, Clone)]
pub struct SourceText {
    path: PathBuf,
    text: String,
}

impl SourceText {
    /// Wraps the text of the file at `path`.
    pub fn new(path: &Path, text: String) -> Self {
        Self {
            path: path.to_path_buf(),
            text,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and character column of byte `offset` (clamped into the text).
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let text = self.text.as_str();
        let offset = floor_char_boundary(text, offset);
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..line_start].matches('\n').count() + 1;
        (line, text[line_start..offset].chars().count() + 1)
    }

    /// A diagnostic underlining `span` (byte offsets into the text; clamped, never panics).
    pub fn diagnostic(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let text = self.text.as_str();
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(start));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = text[line_start..line_end].trim_end_matches('\r');
        let width = text[start..end.min(line_end)].chars().count();
        let (line, column) = self.position(start);
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
            help: None,
            snippet: Some(Snippet {
                text: line_text.replace('\t', " "),
                width: width.max(1),
            }),
        }
    }
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let limit = word.chars().count().max(3) / 3;
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&lower, &candidate.to_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// `did you mean `x`?` for a close candidate, else `{label}: `a`, `b``, else nothing.
pub fn suggest(word: &str, candidates: &[&str], label: &str) -> Option<String> {
    if let Some(close) = did_you_mean(word, candidates.iter().copied()) {
        return Some(format!("did you mean `{close}`?"));
    }
    (!candidates.is_empty()).then(|| format!("{label}: {}", code_list(candidates)))
}

/// Formats names as a comma-separated list of `code` spans.
pub fn code_list<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", n.as_ref())).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_to_lines_columns_and_carets() {
        let source = SourceText::new(Path::new("x.toml"), "a = 1\n\tnmae = \"é\"\n".into());
        let d = source.diagnostic(7..11, "bad");
        assert_eq!((d.line, d.column), (2, 2));
        assert_eq!(d.snippet.as_ref().map(|s| s.width), Some(4));
        let end = source.diagnostic(500..600, "eof");
        assert_eq!((end.line, end.column), (3, 1));
    }

    #[test]
    fn suggestions_are_close_matches_only() {
        assert_eq!(did_you_mean("nmae", ["name", "seed"]), Some("name"));
        assert_eq!(
            did_you_mean("resid-post", ["resid_post"]),
            Some("resid_post")
        );
        assert_eq!(did_you_mean("banana", ["name", "seed"]), None);
    }
}
