//! Tables as serde rows.
//!
//! A row type is a flat struct declared with [`table_rows!`](crate::table_rows): its fields are
//! the table's columns (name, type and meaning, in order), and the macro records the table's name
//! and key columns beside them, so each is written in one place. Rows go to a [`Table`] through
//! serde and come back from a run folder's [`TableData`] the same way; [`Rows`] does both for a
//! `Vec` of rows without knowing its type.

use crate::folder::{Cell, RunFolder, RunFolderError, TableData};
use crate::table::{Table, TableError, Values};
use ciborium::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt::Write as _;
use std::path::Path;

/// The type of a column, as Parquet stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// UTF-8 text.
    Str,
    /// A 64-bit float (NaN and infinities included).
    F64,
    /// An unsigned 64-bit integer.
    U64,
    /// A boolean.
    Bool,
    /// An unsigned integer or null.
    OptU64,
    /// A float or null.
    OptF64,
}

impl CellKind {
    /// How docs/tables.md names the type.
    pub fn doc_name(self) -> &'static str {
        match self {
            CellKind::Str => "string",
            CellKind::F64 => "f64",
            CellKind::U64 => "u64",
            CellKind::Bool => "bool",
            CellKind::OptU64 => "u64 or null",
            CellKind::OptF64 => "f64 or null",
        }
    }

    fn empty(self) -> Values {
        match self {
            CellKind::Str => Values::Str(Vec::new()),
            CellKind::F64 => Values::F64(Vec::new()),
            CellKind::U64 => Values::U64(Vec::new()),
            CellKind::Bool => Values::Bool(Vec::new()),
            CellKind::OptU64 => Values::OptU64(Vec::new()),
            CellKind::OptF64 => Values::OptF64(Vec::new()),
        }
    }
}

/// A Rust type a column can hold.
pub trait CellType {
    /// Its column type.
    const KIND: CellKind;
}

macro_rules! cell_types {
    ($($ty:ty => $kind:ident),+ $(,)?) => {
        $(impl CellType for $ty {
            const KIND: CellKind = CellKind::$kind;
        })+
    };
}

cell_types! {
    String => Str,
    f64 => F64,
    usize => U64,
    u64 => U64,
    bool => Bool,
    Option<usize> => OptU64,
    Option<u64> => OptU64,
    Option<f64> => OptF64,
}

/// One column of a table: its name, type and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column (and field) name.
    pub name: &'static str,
    /// Its type.
    pub kind: CellKind,
    /// Its meaning (the field's doc comment, Markdown).
    pub doc: &'static str,
}

/// What a table is: its name, the columns that name a row, what a row is, and its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    /// File stem in `tables/`.
    pub name: &'static str,
    /// The columns that name a row: `cavern compare` joins two runs' rows on them.
    pub keys: &'static [&'static str],
    /// What one row is (the row type's doc comment, Markdown).
    pub about: &'static str,
    /// Every column, in file order.
    pub columns: &'static [Column],
}

impl TableInfo {
    /// The table's section of docs/tables.md: what a row is (its key sentence ending the first
    /// paragraph), its columns, then any code example the row type's doc ends with.
    pub fn markdown(&self) -> String {
        let mut out = format!("## `{}`\n\n", self.name);
        let about = doc_text(self.about);
        let (text, example) = match about.find("```") {
            Some(at) => (about[..at].trim_end(), Some(&about[at..])),
            None => (about.as_str(), None),
        };
        let keys: Vec<String> = self.keys.iter().map(|k| format!("`{k}`")).collect();
        let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
        let _ = write!(out, "{first} Key: {}.\n\n", keys.join(", "));
        if !rest.is_empty() {
            let _ = write!(out, "{rest}\n\n");
        }
        out.push_str("| column | type | meaning |\n|---|---|---|\n");
        for column in self.columns {
            let meaning = doc_text(column.doc).replace('\n', " ");
            let _ = writeln!(
                out,
                "| `{}` | {} | {meaning} |",
                column.name,
                column.kind.doc_name()
            );
        }
        if let Some(example) = example {
            let _ = write!(out, "\n{example}\n");
        }
        out
    }
}

/// A doc comment's text: each line without the one space `///` leaves, trimmed at both ends.
fn doc_text(doc: &str) -> String {
    let lines: Vec<&str> = doc
        .lines()
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    lines.join("\n").trim().to_owned()
}

