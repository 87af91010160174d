//! The experiment file: parsing it, checking every key, source and reference, and resolving
//! defaults into an [`Experiment`], the plan a run carries out. All problems found are reported
//! together, each with file, line and column.
//!
//! This module knows no study kind: each kind's `[[NAME]]` tables are parsed and resolved by the
//! [`Section`] it hands over, with the shared checks of [`Resolver`].

mod budget;
mod cav;
mod choice;
pub mod diagnostics;
mod header;
mod model;
mod parse;
mod prompts;
pub mod raw;
mod resolver;
pub mod sources;
mod targets;
mod texts;

pub use budget::{Estimate, MEMORY_LIMIT_VAR};
pub use cav::{
    CavKeys, DEFAULT_HOLDOUT, DEFAULT_L2, DEFAULT_MAX_ITERATIONS, MAX_FOLDS, MAX_ITERATIONS,
    MIN_FOLDS, RawCavKeys, default_cav_options,
};
pub use choice::{Choice, DeviceChoice};
pub use diagnostics::{Diagnostic, ExperimentError};
pub use header::{
    DEFAULT_BATCH_SIZE, DEFAULT_HEAD_HOLDOUT, DEFAULT_HEAD_L2, DEFAULT_RANDOM_SETS,
    DEFAULT_RANDOM_SIZE, DEFAULT_SEED, HeadSpec, MAX_BATCH_SIZE, MAX_RANDOM_SETS, MAX_RANDOM_SIZE,
    MIN_CONCEPT_EXAMPLES, MIN_RANDOM_SETS, MIN_RANDOM_SIZE, RandomPool,
};
pub use model::{ModelFacts, ModelLookup, ModelProblem};
pub use parse::{FILE_TABLES, Parsed, Parser};
pub use prompts::{
    DEFAULT_MAX_PROMPTS, MAX_PROMPTS, MAX_TOP_K, MetricKind, MetricSpec, PromptTemplates,
    RawMetric, RenderedPrompt,
};
pub use raw::RawTable;
pub use resolver::{Resolver, TableCtx};
pub use targets::Target;

use diagnostics::SourceText;
use sha2::{Digest, Sha256};
use sources::{SourceContext, decode_utf8};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeValue;

pub use cavern_model::{ModelKind, ModelRef};

/// What the plan needs of a study kind: its `[[NAME]]` tables parsed and resolved.
pub trait Section: Sync {
    /// The kind's name, its top-level key: `[[NAME]]`.
    fn name(&self) -> &'static str;
    /// Whether the kind draws on the `[random]` pool, which a file with its tables must have.
    fn needs_random(&self) -> bool;
    /// Every key its tables accept.
    fn keys(&self) -> &'static [&'static str];
    /// The structural pass over the kind's array of tables: each parsed table, boxed.
    fn parse(&self, value: Spanned<DeValue<'_>>, parser: &mut Parser<'_>) -> Vec<Box<dyn Any>>;
    /// Resolves one parsed table (one that [`Section::parse`] returned); `None` after
    /// reporting its problems.
    fn resolve(&self, parsed: &dyn Any, resolver: &mut Resolver<'_>) -> Option<Box<dyn Spec>>;
}

/// A resolved study of any kind.
pub trait Spec: Any + fmt::Debug + Send + Sync {
    /// For downcasting to the kind's own type.
    fn as_any(&self) -> &dyn Any;
    /// A copy.
    fn boxed_clone(&self) -> Box<dyn Spec>;
    /// Whether `other` is the same study.
    fn same_as(&self, other: &dyn Spec) -> bool;
}

impl<T: Any + fmt::Debug + Clone + PartialEq + Send + Sync> Spec for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn boxed_clone(&self) -> Box<dyn Spec> {
        Box::new(self.clone())
    }

    fn same_as(&self, other: &dyn Spec) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// One study of the plan.
#[derive(Debug)]
pub struct Planned {
    /// Its kind's name.
    pub kind: &'static str,
    /// Its index among the file's studies of that kind, from 0.
    pub index: usize,
    /// The resolved study.
    pub spec: Box<dyn Spec>,
}

