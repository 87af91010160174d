//! Loading an experiment file: parsing it, checking every key, source and reference, and
//! resolving defaults. All problems found are reported together.

mod attention;
mod attribution;
mod interventions;
mod model;
mod neighbors;
mod parse;
mod steering;
mod studies;

use crate::error::{Diagnostic, ExperimentError, SourceText, code_list, did_you_mean};
use crate::schema::{
    Choice, DEFAULT_BATCH_SIZE, DEFAULT_RANDOM_SETS, DEFAULT_RANDOM_SIZE, DEFAULT_SEED,
    DeviceChoice, Experiment, MIN_CONCEPT_EXAMPLES, MIN_RANDOM_SETS, MIN_RANDOM_SIZE, ModelRef,
    RandomPool, RawExperiment, RawSource, RawTable,
};
use crate::sources::{LoadedSet, SourceContext, decode_utf8, load_set};
use parse::{Parsed, RawConcept, RawFile, Slot};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

pub use cavern_model::ModelKind;

/// What validation needs to know about a model (filled in by the runner from the model crate).
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// Number of transformer blocks; valid layer indices are `0..n_layers`.
    pub n_layers: usize,
    /// Encoder or decoder.
    pub kind: ModelKind,
    /// Classifier class names (encoders); empty when there is no classifier.
    pub class_names: Vec<String>,
    /// Known tokens; `None` accepts any token.
    pub vocabulary: Option<HashSet<String>>,
}

/// Why a model's facts are not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelProblem {
    /// No model has this name.
    Unknown,
    /// The model exists but cannot be used as named; the message says how to fix it (e.g.
    /// the command that fetches it).
    Unavailable(String),
}

/// Describes a model, or says why it cannot.
pub type ModelLookup<'a> = &'a dyn Fn(&ModelRef) -> Result<ModelFacts, ModelProblem>;

/// Reads, parses and validates the experiment file at `path`.
///
/// `models` describes a model; `known_models` lists the names offered in suggestions.
/// Relative `file` and model `path`s resolve against the file's directory.
pub fn load_experiment(
    path: &Path,
    models: ModelLookup<'_>,
    known_models: &[&str],
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
    let raw = parse::parse(&src, &mut diagnostics)?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let mut resolver = Resolver {
        cx: SourceContext {
            experiment: &src,
            base_dir,
        },
        diagnostics,
        model: None,
    };
    let header = resolver.experiment(&raw.experiment, models, known_models);
    let concepts = resolver.concepts(&raw.concepts);
    let head = resolver.head(&raw.head, &concepts);
    let random = resolver.random(&raw);
    let defined: Vec<&str> = raw
        .concepts
        .iter()
        .map(|c| c.name.get_ref().as_str())
        .collect();
    let probes: Vec<_> = raw
        .probes
        .iter()
        .filter_map(|p| resolver.probe(p, &defined))
        .collect();
    let tcavs: Vec<_> = raw
        .tcavs
        .iter()
        .filter_map(|t| resolver.tcav(t, &defined, random.as_ref()))
        .collect();
    let attentions: Vec<_> = raw
        .attentions
        .iter()
        .filter_map(|a| resolver.attention(a))
        .collect();
    let attributions: Vec<_> = raw
        .attributions
        .iter()
        .filter_map(|a| resolver.attribution(a))
        .collect();
    let patchings: Vec<_> = raw
        .patchings
        .iter()
        .filter_map(|p| resolver.patching(p))
        .collect();
    let prunings: Vec<_> = raw
        .prunings
        .iter()
        .filter_map(|p| resolver.pruning(p))
        .collect();
    let neighbors: Vec<_> = raw
        .neighbors
        .iter()
        .filter_map(|n| resolver.neighbors(n, &defined))
        .collect();
    let random_declared = steering::RandomDeclared(!matches!(raw.random, Slot::Absent));
    let steerings: Vec<_> = raw
        .steerings
        .iter()
        .filter_map(|s| resolver.steering(s, &defined, &concepts, random_declared))
        .collect();
    let erasures: Vec<_> = raw
        .erasures
        .iter()
        .filter_map(|e| resolver.erasure(e, &defined, random_declared))
        .collect();
    let counterfactuals: Vec<_> = raw
        .counterfactuals
        .iter()
        .filter_map(|c| resolver.counterfactual(c))
        .collect();

    let mut diagnostics = resolver.diagnostics;
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
            probes,
            tcavs,
            attentions,
            attributions,
            patchings,
            prunings,
            neighbors,
            steerings,
            erasures,
            counterfactuals,
        }),
        _ => {
            // The experiment file first, then referenced files; each in line order.
            diagnostics.sort_by_key(|d| (d.file != path, d.file.clone(), d.line, d.column));
            Err(ExperimentError { diagnostics })
        }
    }
}

/// The resolved `[experiment]` table.
struct Header {
    name: String,
    seed: u64,
    model: ModelRef,
    device: DeviceChoice,
    batch_size: usize,
}

/// A parsed table as the checks see it: its name in messages, its span, and the keys already
/// with problems already reported (see [`Parsed::reported`]), which must not be reported again.
struct TableCtx<'a> {
    name: &'a str,
    span: Range<usize>,
    reported: &'a [String],
}

