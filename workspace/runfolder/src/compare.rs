//! Comparing two run folders: which numbers moved.
//!
//! Tables are joined on their key columns, as the manifests record them (see
//! [`Manifest::table_keys`](crate::manifest::Manifest::table_keys)); rows whose key repeats are
//! paired in order of appearance, and a table without keys pairs its rows by position. Every other column present in both runs is compared cell by cell:
//! numbers differ when `|b - a| > tolerance` (`NaN` equals `NaN`), text and booleans when they
//! are not equal. The manifests are compared field by field except `timings`, which always
//! differ. The CAV safetensors files are compared tensor by tensor with the same tolerance.

use crate::folder::{Cell, RunFolder, RunFolderError, TableData};
use safetensors::SafeTensors;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Manifest fields left out of the comparison: wall-clock times differ on every run.
pub const IGNORED_MANIFEST_FIELDS: [&str; 1] = ["timings"];

/// The key columns of tables whose runs' manifests do not record them (runs made before
/// manifests did): the table's current declaration, if any.
pub type KeyFallback<'a> = &'a dyn Fn(&str) -> Option<&'static [&'static str]>;

/// Everything that differs between two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Run A.
    pub a: PathBuf,
    /// Run B.
    pub b: PathBuf,
    /// Absolute tolerance for numbers.
    pub tolerance: f64,
    /// Whether anything differs.
    pub differs: bool,
    /// Manifest fields that differ (timings are ignored).
    pub manifest: Vec<FieldDiff>,
    /// One entry per table present in either run.
    pub tables: Vec<TableDiff>,
    /// The CAV files.
    pub cavs: CavsDiff,
}

/// A manifest field that differs; `None` where the field is absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// Dotted path, e.g. `experiment.sha256`, `tables[2]`.
    pub field: String,
    /// Value in A.
    pub a: Option<Value>,
    /// Value in B.
    pub b: Option<Value>,
}

/// How one table differs.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    /// Table name.
    pub table: String,
    /// Whether run A has the table.
    pub in_a: bool,
    /// Whether run B has the table.
    pub in_b: bool,
    /// Rows in A.
    pub rows_a: usize,
    /// Rows in B.
    pub rows_b: usize,
    /// Columns only A has.
    pub columns_only_in_a: Vec<String>,
    /// Columns only B has.
    pub columns_only_in_b: Vec<String>,
    /// Cells that differ, for rows in both runs.
    pub changed: Vec<CellDiff>,
    /// Keys of rows only A has.
    pub only_in_a: Vec<RowKey>,
    /// Keys of rows only B has.
    pub only_in_b: Vec<RowKey>,
}

impl TableDiff {
    /// Whether the table differs at all.
    pub fn differs(&self) -> bool {
        self.in_a != self.in_b
            || !self.columns_only_in_a.is_empty()
            || !self.columns_only_in_b.is_empty()
            || !self.changed.is_empty()
            || !self.only_in_a.is_empty()
            || !self.only_in_b.is_empty()
    }
}

/// The key of a row: its key columns' values, and which occurrence of that key it is (0 for
/// the first). For tables without key columns, the row number.
#[derive(Debug, Clone, PartialEq)]
pub struct RowKey {
    /// (column, value) for each key column.
    pub parts: Vec<(String, Cell)>,
    /// 0 for the first row with these values, 1 for the second, ...
    pub occurrence: usize,
}

impl RowKey {
    fn join_key(&self) -> String {
        let mut key: Vec<String> = self.parts.iter().map(|(_, v)| format!("{v:?}")).collect();
        key.push(self.occurrence.to_string());
        key.join("\u{1f}")
    }
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.parts.is_empty() {
            return write!(f, "row {}", self.occurrence);
        }
        let parts: Vec<String> = self.parts.iter().map(|(c, v)| format!("{c}={v}")).collect();
        write!(f, "{}", parts.join(" "))?;
        if self.occurrence > 0 {
            write!(f, " (occurrence {})", self.occurrence + 1)?;
        }
        Ok(())
    }
}

