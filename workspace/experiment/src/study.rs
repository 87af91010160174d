//! What a study kind is: the [`Study`] trait each kind's module implements (its table in the
//! experiment file, resolved spec, documentation, work, run, tables and report section), and
//! [`Kind`], the same behind a pointer, which the registry lists.

use crate::engine::units::{UnitWork, unit_rng};
use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Parser, Planned, RawTable, Resolver, Section, Spec};
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::{Row, Rows};
use cavern_runfolder::units::{self, UnitError, UnitId};
use cavern_runfolder::{RunFolder, RunFolderError, TableInfo};
use serde_json::Value;
use std::any::Any;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use thiserror::Error;
use toml::Spanned;
use toml::de::DeValue;

/// One study kind: the `[[NAME]]` tables of an experiment file and what they run and write.
pub trait Study: 'static {
    /// The kind's name: its `[[NAME]]` array in experiment files, and its step in the manifest.
    const NAME: &'static str;
    /// Its section of the experiment-file reference (`cavern schema`, docs/schema.md): Markdown
    /// from its `## [[NAME]]` heading on.
    const SCHEMA: &'static str;
    /// Whether it trains against the `[random]` pool, which a file with its tables must have.
    const NEEDS_RANDOM: bool = false;
    /// What it writes besides tables, for docs/tables.md (Markdown sections; none by default).
    const FILES: &'static str = "";
    /// One table as written.
    type Raw: RawTable;
    /// One study, resolved and validated.
    type Spec: Clone + Debug + PartialEq + Send + Sync + 'static;
    /// What one study writes: one `Vec` of rows per table.
    type Output: Outputs;

    /// Checks a parsed table and resolves its defaults; `None` after reporting every problem.
    fn resolve(raw: &Parsed<Self::Raw>, resolver: &mut Resolver<'_>) -> Option<Self::Spec>;

    /// The `examples` table's name for the texts a study reads (`NAME_inputs`, ...); `None` for
    /// a kind that keeps its texts in its own tables.
    const INPUTS: Option<&'static str> = None;

    /// The texts a study reads (the [`Study::INPUTS`] set).
    fn inputs(_spec: &Self::Spec) -> Vec<String> {
        Vec::new()
    }

    /// Units of work a study reports to the progress bar.
    fn work(spec: &Self::Spec) -> usize;

    /// Runs one study (the `cx.index`-th of the kind).
    fn run(spec: &Self::Spec, cx: &mut StudyContext<'_, '_>) -> Result<Self::Output, StudyError>;

    /// Writes one study's files other than tables (such as CAVs) into `run`, laid out as in a
    /// run folder (the study's unit, whose files the run folder gets).
    fn write_files(_output: &Self::Output, _run: &Path) -> Result<(), StudyError> {
        Ok(())
    }

    /// The kind's section of the report, from its rows as read back from the run folder (there
    /// is at least one row).
    fn report(output: &Self::Output, env: &ReportEnv) -> Result<String, ReportError>;

    /// The tables that summarise the kind's results, which `cavern run --json` prints; none by
    /// default.
    fn summary(_output: &mut Self::Output) -> Vec<&mut dyn Rows> {
        Vec::new()
    }

    /// What the kind's rows, as read back from the run folder, say first: a few lines that end
    /// `cavern run`, open the report and are listed by `run --json`; nothing by default.
    fn findings(_output: &Self::Output) -> Vec<Finding> {
        Vec::new()
    }
}

/// The rows a study kind writes, one `Vec` of rows per table.
pub trait Outputs: Default + 'static {
    /// Each table's rows, in the order the kind writes its tables.
    fn tables(&mut self) -> Vec<&mut dyn Rows>;

    /// The tables, for documentation and keys.
    fn infos() -> Vec<&'static TableInfo> {
        Self::default().tables().iter().map(|t| t.info()).collect()
    }

    /// Moves the rows of another study's output after these.
    fn append(&mut self, mut other: Self) {
        for (mine, theirs) in self.tables().into_iter().zip(other.tables()) {
            mine.append(theirs);
        }
    }
}

/// A kind with one table.
impl<R: Row> Outputs for Vec<R> {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![self]
    }
}