impl<'a> TableCtx<'a> {
    fn new<T>(name: &'a str, parsed: &'a Parsed<T>) -> Self {
        Self {
            name,
            span: parsed.raw.span(),
            reported: &parsed.reported,
        }
    }

    fn was_reported(&self, key: &str) -> bool {
        self.reported.iter().any(|k| k == key)
    }

    /// `Some(value)`, `Some(None)` when absent (use the default), `None` when already reported.
    fn optional<'v, T>(
        &self,
        value: &'v Option<Spanned<T>>,
        key: &str,
    ) -> Option<Option<&'v Spanned<T>>> {
        match value {
            Some(value) => Some(Some(value)),
            None => (!self.was_reported(key)).then_some(None),
        }
    }

    /// Whether a source key's problem was already reported, making the source unusable.
    fn source_reported(&self) -> bool {
        RawSource::KEYS.iter().any(|key| self.was_reported(key))
    }
}

/// Resolution state. Every `None` a method returns comes with a pushed diagnostic (or follows
/// one pushed earlier, e.g. layers that cannot be checked because the model is unknown).
struct Resolver<'a> {
    cx: SourceContext<'a>,
    diagnostics: Vec<Diagnostic>,
    /// The experiment's model, once known to exist.
    model: Option<(String, ModelFacts)>,
}