impl Serialize for RowKey {
    /// An object of the key columns in table order (`{"row": n}` without key columns), with
    /// `occurrence` (1-based) added for repeated keys.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if self.parts.is_empty() {
            map.serialize_entry("row", &self.occurrence)?;
        } else {
            for (column, value) in &self.parts {
                map.serialize_entry(column, value)?;
            }
            if self.occurrence > 0 {
                map.serialize_entry("occurrence", &(self.occurrence + 1))?;
            }
        }
        map.end()
    }
}

/// One cell that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellDiff {
    /// The row.
    pub key: RowKey,
    /// The column.
    pub column: String,
    /// Value in A.
    pub a: Cell,
    /// Value in B.
    pub b: Cell,
    /// `b - a` for numbers.
    pub difference: Option<f64>,
}

/// How the CAV files differ.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CavsDiff {
    /// Files in both runs whose tensors differ.
    pub changed: Vec<CavDiff>,
    /// Files only A has.
    pub only_in_a: Vec<String>,
    /// Files only B has.
    pub only_in_b: Vec<String>,
}

/// A CAV file whose tensors differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CavDiff {
    /// File name.
    pub file: String,
    /// Largest absolute difference over all tensors; `None` when the files cannot be compared
    /// number by number (different tensors or shapes, unreadable file).
    pub max_abs_difference: Option<f64>,
    /// What differs, in words.
    pub detail: String,
}

/// Compares runs `a` and `b`; `tolerance` is the absolute tolerance for numbers. A table's key
/// columns are those A's manifest records, else B's, else `fallback`'s.
pub fn compare_runs(
    a: &Path,
    b: &Path,
    tolerance: f64,
    fallback: KeyFallback<'_>,
) -> Result<Comparison, RunFolderError> {
    let (run_a, run_b) = (RunFolder::open(a)?, RunFolder::open(b)?);
    let mut manifest = Vec::new();
    diff_json(
        "",
        Some(&run_a.manifest_json),
        Some(&run_b.manifest_json),
        &mut manifest,
    );
    let mut tables = Vec::new();
    for name in table_order(&run_a, &run_b) {
        let keys = key_columns(&name, &run_a, &run_b, fallback);
        tables.push(diff_table(
            &name,
            &keys,
            run_a.table(&name)?.as_ref(),
            run_b.table(&name)?.as_ref(),
            tolerance,
        ));
    }
    let cavs = diff_cavs(&run_a.cavs_dir(), &run_b.cavs_dir(), tolerance);
    let differs = !manifest.is_empty()
        || tables.iter().any(TableDiff::differs)
        || !(cavs.changed.is_empty() && cavs.only_in_a.is_empty() && cavs.only_in_b.is_empty());
    Ok(Comparison {
        a: a.to_owned(),
        b: b.to_owned(),
        tolerance,
        differs,
        manifest,
        tables,
        cavs,
    })
}

