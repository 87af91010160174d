//! The experiment file's own tables: `[experiment]` (name, seed, model, device, batch size),
//! `[concepts.NAME]`, `[random]` and `[head]`.

use super::budget::Estimate;
use super::choice::DeviceChoice;
use super::diagnostics::code_list;
use super::model::ModelLookup;
use super::parse::{RawConcept, RawFile, Slot};
use super::raw::{RawExperiment, RawHead};
use super::resolver::{Resolver, TableCtx};
use super::{DEFAULT_MAX_ITERATIONS, MAX_ITERATIONS, is_valid_name};
use cavern_model::{ModelKind, ModelRef};
use std::ops::Range;
use toml::Spanned;

/// Default `[experiment] seed`.
pub const DEFAULT_SEED: u64 = 0;
/// Default `[experiment] batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// Most examples per forward pass (`[experiment] batch_size`).
pub const MAX_BATCH_SIZE: usize = 1024;
/// Most random sets (`[random] sets`).
pub const MAX_RANDOM_SETS: usize = 10_000;
/// Most examples per random set (`[random] size`).
pub const MAX_RANDOM_SIZE: usize = 100_000;
/// Default `[random] sets`.
pub const DEFAULT_RANDOM_SETS: usize = 10;
/// Default `[random] size`.
pub const DEFAULT_RANDOM_SIZE: usize = 50;
/// Fewest examples a concept set may have.
pub const MIN_CONCEPT_EXAMPLES: usize = 6;
/// Fewest random sets.
pub const MIN_RANDOM_SETS: usize = 2;
/// Fewest examples per random set.
pub const MIN_RANDOM_SIZE: usize = 4;
/// L2 penalty of a `[head]` unless told otherwise: linfa's `½·l2·‖W‖²` on the summed loss over
/// standardised features.
pub const DEFAULT_HEAD_L2: f64 = 1.0;
/// Fraction of each class a `[head]` holds out unless told otherwise.
pub const DEFAULT_HEAD_HOLDOUT: f64 = 0.2;

/// The counterexample pool random sets are drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomPool {
    pub examples: Vec<String>,
    /// Number of random sets, >= 2.
    pub sets: usize,
    /// Examples per random set, >= 4 and <= the pool size.
    pub size: usize,
}

/// A resolved `[head]`: a classifier trained on labelled example sets and appended to an
/// encoder, whose classes `class` targets then name.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadSpec {
    /// Class names, each a `[concepts]` set holding that class's examples.
    pub classes: Vec<String>,
    /// L2 penalty of the multinomial logistic regression.
    pub l2: f64,
    /// Optimiser iterations.
    pub max_iterations: usize,
    /// Fraction of each class held out to measure accuracy.
    pub holdout: f64,
}

/// The resolved `[experiment]` table.
pub(super) struct Header {
    pub name: String,
    pub seed: u64,
    pub model: ModelRef,
    pub device: DeviceChoice,
    pub batch_size: usize,
}