/// A study kind that failed to run or to write.
#[derive(Debug, Error)]
pub enum KindError {
    /// A study failed.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// A table could not be written.
    #[error(transparent)]
    Table(#[from] cavern_runfolder::table::TableError),
    /// A unit of work could not be saved or read back.
    #[error(transparent)]
    Unit(#[from] UnitError),
}

/// A study kind behind a pointer: what the registry lists and the runner, report and docs use.
pub trait Kind: Section {
    /// See [`Study::SCHEMA`].
    fn schema(&self) -> &'static str;
    /// See [`Study::FILES`].
    fn files(&self) -> &'static str;
    /// The tables the kind writes.
    fn tables(&self) -> Vec<&'static TableInfo>;
    /// See [`Study::INPUTS`].
    fn inputs_set(&self) -> Option<&'static str>;
    /// See [`Study::inputs`].
    fn inputs(&self, spec: &dyn Spec) -> Vec<String>;
    /// See [`Study::work`].
    fn work(&self, spec: &dyn Spec) -> usize;
    /// Runs those of `studies` (all of this kind, in order) that `work` wants, each on its own
    /// random stream, and saves each one's output as a unit as it finishes.
    fn run(
        &self,
        studies: &[&Planned],
        cx: &mut StudyContext<'_, '_>,
        work: &UnitWork<'_>,
    ) -> Result<(), KindError>;
    /// Writes the kind's tables into `run/tables/` (and its other files into `run/`) from the
    /// saved units of its studies, `units`, in order; returns the tables written, those with
    /// rows.
    fn write(&self, units: &[PathBuf], run: &Path) -> Result<Vec<&'static TableInfo>, KindError>;
    /// The kind's section of the report from its tables in `folder`; `None` when they have no
    /// rows.
    fn report(
        &self,
        folder: &RunFolder,
        env: &ReportEnv,
    ) -> Result<Option<String>, ReportPartError>;
    /// The rows of the kind's summary tables in `folder` as JSON, each with its table's name
    /// (tables the run did not write are left out).
    fn summary(&self, folder: &RunFolder) -> Result<Vec<(&'static str, Value)>, RunFolderError>;
    /// See [`Study::findings`]: from the kind's tables in `folder` (none when they have no rows).
    fn findings(&self, folder: &RunFolder) -> Result<Vec<Finding>, RunFolderError>;
}

/// Why a report section could not be made.
#[derive(Debug, Error)]
pub enum ReportPartError {
    /// A table could not be read back.
    #[error(transparent)]
    Read(#[from] RunFolderError),
    /// The section could not be rendered.
    #[error(transparent)]
    Render(#[from] ReportError),
}

/// A [`Study`] as a [`Kind`].
pub struct Registered<S>(PhantomData<fn() -> S>);

impl<S: Study> Registered<S> {
    /// The kind `S`, for the registry.
    pub const KIND: Registered<S> = Registered(PhantomData);

    /// The kind's tables in `folder` and their number of rows in all.
    fn read(folder: &RunFolder) -> Result<(S::Output, usize), RunFolderError> {
        let mut output = S::Output::default();
        let mut rows = 0;
        for table in output.tables() {
            table.read(folder)?;
            rows += table.len();
        }
        Ok((output, rows))
    }

    fn spec(spec: &dyn Spec) -> Option<&S::Spec> {
        let typed = spec.as_any().downcast_ref::<S::Spec>();
        debug_assert!(
            typed.is_some(),
            "a study of another kind given to {}",
            S::NAME
        );
        typed
    }
}

impl<S: Study> Section for Registered<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn needs_random(&self) -> bool {
        S::NEEDS_RANDOM
    }

    fn keys(&self) -> &'static [&'static str] {
        S::Raw::KEYS
    }

    fn parse(&self, value: Spanned<DeValue<'_>>, parser: &mut Parser<'_>) -> Vec<Box<dyn Any>> {
        let tables = parser.array::<S::Raw>(value, S::NAME);
        tables
            .into_iter()
            .map(|t| Box::new(t) as Box<dyn Any>)
            .collect()
    }

    fn resolve(&self, parsed: &dyn Any, resolver: &mut Resolver<'_>) -> Option<Box<dyn Spec>> {
        let parsed = parsed.downcast_ref::<Parsed<S::Raw>>()?;
        S::resolve(parsed, resolver).map(|spec| Box::new(spec) as Box<dyn Spec>)
    }
}

impl<S: Study> Kind for Registered<S> {
    fn schema(&self) -> &'static str {
        S::SCHEMA
    }

    fn files(&self) -> &'static str {
        S::FILES
    }

    fn tables(&self) -> Vec<&'static TableInfo> {
        S::Output::infos()
    }

    fn inputs_set(&self) -> Option<&'static str> {
        S::INPUTS
    }

    fn inputs(&self, spec: &dyn Spec) -> Vec<String> {
        Self::spec(spec).map_or_else(Vec::new, S::inputs)
    }

    fn work(&self, spec: &dyn Spec) -> usize {
        Self::spec(spec).map_or(0, S::work)
    }

    fn run(
        &self,
        studies: &[&Planned],
        cx: &mut StudyContext<'_, '_>,
        work: &UnitWork<'_>,
    ) -> Result<(), KindError> {
        for study in studies {
            let Some(spec) = Self::spec(&*study.spec) else {
                continue;
            };
            let id = UnitId {
                kind: S::NAME.to_owned(),
                index: study.index,
            };
            if !work.wants(&id) {
                continue;
            }
            cx.index = study.index;
            *cx.rng = unit_rng(cx.seed, &id);
            let mut output = S::run(spec, cx)?;
            let unit = work.units.begin(&id)?;
            S::write_files(&output, &unit.files_dir())?;
            unit.finish(output.tables())?;
        }
        Ok(())
    }

    fn write(&self, units: &[PathBuf], run: &Path) -> Result<Vec<&'static TableInfo>, KindError> {
        let mut output = S::Output::default();
        for unit in units {
            let mut part = S::Output::default();
            units::load(unit, part.tables())?;
            output.append(part);
            units::copy_files(unit, run)?;
        }
        let tables_dir = run.join(cavern_runfolder::run_dir::TABLES_DIR);
        let mut written = Vec::new();
        for table in output.tables() {
            if !table.is_empty() {
                table.write(&tables_dir)?;
                written.push(table.info());
            }
        }
        Ok(written)
    }

    fn report(
        &self,
        folder: &RunFolder,
        env: &ReportEnv,
    ) -> Result<Option<String>, ReportPartError> {
        let (output, rows) = Self::read(folder)?;
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(S::report(&output, env)?))
    }

    fn findings(&self, folder: &RunFolder) -> Result<Vec<Finding>, RunFolderError> {
        let (output, rows) = Self::read(folder)?;
        Ok(if rows == 0 {
            Vec::new()
        } else {
            S::findings(&output)
        })
    }

    fn summary(&self, folder: &RunFolder) -> Result<Vec<(&'static str, Value)>, RunFolderError> {
        let mut output = S::Output::default();
        let mut out = Vec::new();
        for table in S::summary(&mut output) {
            table.read(folder)?;
            if !table.is_empty() {
                out.push((table.info().name, table.json()));
            }
        }
        Ok(out)
    }
}