/// Every table of either run: in the order A's manifest lists them, then B's, then the others
/// by name.
fn table_order(a: &RunFolder, b: &RunFolder) -> Vec<String> {
    let listed = a.manifest.tables.iter().chain(&b.manifest.tables).cloned();
    let found: BTreeSet<String> = a.table_names().into_iter().chain(b.table_names()).collect();
    let mut names: Vec<String> = Vec::new();
    for name in listed.chain(found.iter().cloned()) {
        if found.contains(&name) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The key columns of table `name`: as A's manifest records them, else B's, else `fallback`'s;
/// none when nobody knows them.
fn key_columns(name: &str, a: &RunFolder, b: &RunFolder, fallback: KeyFallback<'_>) -> Vec<String> {
    let recorded = |run: &RunFolder| run.manifest.table_keys.get(name).cloned();
    recorded(a)
        .or_else(|| recorded(b))
        .or_else(|| fallback(name).map(|keys| keys.iter().map(|k| k.to_string()).collect()))
        .unwrap_or_default()
}

/// Walks two JSON values, recording the leaves that differ.
fn diff_json(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<FieldDiff>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                if path.is_empty() && IGNORED_MANIFEST_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_json(&field, x.get(key), y.get(key), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                diff_json(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        _ if a == b => {}
        _ => out.push(FieldDiff {
            field: path.to_owned(),
            a: a.cloned(),
            b: b.cloned(),
        }),
    }
}

/// The keys of a table's rows, in row order.
fn row_keys(table: &TableData, keys: &[String]) -> Vec<RowKey> {
    let columns: Vec<(String, usize)> = keys
        .iter()
        .filter_map(|c| Some((c.clone(), table.column_index(c)?)))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    (0..table.n_rows())
        .map(|row| {
            let parts: Vec<(String, Cell)> = columns
                .iter()
                .map(|(name, i)| (name.clone(), table.cell(*i, row).clone()))
                .collect();
            let mut key = RowKey {
                parts,
                occurrence: 0,
            };
            if key.parts.is_empty() {
                key.occurrence = row;
            } else {
                let count = seen.entry(key.join_key()).or_default();
                key.occurrence = *count;
                *count += 1;
            }
            key
        })
        .collect()
}

fn diff_table(
    name: &str,
    keys: &[String],
    a: Option<&TableData>,
    b: Option<&TableData>,
    tolerance: f64,
) -> TableDiff {
    let mut diff = TableDiff {
        table: name.to_owned(),
        in_a: a.is_some(),
        in_b: b.is_some(),
        rows_a: a.map_or(0, TableData::n_rows),
        rows_b: b.map_or(0, TableData::n_rows),
        columns_only_in_a: Vec::new(),
        columns_only_in_b: Vec::new(),
        changed: Vec::new(),
        only_in_a: Vec::new(),
        only_in_b: Vec::new(),
    };
    let (Some(a), Some(b)) = (a, b) else {
        return diff;
    };
    diff.columns_only_in_a = missing_from(&a.columns, &b.columns);
    diff.columns_only_in_b = missing_from(&b.columns, &a.columns);
    let compared: Vec<(&String, usize, usize)> = a
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !keys.contains(c))
        .filter_map(|(i, c)| Some((c, i, b.column_index(c)?)))
        .collect();
    let keys_b = row_keys(b, keys);
    let mut rows_b: HashMap<String, usize> = keys_b
        .iter()
        .enumerate()
        .map(|(row, key)| (key.join_key(), row))
        .collect();
    for (row_a, key) in row_keys(a, keys).into_iter().enumerate() {
        let Some(row_b) = rows_b.remove(&key.join_key()) else {
            diff.only_in_a.push(key);
            continue;
        };
        for &(column, ia, ib) in &compared {
            let (x, y) = (a.cell(ia, row_a), b.cell(ib, row_b));
            if cells_differ(x, y, tolerance) {
                diff.changed.push(CellDiff {
                    key: key.clone(),
                    column: column.clone(),
                    a: x.clone(),
                    b: y.clone(),
                    difference: x.number().zip(y.number()).map(|(x, y)| y - x),
                });
            }
        }
    }
    diff.only_in_b = keys_b
        .into_iter()
        .filter(|k| rows_b.contains_key(&k.join_key()))
        .collect();
    diff
}

fn missing_from(columns: &[String], other: &[String]) -> Vec<String> {
    columns
        .iter()
        .filter(|c| !other.contains(c))
        .cloned()
        .collect()
}

/// Whether two cells differ: numbers by more than `tolerance` (`NaN` equals `NaN`; integers
/// exactly when the tolerance is 0), anything else when not equal.
pub fn cells_differ(a: &Cell, b: &Cell, tolerance: f64) -> bool {
    if let (Cell::Int(x), Cell::Int(y)) = (a, b)
        && tolerance == 0.0
    {
        return x != y;
    }
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => numbers_differ(x, y, tolerance),
        _ => a != b,
    }
}

fn numbers_differ(x: f64, y: f64, tolerance: f64) -> bool {
    if x.is_nan() || y.is_nan() {
        return x.is_nan() != y.is_nan();
    }
    // Equal infinities subtract to NaN, so they are compared directly first.
    let gap = (y - x).abs();
    x != y && (gap.is_nan() || gap > tolerance)
}

/// Compares the `.safetensors` files of two `cavs/` folders.
fn diff_cavs(a: &Path, b: &Path, tolerance: f64) -> CavsDiff {
    let (files_a, files_b) = (cav_files(a), cav_files(b));
    let mut diff = CavsDiff {
        only_in_a: missing_from(&files_a, &files_b),
        only_in_b: missing_from(&files_b, &files_a),
        ..CavsDiff::default()
    };
    for file in files_a.iter().filter(|f| files_b.contains(f)) {
        let (x, y) = (fs::read(a.join(file)), fs::read(b.join(file)));
        let changed = match (x, y) {
            (Ok(x), Ok(y)) if x == y => None,
            (Ok(x), Ok(y)) => diff_safetensors(&x, &y, tolerance),
            _ => Some((None, "cannot read the file in both runs".to_owned())),
        };
        if let Some((max_abs_difference, detail)) = changed {
            diff.changed.push(CavDiff {
                file: file.clone(),
                max_abs_difference,
                detail,
            });
        }
    }
    diff
}

fn cav_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    names.sort();
    names
}