/// A row of one table; implemented by [`table_rows!`](crate::table_rows).
pub trait Row: Serialize + DeserializeOwned + 'static {
    /// The table the row belongs to.
    const TABLE: TableInfo;
}

/// Declares a table's row type: a flat struct whose fields are the columns, with the table's name
/// and key columns. Doc comments become docs/tables.md: the struct's says what a row is, each
/// field's what its column holds. Keys must name fields (checked at compile time).
///
/// ```ignore
/// table_rows! {
///     /// One row per class of the trained head.
///     #[table("head", keys = [class])]
///     pub struct HeadRow {
///         /// class name
///         pub class: String,
///         /// accuracy on the held-out examples
///         pub heldout_accuracy: f64,
///     }
/// }
/// ```
#[macro_export]
macro_rules! table_rows {
    (
        $(#[doc = $about:literal])*
        #[table($name:literal, keys = [$($key:ident),* $(,)?])]
        $vis:vis struct $row:ident {
            $(
                $(#[doc = $doc:literal])*
                $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[doc = $about])*
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        $vis struct $row {
            $($(#[doc = $doc])* $fvis $field: $ty,)*
        }

        impl $crate::rows::Row for $row {
            const TABLE: $crate::rows::TableInfo = $crate::rows::TableInfo {
                name: $name,
                keys: &[$(stringify!($key)),*],
                about: concat!($($about, "\n"),*),
                columns: &[$($crate::rows::Column {
                    name: stringify!($field),
                    kind: <$ty as $crate::rows::CellType>::KIND,
                    doc: concat!($($doc, "\n"),*),
                }),*],
            };
        }

        // Every key names a field.
        const _: fn(&$row) = |row| {
            $(let _ = &row.$key;)*
        };
    };
}

/// Builds the table of `rows`, its columns typed by the row type.
pub fn to_table<R: Row>(rows: &[R]) -> Result<Table, TableError> {
    let info = &R::TABLE;
    let problem = |detail: String| TableError::Row {
        table: info.name.to_owned(),
        detail,
    };
    let mut columns: Vec<Values> = info.columns.iter().map(|c| c.kind.empty()).collect();
    for row in rows {
        let value = Value::serialized(row).map_err(|e| problem(e.to_string()))?;
        let Value::Map(fields) = value else {
            return Err(problem("a row is not a struct".into()));
        };
        if fields.len() != columns.len() {
            return Err(problem(format!(
                "a row has {} fields, the table {} columns",
                fields.len(),
                columns.len()
            )));
        }
        for ((_, value), (column, values)) in
            fields.iter().zip(info.columns.iter().zip(&mut columns))
        {
            push(values, value).map_err(|()| {
                problem(format!(
                    "column `{}` ({}) cannot hold {value:?}",
                    column.name,
                    column.kind.doc_name()
                ))
            })?;
        }
    }
    let mut table = Table::new(info.name)?;
    for (column, values) in info.columns.iter().zip(columns) {
        table = table.with_values(column.name, values)?;
    }
    Ok(table)
}

/// Appends one serialized field to its column.
fn push(values: &mut Values, value: &Value) -> Result<(), ()> {
    let unsigned = |i: &ciborium::value::Integer| u64::try_from(i128::from(*i)).map_err(drop);
    match (values, value) {
        (Values::Str(v), Value::Text(s)) => v.push(s.clone()),
        (Values::F64(v), Value::Float(x)) => v.push(*x),
        (Values::U64(v), Value::Integer(i)) => v.push(unsigned(i)?),
        (Values::Bool(v), Value::Bool(b)) => v.push(*b),
        (Values::OptU64(v), Value::Null) => v.push(None),
        (Values::OptU64(v), Value::Integer(i)) => v.push(Some(unsigned(i)?)),
        (Values::OptF64(v), Value::Null) => v.push(None),
        (Values::OptF64(v), Value::Float(x)) => v.push(Some(*x)),
        _ => return Err(()),
    }
    Ok(())
}

/// The rows of a table read from a run folder. Every column of the row type must be there
/// (others are ignored); an integer in a float column is read as a float.
pub fn from_table<R: Row>(table: &TableData) -> Result<Vec<R>, RunFolderError> {
    let info = &R::TABLE;
    let indices = info
        .columns
        .iter()
        .map(|c| {
            table
                .column_index(c.name)
                .ok_or_else(|| table.column_error(format!("no column `{}`", c.name)))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    (0..table.n_rows())
        .map(|row| {
            let fields = info
                .columns
                .iter()
                .zip(&indices)
                .map(|(column, &i)| {
                    let value = cell_value(column.kind, table.cell(i, row)).ok_or_else(|| {
                        table.column_error(format!(
                            "column `{}` row {row} is not {}",
                            column.name,
                            expected(column.kind)
                        ))
                    })?;
                    Ok((Value::Text(column.name.to_owned()), value))
                })
                .collect::<Result<Vec<_>, RunFolderError>>()?;
            Value::Map(fields)
                .deserialized()
                .map_err(|e| table.column_error(format!("row {row}: {e}")))
        })
        .collect()
}

/// A cell as the serialized value of a column of `kind`; `None` when it does not fit.
fn cell_value(kind: CellKind, cell: &Cell) -> Option<Value> {
    Some(match (kind, cell) {
        (CellKind::Str, Cell::Str(s)) => Value::Text(s.clone()),
        // A CSV reader takes an empty text for a missing one.
        (CellKind::Str, Cell::Null) => Value::Text(String::new()),
        (CellKind::F64 | CellKind::OptF64, Cell::Float(x)) => Value::Float(*x),
        (CellKind::F64 | CellKind::OptF64, Cell::Int(i)) => Value::Float(*i as f64),
        (CellKind::U64 | CellKind::OptU64, Cell::Int(i)) => {
            Value::Integer(u64::try_from(*i).ok()?.into())
        }
        (CellKind::Bool, Cell::Bool(b)) => Value::Bool(*b),
        (CellKind::OptU64 | CellKind::OptF64, Cell::Null) => Value::Null,
        _ => return None,
    })
}

/// What a column of `kind` holds, for messages.
fn expected(kind: CellKind) -> &'static str {
    match kind {
        CellKind::Str => "text",
        CellKind::F64 => "a number",
        CellKind::U64 => "a non-negative integer",
        CellKind::Bool => "true or false",
        CellKind::OptU64 => "a non-negative integer or null",
        CellKind::OptF64 => "a number or null",
    }
}

/// The rows of one table, whatever their type: how a study's output is written, read back and
/// joined with other studies' without its type being known.
pub trait Rows {
    /// The table.
    fn info(&self) -> &'static TableInfo;
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes `NAME.parquet` and `NAME.csv` into `tables_dir`.
    fn write(&self, tables_dir: &Path) -> Result<(), TableError>;
    /// Replaces the rows with the folder's table (none when the run has no such table).
    fn read(&mut self, folder: &RunFolder) -> Result<(), RunFolderError>;
    /// Moves the rows of `other`, the same table, after these.
    fn append(&mut self, other: &mut dyn Rows);
    /// The rows as a JSON array of objects (non-finite numbers become `null`).
    fn json(&self) -> serde_json::Value;
    /// For [`Rows::append`]: the rows as [`Any`].
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// The rows as CBOR, every number bit for bit: how a finished unit of work is saved.
    fn to_cbor(&self) -> Result<Vec<u8>, String>;
    /// Replaces the rows with those [`Rows::to_cbor`] saved.
    fn load_cbor(&mut self, bytes: &[u8]) -> Result<(), String>;
}

impl<R: Row> Rows for Vec<R> {
    fn info(&self) -> &'static TableInfo {
        &R::TABLE
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn write(&self, tables_dir: &Path) -> Result<(), TableError> {
        to_table(self)?.write(tables_dir)
    }

    fn read(&mut self, folder: &RunFolder) -> Result<(), RunFolderError> {
        *self = folder.rows()?;
        Ok(())
    }

    fn append(&mut self, other: &mut dyn Rows) {
        let other = other.as_any_mut().downcast_mut::<Vec<R>>();
        debug_assert!(other.is_some(), "rows of another table appended");
        if let Some(other) = other {
            Vec::append(self, other);
        }
    }

    fn json(&self) -> serde_json::Value {
        // Flat structs of strings, numbers and booleans always serialize.
        serde_json::to_value(self).unwrap_or_default()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn to_cbor(&self) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        ciborium::into_writer(self, &mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    fn load_cbor(&mut self, bytes: &[u8]) -> Result<(), String> {
        *self = ciborium::from_reader(bytes).map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::RunFolder;

    crate::table_rows! {
        /// One row per thing.
        ///
        /// A second paragraph.
        #[table("things", keys = [name, step])]
        pub struct Thing {
            /// the thing's
            /// name
            pub name: String,
            /// its step
            pub step: usize,
            /// a score
            pub score: f64,
            /// maybe a count
            pub count: Option<usize>,
            /// maybe a number
            pub number: Option<f64>,
            /// a flag
            pub flag: bool,
        }
    }

    fn things() -> Vec<Thing> {
        vec![
            Thing {
                name: "a, \"b\"".into(),
                step: 3,
                score: f64::NAN,
                count: None,
                number: Some(f64::NEG_INFINITY),
                flag: true,
            },
            Thing {
                name: String::new(),
                step: 0,
                score: 0.1,
                count: Some(7),
                number: None,
                flag: false,
            },
        ]
    }

    #[test]
    fn the_macro_records_name_keys_types_and_docs() {
        let info = Thing::TABLE;
        assert_eq!((info.name, info.keys), ("things", &["name", "step"][..]));
        let kinds: Vec<CellKind> = info.columns.iter().map(|c| c.kind).collect();
        use CellKind::*;
        assert_eq!(kinds, [Str, U64, F64, OptU64, OptF64, Bool]);
        assert_eq!(doc_text(info.columns[0].doc), "the thing's\nname");
        let markdown = info.markdown();
        assert!(
            markdown.starts_with(
                "## `things`\n\nOne row per thing. Key: `name`, `step`.\n\nA second paragraph.\n\n"
            ),
            "{markdown}"
        );
        assert!(markdown.contains("| `name` | string | the thing's name |\n"));
        assert!(markdown.contains("| `count` | u64 or null | maybe a count |\n"));
    }

    #[test]
    fn rows_round_trip_through_parquet_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let tables = dir.path().join("tables");
        std::fs::create_dir(&tables).unwrap();
        std::fs::write(
            dir.path().join("manifest.json"),
            crate::manifest::tests::MINIMAL,
        )
        .unwrap();
        things().write(&tables).unwrap();
        let folder = RunFolder::open(dir.path()).unwrap();
        let mut read: Vec<Thing> = Vec::new();
        read.read(&folder).unwrap();
        // NaN != NaN: compare through their debug text, which prints it.
        assert_eq!(format!("{read:?}"), format!("{:?}", things()));
        // Without the Parquet file the CSV is read.
        std::fs::remove_file(tables.join("things.parquet")).unwrap();
        read.read(&folder).unwrap();
        assert_eq!(format!("{read:?}"), format!("{:?}", things()));
    }

    #[test]
    fn rows_round_trip_through_cbor_bit_for_bit() {
        let mut read: Vec<Thing> = Vec::new();
        read.load_cbor(&things().to_cbor().unwrap()).unwrap();
        assert_eq!(format!("{read:?}"), format!("{:?}", things()));
        assert!(read.load_cbor(b"not cbor").is_err());
    }

    #[test]
    fn a_missing_column_or_a_wrong_type_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let tables = dir.path().join("tables");
        std::fs::create_dir(&tables).unwrap();
        std::fs::write(
            dir.path().join("manifest.json"),
            crate::manifest::tests::MINIMAL,
        )
        .unwrap();
        Table::new("things")
            .and_then(|t| t.with_str("name", vec!["x".into()]))
            .and_then(|t| t.with_str("step", vec!["three".into()]))
            .and_then(|t| t.write(&tables))
            .unwrap();
        let folder = RunFolder::open(dir.path()).unwrap();
        let err = Vec::<Thing>::new().read(&folder).unwrap_err().to_string();
        assert!(err.contains("no column `score`"), "{err}");
        Table::new("things")
            .and_then(|t| t.with_str("name", vec!["x".into()]))
            .and_then(|t| t.with_str("step", vec!["three".into()]))
            .and_then(|t| t.with_f64("score", vec![1.0]))
            .and_then(|t| t.with_opt_u64("count", vec![None]))
            .and_then(|t| t.with_opt_f64("number", vec![None]))
            .and_then(|t| t.with_bool("flag", vec![true]))
            .and_then(|t| t.write(&tables))
            .unwrap();
        let err = Vec::<Thing>::new().read(&folder).unwrap_err().to_string();
        assert!(
            err.contains("column `step` row 0 is not a non-negative integer"),
            "{err}"
        );
    }

    #[test]
    fn appending_moves_rows_of_the_same_table() {
        let mut all = things();
        let mut more: Vec<Thing> = things();
        Rows::append(&mut all, &mut more);
        assert_eq!((all.len(), more.len()), (4, 0));
    }
}