impl Clone for Planned {
    fn clone(&self) -> Self {
        Planned {
            kind: self.kind,
            index: self.index,
            spec: self.spec.boxed_clone(),
        }
    }
}

impl PartialEq for Planned {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.index == other.index && self.spec.same_as(&*other.spec)
    }
}

/// A fully resolved and validated experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The experiment file as given.
    pub path: PathBuf,
    /// The file's text.
    pub source_text: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub source_sha256: String,
    pub name: String,
    pub seed: u64,
    pub model: ModelRef,
    pub device: DeviceChoice,
    pub batch_size: usize,
    /// Concept name to its examples.
    pub concepts: BTreeMap<String, Vec<String>>,
    /// The classifier head to train, if any.
    pub head: Option<HeadSpec>,
    /// Absent when the file has no `[random]` table.
    pub random: Option<RandomPool>,
    /// Every study: kind by kind in the order the sections were given, each kind's in file order.
    pub studies: Vec<Planned>,
}

impl Experiment {
    /// The studies whose resolved type is `T` (those of one kind), in file order.
    pub fn specs<T: 'static>(&self) -> Vec<&T> {
        (self.studies.iter())
            .filter_map(|s| s.spec.as_any().downcast_ref::<T>())
            .collect()
    }

    /// The studies of kind `name`, in file order.
    pub fn studies_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Planned> {
        self.studies.iter().filter(move |s| s.kind == name)
    }
}

/// Reads, parses and validates the experiment file at `path`, whose study kinds are `sections`.
///
/// `models` describes a model; `known_models` lists the names offered in suggestions.
/// Relative `file` and model `path`s resolve against the file's directory.
pub fn load(
    path: &Path,
    models: ModelLookup<'_>,
    known_models: &[&str],
    sections: &[&dyn Section],
) -> Result<Experiment, ExperimentError> {
    let bytes = std::fs::read(path).map_err(|err| {
        let message = format!("cannot read experiment file `{}`: {err}", path.display());
        Diagnostic::at_file(path, message)
    })?;
    let source_sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let src = SourceText::new(path, decode_utf8(path, bytes)?);
    let mut diagnostics = Vec::new();
    let raw = parse::parse(&src, sections, &mut diagnostics)?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let cx = SourceContext {
        experiment: &src,
        base_dir,
    };
    let mut resolver = Resolver::new(cx, diagnostics);
    let header = resolver.resolve_experiment(&raw.experiment, models, known_models);
    resolver.resolve_concepts(&raw.concepts);
    resolver.resolve_head(&raw.head);
    let needing: Vec<&str> = (sections.iter())
        .filter(|s| s.needs_random())
        .map(|s| s.name())
        .collect();
    resolver.resolve_random(&raw, &needing);
    let mut studies = Vec::new();
    for (section, parsed) in sections.iter().zip(&raw.studies) {
        for (index, table) in parsed.iter().enumerate() {
            if let Some(spec) = section.resolve(table.as_ref(), &mut resolver) {
                let kind = section.name();
                studies.push(Planned { kind, index, spec });
            }
        }
    }
    let Resolver {
        mut diagnostics,
        concepts,
        head,
        random,
        ..
    } = resolver;
    match header {
        Some(header) if diagnostics.is_empty() => Ok(Experiment {
            path: path.to_path_buf(),
            source_text: src.text().to_owned(),
            source_sha256,
            name: header.name,
            seed: header.seed,
            model: header.model,
            device: header.device,
            batch_size: header.batch_size,
            concepts,
            head,
            random,
            studies,
        }),
        _ => {
            // The experiment file first, then referenced files; each in line order.
            diagnostics.sort_by_key(|d| (d.file != path, d.file.clone(), d.line, d.column));
            Err(ExperimentError { diagnostics })
        }
    }
}

/// Whether `name` is non-empty and uses only `[A-Za-z0-9_-]`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