/// `None` when the f32 tensors agree within `tolerance`; else the largest difference and what
/// differs.
fn diff_safetensors(a: &[u8], b: &[u8], tolerance: f64) -> Option<(Option<f64>, String)> {
    let (Ok(x), Ok(y)) = (SafeTensors::deserialize(a), SafeTensors::deserialize(b)) else {
        return Some((None, "not valid safetensors in both runs".to_owned()));
    };
    let (mut names_x, mut names_y) = (x.names(), y.names());
    names_x.sort();
    names_y.sort();
    if names_x != names_y {
        return Some((None, "the files hold different tensors".to_owned()));
    }
    let mut max = 0.0_f64;
    let mut changed = Vec::new();
    for name in names_x {
        let (Ok(tx), Ok(ty)) = (x.tensor(name), y.tensor(name)) else {
            return Some((None, format!("cannot read tensor `{name}`")));
        };
        if tx.shape() != ty.shape() || tx.dtype() != ty.dtype() {
            return Some((None, format!("tensor `{name}` has another shape or type")));
        }
        if tx.dtype() != safetensors::tensor::Dtype::F32 {
            if tx.data() != ty.data() {
                return Some((None, format!("tensor `{name}` differs")));
            }
            continue;
        }
        let floats = |bytes: &[u8]| -> Vec<f64> {
            bytes
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        };
        let mut differs = false;
        for (p, q) in floats(tx.data()).into_iter().zip(floats(ty.data())) {
            if numbers_differ(p, q, tolerance) {
                differs = true;
                max = max.max((q - p).abs());
            }
        }
        if differs {
            changed.push(format!("`{name}`"));
        }
    }
    (!changed.is_empty()).then(|| (Some(max), format!("{} differ", changed.join(" and "))))
}

impl Comparison {
    /// The comparison as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The comparison as text: the manifest fields, then per table the changed cells
    /// (`key  column  a -> b  (difference)`) and the rows only one run has, then the CAV files;
    /// `no differences` when the runs agree.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "A: {}", self.a.display());
        let _ = writeln!(s, "B: {}", self.b.display());
        if self.tolerance > 0.0 {
            let _ = writeln!(
                s,
                "numbers within {:?} of each other count as equal",
                self.tolerance
            );
        }
        if !self.manifest.is_empty() {
            let _ = writeln!(
                s,
                "manifest: {} field{} differ{} (timings are not compared)",
                self.manifest.len(),
                plural(self.manifest.len()),
                if self.manifest.len() == 1 { "s" } else { "" },
            );
            for field in &self.manifest {
                let show =
                    |v: &Option<Value>| v.as_ref().map_or("(absent)".into(), Value::to_string);
                let _ = writeln!(
                    s,
                    "  {}: {} -> {}",
                    field.field,
                    show(&field.a),
                    show(&field.b)
                );
            }
        }
        for table in &self.tables {
            table.write_text(&mut s);
        }
        self.cavs.write_text(&mut s);
        if !self.differs {
            let _ = writeln!(s, "no differences (timings are not compared)");
        }
        s
    }
}