impl Resolver<'_> {
    pub(super) fn resolve_experiment(
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
        let model = model.and_then(|model| self.resolve_model(model, models, known_models));
        let seed = t
            .optional(&raw.seed, "seed")
            .map(|seed| seed.map_or(DEFAULT_SEED, |s| *s.get_ref()));
        let device = self.choice(&raw.device, "device", &t);
        let batch_size = self.count(
            &raw.batch_size,
            DEFAULT_BATCH_SIZE,
            1..=MAX_BATCH_SIZE,
            "batch_size",
            &t,
        );
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

    /// Loads every `[concepts.NAME]` set; the names as written and the sets that loaded are
    /// kept for the studies.
    pub(super) fn resolve_concepts(&mut self, raw: &[RawConcept]) {
        self.defined = raw.iter().map(|c| c.name.get_ref().clone()).collect();
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
            let fits = self.activations_fit(set.span.clone(), &what, count);
            if count < MIN_CONCEPT_EXAMPLES {
                let plural = if count == 1 { "" } else { "s" };
                let message = format!(
                    "concept `{name}` has {count} example{plural}; \
                     at least {MIN_CONCEPT_EXAMPLES} are required"
                );
                let help = "add more examples (duplicates are allowed)";
                self.report(set.span, message, Some(help.into()));
            } else if valid_name && fits {
                self.concepts.insert(name.clone(), set.examples);
            }
        }
    }

    /// Resolves `[random]`; `needing` names the study kinds that require it, for the message
    /// when it is missing.
    pub(super) fn resolve_random(&mut self, raw: &RawFile, needing: &[&str]) {
        self.random_declared = !matches!(raw.random, Slot::Absent);
        let parsed = match &raw.random {
            Slot::Present(parsed) => parsed,
            Slot::Invalid => return,
            Slot::Absent => {
                let Some(span) = raw.first_study.clone() else {
                    return;
                };
                let kinds: Vec<String> = needing.iter().map(|k| format!("[[{k}]]")).collect();
                let message = format!(
                    "[random] is required when the file has {} studies",
                    kinds.join(" or ")
                );
                let help = "add a [random] table: a pool of counterexamples (`file`, `examples` \
                            or `template`) that random sets are drawn from";
                self.report(span, message, Some(help.into()));
                return;
            }
        };
        let (t, random) = (TableCtx::new("[random]", parsed), parsed.raw.get_ref());
        let sets = self.count(
            &random.sets,
            DEFAULT_RANDOM_SETS,
            MIN_RANDOM_SETS..=MAX_RANDOM_SETS,
            "sets",
            &t,
        );
        let size = self.count(
            &random.size,
            DEFAULT_RANDOM_SIZE,
            MIN_RANDOM_SIZE..=MAX_RANDOM_SIZE,
            "size",
            &t,
        );
        let Some(pool) = self.load_table(&random.source(), &t) else {
            return;
        };
        let Some(size) = size else {
            return;
        };
        if pool.examples.len() < size {
            let span: Range<usize> = random.size.as_ref().map_or(pool.span, Spanned::span);
            let message = format!(
                "the [random] pool has {} examples, fewer than `size` = {size}",
                pool.examples.len()
            );
            let help = "add examples to the pool or lower `size` in [random]";
            self.report(span, message, Some(help.into()));
            return;
        }
        let Some(sets) = sets else {
            return;
        };
        let sets_span = random.sets.as_ref().map_or(t.span.clone(), Spanned::span);
        let drawn = Estimate {
            what: "the [random] sets",
            factors: &[("sets", sets), ("examples", size)],
            bytes_each: std::mem::size_of::<usize>(),
        };
        let help = "lower `sets` or `size` in [random]";
        let fits = self.within_memory(sets_span, drawn, help);
        if self.activations_fit(pool.span, "the [random] pool", pool.examples.len()) && fits {
            self.random = Some(RandomPool {
                examples: pool.examples,
                sets,
                size,
            });
        }
    }

    /// Whether the pooled activations of `examples` texts of the set `what` (one row per
    /// layer, as the activation cache keeps them) fit the memory limit; reported at `span`
    /// when they do not.
    fn activations_fit(&mut self, span: Range<usize>, what: &str, examples: usize) -> bool {
        let Some((_, facts)) = self.model() else {
            return true;
        };
        let (layers, width) = (facts.n_layers, facts.width);
        let what = format!("the activations of {what}");
        let estimate = Estimate {
            what: &what,
            factors: &[
                ("examples", examples),
                ("layers", layers),
                ("dimensions", width),
            ],
            bytes_each: std::mem::size_of::<f32>(),
        };
        self.within_memory(span, estimate, "use fewer examples")
    }

    /// Resolves `[head]`; its classes become the model's class names for `class` targets.
    pub(super) fn resolve_head(&mut self, slot: &Slot<RawHead>) {
        let Slot::Present(parsed) = slot else {
            return;
        };
        self.head_declared = true;
        let (t, raw) = (TableCtx::new("[head]", parsed), parsed.raw.get_ref());
        if let Some((model, facts)) = self.model()
            && facts.kind == ModelKind::Decoder
        {
            let message = format!("[head] needs an encoder, but model `{model}` is a decoder");
            let help = "a decoder's next-token logits are its output: target them with \
                        `target = { token = \"...\" }` and remove [head]";
            self.report(parsed.raw.span(), message, Some(help.into()));
            return;
        }
        let help = "list two or more [concepts] sets, one per class: \
                    `classes = [\"negative\", \"positive\"]`";
        let classes = self.required(&raw.classes, "classes", &t, Some(help.into()));
        let classes = classes.and_then(|list| self.head_classes(list));
        let l2 = self.penalty(&raw.l2, DEFAULT_HEAD_L2, &t);
        let max_iterations = self.count(
            &raw.max_iterations,
            DEFAULT_MAX_ITERATIONS,
            1..=MAX_ITERATIONS,
            "max_iterations",
            &t,
        );
        let holdout = self.fraction(&raw.holdout, DEFAULT_HEAD_HOLDOUT, "holdout", &t);
        let (Some(classes), Some(l2), Some(max_iterations), Some(holdout)) =
            (classes, l2, max_iterations, holdout)
        else {
            return;
        };
        if let Some((_, facts)) = &mut self.model {
            facts.class_names = classes.clone();
        }
        self.head = Some(HeadSpec {
            classes,
            l2,
            max_iterations,
            holdout,
        });
    }

    /// The classes of a `[head]`: two or more concept sets that loaded.
    fn head_classes(&mut self, list: &Spanned<Vec<Spanned<String>>>) -> Option<Vec<String>> {
        let loaded: Vec<String> = self.concepts.keys().cloned().collect();
        let names = self.concept_refs_among(list, "[head]", &loaded)?;
        if names.len() < 2 {
            let message = "`classes` in [head] needs at least two classes".to_string();
            let help = "add a [concepts.NAME] set for each other class and list it";
            self.report(list.span(), message, Some(help.into()));
            return None;
        }
        Some(names)
    }
}