impl Resolver<'_> {
    fn report(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        let diagnostic = self.cx.experiment.diagnostic(span, message);
        self.diagnostics.push(diagnostic.with_optional_help(help));
    }

    fn experiment(
        &mut self,
        slot: &Slot<RawExperiment>,
        models: ModelLookup<'_>,
        known_models: &[&str],
    ) -> Option<Header> {
        let parsed = match slot {
            Slot::Present(parsed) => parsed,
            Slot::Invalid => return None,
            Slot::Absent => {
                let help = "start the file with an [experiment] table holding `name` and `model`";
                self.report(0..0, "missing [experiment] table".into(), Some(help.into()));
                return None;
            }
        };
        let (t, raw) = (TableCtx::new("[experiment]", parsed), parsed.raw.get_ref());
        let name = self.required(&raw.name, "name", &t, None);
        let name = name.and_then(|name| self.experiment_name(name));
        let models_help = (!known_models.is_empty())
            .then(|| format!("known models: {}", code_list(known_models)));
        let model = self.required(&raw.model, "model", &t, models_help);
        let model = model.and_then(|model| self.model(model, models, known_models));
        let seed = t
            .optional(&raw.seed, "seed")
            .map(|seed| seed.map_or(DEFAULT_SEED, |s| *s.get_ref()));
        let device = self.choice(&raw.device, "device", &t);
        let batch_size = self.count(&raw.batch_size, DEFAULT_BATCH_SIZE, 1, "batch_size", &t);
        Some(Header {
            name: name?,
            seed: seed?,
            model: model?,
            device: device?,
            batch_size: batch_size?,
        })
    }

    fn experiment_name(&mut self, name: &Spanned<String>) -> Option<String> {
        let text = name.get_ref();
        let length = text.chars().count();
        if (1..=64).contains(&length) && is_valid_name(text) {
            return Some(text.clone());
        }
        let message = if length > 64 {
            format!("experiment name is {length} characters long; at most 64 are allowed")
        } else {
            format!("invalid experiment name `{text}`")
        };
        let help = "use 1 to 64 characters from `A-Z`, `a-z`, `0-9`, `_` and `-`";
        self.report(name.span(), message, Some(help.into()));
        None
    }

    fn concepts(&mut self, raw: &[RawConcept]) -> BTreeMap<String, Vec<String>> {
        let mut concepts = BTreeMap::new();
        for concept in raw {
            let name = concept.name.get_ref();
            let valid_name = is_valid_name(name);
            if !valid_name {
                let help = "concept names use only `A-Z`, `a-z`, `0-9`, `_` and `-`";
                let message = match name.as_str() {
                    "" => "concept name is empty".to_owned(),
                    name => format!("invalid concept name `{name}`"),
                };
                self.report(concept.name.span(), message, Some(help.into()));
            }
            let Some(parsed) = &concept.source else {
                continue;
            };
            let what = format!("[concepts.{name}]");
            let t = TableCtx::new(&what, parsed);
            let Some(set) = self.load_table(parsed.raw.get_ref(), &t) else {
                continue;
            };
            let count = set.examples.len();
            if count < MIN_CONCEPT_EXAMPLES {
                let plural = if count == 1 { "" } else { "s" };
                let message = format!(
                    "concept `{name}` has {count} example{plural}; \
                     at least {MIN_CONCEPT_EXAMPLES} are required"
                );
                let help = "add more examples (duplicates are allowed)";
                self.report(set.span, message, Some(help.into()));
            } else if valid_name {
                concepts.insert(name.clone(), set.examples);
            }
        }
        concepts
    }

    fn random(&mut self, raw: &RawFile) -> Option<RandomPool> {
        let parsed = match &raw.random {
            Slot::Present(parsed) => parsed,
            Slot::Invalid => return None,
            Slot::Absent => {
                let span = raw.first_study.clone()?;
                let message =
                    "[random] is required when the file has [[probe]] or [[tcav]] studies";
                let help = "add a [random] table: a pool of counterexamples (`file`, `examples` \
                            or `template`) that random sets are drawn from";
                self.report(span, message.into(), Some(help.into()));
                return None;
            }
        };
        let (t, random) = (TableCtx::new("[random]", parsed), parsed.raw.get_ref());
        let sets = self.count(
            &random.sets,
            DEFAULT_RANDOM_SETS,
            MIN_RANDOM_SETS,
            "sets",
            &t,
        );
        let size = self.count(
            &random.size,
            DEFAULT_RANDOM_SIZE,
            MIN_RANDOM_SIZE,
            "size",
            &t,
        );
        let pool = self.load_table(&random.source(), &t)?;
        let size = size?;
        if pool.examples.len() < size {
            let span = random.size.as_ref().map_or(pool.span, Spanned::span);
            let message = format!(
                "the [random] pool has {} examples, fewer than `size` = {size}",
                pool.examples.len()
            );
            let help = "add examples to the pool or lower `size` in [random]";
            self.report(span, message, Some(help.into()));
            return None;
        }
        Some(RandomPool {
            examples: pool.examples,
            sets: sets?,
            size,
        })
    }

    /// Loads the example set a table defines, unless a source key's problem was already reported.
    fn load_table(&mut self, source: &RawSource, t: &TableCtx<'_>) -> Option<LoadedSet> {
        if t.source_reported() {
            return None;
        }
        self.load(source, t.span.clone(), t.name)
    }

    /// Loads an example set, recording its diagnostics.
    fn load(&mut self, source: &RawSource, span: Range<usize>, what: &str) -> Option<LoadedSet> {
        load_set(source, span, what, self.cx)
            .map_err(|diagnostics| self.diagnostics.extend(diagnostics))
            .ok()
    }

    /// A required key's value, reporting it (at the table) when missing.
    fn required<'v, T>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        key: &str,
        t: &TableCtx<'_>,
        help: Option<String>,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() && !t.was_reported(key) {
            let message = format!("missing required key `{key}` in {}", t.name);
            self.report(t.span.clone(), message, help);
        }
        value.as_ref()
    }

    /// One of a closed set of names, or its default when absent.
    fn choice<T: Choice>(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<T> {
        let Some(value) = t.optional(value, key)? else {
            return Some(T::DEFAULT);
        };
        let text = value.get_ref();
        if let Some(choice) = T::ALL.iter().copied().find(|c| c.name() == text) {
            return Some(choice);
        }
        let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
        let expected = format!("expected one of: {}", code_list(&names));
        let help = match did_you_mean(text, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? {expected}"),
            None => expected,
        };
        self.report(value.span(), format!("unknown {key} `{text}`"), Some(help));
        None
    }

    /// A non-empty list of distinct names of one closed set under `key` (each an `item`).
    fn choice_list<T: Choice + PartialEq>(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        key: &str,
        item: &str,
        t: &TableCtx<'_>,
    ) -> Option<Vec<T>> {
        if list.get_ref().is_empty() {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
            let message = format!("`{key}` in {} is empty", t.name);
            let help = format!("list one or more of: {}", code_list(&names));
            self.report(list.span(), message, Some(help));
            return None;
        }
        let mut chosen = Vec::new();
        let mut valid = true;
        for entry in list.get_ref() {
            match self.choice::<T>(&Some(entry.clone()), item, t) {
                Some(choice) if chosen.contains(&choice) => {
                    let message =
                        format!("{item} `{}` is listed twice in {}", choice.name(), t.name);
                    self.report(entry.span(), message, Some("list it once".into()));
                    valid = false;
                }
                Some(choice) => chosen.push(choice),
                None => valid = false,
            }
        }
        valid.then_some(chosen)
    }

    /// A count that must be at least `min`, or `default` when absent.
    fn count(
        &mut self,
        value: &Option<Spanned<usize>>,
        default: usize,
        min: usize,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<usize> {
        let Some(value) = t.optional(value, key)? else {
            return Some(default);
        };
        let number = *value.get_ref();
        if number < min {
            let message = format!(
                "`{key}` in {} must be at least {min}, found {number}",
                t.name
            );
            self.report(value.span(), message, None);
            return None;
        }
        Some(number)
    }

    /// A number strictly between 0 and 1, or `default` when absent.
    fn fraction(
        &mut self,
        value: &Option<Spanned<f64>>,
        default: f64,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<f64> {
        let Some(value) = t.optional(value, key)? else {
            return Some(default);
        };
        let number = *value.get_ref();
        if number > 0.0 && number < 1.0 {
            return Some(number);
        }
        let message = format!(
            "`{key}` in {} must be between 0 and 1 (exclusive), found {number}",
            t.name
        );
        self.report(value.span(), message, None);
        None
    }
}

/// Whether `name` is non-empty and uses only `[A-Za-z0-9_-]`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