impl TableDiff {
    fn write_text(&self, s: &mut String) {
        let name = &self.table;
        match (self.in_a, self.in_b) {
            (true, false) => {
                let _ = writeln!(s, "table {name}: only in A ({} rows)", self.rows_a);
                return;
            }
            (false, true) => {
                let _ = writeln!(s, "table {name}: only in B ({} rows)", self.rows_b);
                return;
            }
            _ => {}
        }
        if !self.differs() {
            let _ = writeln!(s, "table {name}: identical ({} rows)", self.rows_a);
            return;
        }
        let _ = writeln!(
            s,
            "table {name}: {} cell{} changed, {} row{} only in A, {} only in B ({} rows in A, {} in B)",
            self.changed.len(),
            plural(self.changed.len()),
            self.only_in_a.len(),
            plural(self.only_in_a.len()),
            self.only_in_b.len(),
            self.rows_a,
            self.rows_b,
        );
        for (columns, side) in [
            (&self.columns_only_in_a, "A"),
            (&self.columns_only_in_b, "B"),
        ] {
            if !columns.is_empty() {
                let _ = writeln!(s, "  columns only in {side}: {}", columns.join(", "));
            }
        }
        for cell in &self.changed {
            let difference = cell
                .difference
                .map(|d| format!("  ({d:+?})"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {}  {}: {} -> {}{difference}",
                cell.key, cell.column, cell.a, cell.b
            );
        }
        for (keys, side) in [(&self.only_in_a, "A"), (&self.only_in_b, "B")] {
            for key in keys {
                let _ = writeln!(s, "  only in {side}: {key}");
            }
        }
    }
}

impl CavsDiff {
    fn write_text(&self, s: &mut String) {
        if self.changed.is_empty() && self.only_in_a.is_empty() && self.only_in_b.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "cavs: {} file{} changed, {} only in A, {} only in B",
            self.changed.len(),
            plural(self.changed.len()),
            self.only_in_a.len(),
            self.only_in_b.len()
        );
        for cav in &self.changed {
            let max = cav
                .max_abs_difference
                .map(|m| format!(", max |difference| {m:?}"))
                .unwrap_or_default();
            let _ = writeln!(s, "  {}: {}{max}", cav.file, cav.detail);
        }
        for (files, side) in [(&self.only_in_a, "A"), (&self.only_in_b, "B")] {
            for file in files {
                let _ = writeln!(s, "  only in {side}: {file}");
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_with_tolerance_and_nan() {
        assert!(!cells_differ(&Cell::Float(0.5), &Cell::Float(0.5), 0.0));
        assert!(cells_differ(
            &Cell::Float(0.5),
            &Cell::Float(0.5000001),
            0.0
        ));
        assert!(!cells_differ(
            &Cell::Float(0.5),
            &Cell::Float(0.5000001),
            1e-6
        ));
        assert!(!cells_differ(
            &Cell::Float(f64::NAN),
            &Cell::Float(f64::NAN),
            0.0
        ));
        assert!(cells_differ(
            &Cell::Float(f64::NAN),
            &Cell::Float(1.0),
            10.0
        ));
        let inf = f64::INFINITY;
        assert!(!cells_differ(&Cell::Float(inf), &Cell::Float(inf), 0.0));
        assert!(cells_differ(&Cell::Float(inf), &Cell::Float(-inf), 0.0));
        assert!(cells_differ(&Cell::Int(1), &Cell::Int(2), 0.0));
        assert!(!cells_differ(&Cell::Int(1), &Cell::Int(2), 1.0));
        assert!(cells_differ(&Cell::Bool(true), &Cell::Bool(false), 1.0));
    }

    #[test]
    fn manifest_walk_skips_timings_and_names_nested_fields() {
        let a = serde_json::json!({"seed": 7, "timings": [1.0], "model": {"sha256": "a"}, "tables": ["x"]});
        let b = serde_json::json!({"seed": 8, "timings": [2.0], "model": {"sha256": "b"}, "tables": ["x", "y"]});
        let mut out = Vec::new();
        diff_json("", Some(&a), Some(&b), &mut out);
        let fields: Vec<&str> = out.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["model.sha256", "seed", "tables[1]"]);
        assert_eq!(out[2].a, None);
    }

    #[test]
    fn repeated_keys_pair_in_order() {
        let key = |occurrence| RowKey {
            parts: vec![("concept".into(), Cell::Str("x".into()))],
            occurrence,
        };
        assert_ne!(key(0).join_key(), key(1).join_key());
        assert_eq!(key(1).to_string(), "concept=x (occurrence 2)");
        assert_eq!(
            serde_json::to_string(&key(1)).unwrap(),
            r#"{"concept":"x","occurrence":2}"#
        );
    }

    /// A run folder at `dir` whose table `things` has the rows `(name, score)`, and whose
    /// manifest records `keys` as its key columns (none: a manifest from before they were).
    fn run_with(dir: &Path, rows: &[(&str, f64)], keys: Option<&[&str]>) {
        use crate::manifest::Manifest;
        use crate::table::Table;
        fs::create_dir_all(dir.join("tables")).unwrap();
        fs::create_dir_all(dir.join("cavs")).unwrap();
        Table::new("things")
            .and_then(|t| t.with_str("name", rows.iter().map(|r| r.0.to_string()).collect()))
            .and_then(|t| t.with_f64("score", rows.iter().map(|r| r.1).collect()))
            .and_then(|t| t.write(&dir.join("tables")))
            .unwrap();
        let (mut manifest, _) = Manifest::parse(crate::manifest::tests::MINIMAL).unwrap();
        manifest.tables = vec!["things".into()];
        if let Some(keys) = keys {
            let keys = keys.iter().map(|k| k.to_string()).collect();
            manifest.table_keys.insert("things".into(), keys);
        }
        manifest.write(dir).unwrap();
    }

    #[test]
    fn keys_come_from_the_manifest_else_from_the_fallback_else_rows_pair_by_position() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        run_with(&a, &[("x", 1.0), ("y", 2.0)], None);
        run_with(&b, &[("y", 2.0), ("x", 1.0)], None);
        let known: KeyFallback<'_> = &|t| (t == "things").then_some(&["name"][..]);
        let unknown: KeyFallback<'_> = &|_| None;
        // An older run: the table's declared keys pair the rows.
        assert!(!compare_runs(&a, &b, 0.0, known).unwrap().differs);
        // Without keys the rows pair by position, so both rows differ.
        let by_position = compare_runs(&a, &b, 0.0, unknown).unwrap();
        assert_eq!(by_position.tables[0].changed.len(), 4, "{by_position:#?}");
        // Keys recorded in the manifest win over the fallback.
        let c = dir.path().join("c");
        run_with(&c, &[("x", 1.0), ("y", 2.0)], Some(&["name"]));
        let d = dir.path().join("d");
        run_with(&d, &[("y", 2.0), ("x", 1.5)], Some(&["name"]));
        let recorded = compare_runs(&c, &d, 0.0, unknown).unwrap();
        let changed = &recorded.tables[0].changed;
        assert_eq!(changed.len(), 1, "{recorded:#?}");
        assert_eq!(
            (changed[0].key.to_string(), changed[0].column.as_str()),
            ("name=x".into(), "score")
        );
        assert_eq!(changed[0].difference, Some(0.5));
    }
}
