//! Parsing of everything before the data section: header, metadata and tensor table.

use std::collections::{BTreeMap, BTreeSet};

use super::cursor::{Cursor, Fault};
use super::error::GgufError;
use super::tensor::TensorInfo;
use super::types::GgmlType;
use super::value::MetaValue;

/// The metadata key that sets the data alignment.
pub(super) const ALIGNMENT_KEY: &str = "general.alignment";
/// The alignment when the file does not set one.
pub(super) const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most this many dimensions.
const MAX_DIMS: u32 = 4;

/// The parsed header of a GGUF file.
pub(super) struct Header {
    /// Format version, 2 or 3.
    pub version: u32,
    /// Metadata by key.
    pub metadata: BTreeMap<String, MetaValue>,
    /// The tensor table, in file order.
    pub tensors: Vec<TensorInfo>,
    /// Data alignment in bytes.
    pub alignment: u64,
    /// Absolute byte offset of the data section.
    pub data_offset: u64,
}

/// A tensor table entry and the byte offset its record starts at.
struct Record {
    info: TensorInfo,
    at: u64,
}

/// Parses and checks the header, metadata and tensor table of the GGUF file `bytes`.
pub(super) fn parse(bytes: &[u8]) -> Result<Header, GgufError> {
    let len = bytes.len();
    let mut c = Cursor::new(bytes);
    let version = read_preamble(&mut c, len)?;
    let tensor_count = c
        .u64()
        .map_err(|f| f.in_context("tensor count in the header", len))?;
    let kv_count = c
        .u64()
        .map_err(|f| f.in_context("metadata count in the header", len))?;
    let metadata = read_metadata(&mut c, kv_count, len)?;
    let alignment = metadata
        .get(ALIGNMENT_KEY)
        .and_then(MetaValue::as_u64)
        .unwrap_or(DEFAULT_ALIGNMENT);
    let records = read_tensor_table(&mut c, tensor_count, len)?;
    let data_offset = c.pos().next_multiple_of(alignment);
    check_tensors(&records, alignment, data_offset, len)?;
    Ok(Header {
        version,
        metadata,
        tensors: records.into_iter().map(|r| r.info).collect(),
        alignment,
        data_offset,
    })
}

/// Reads the magic and the version; refuses anything but `GGUF` version 2 or 3.
fn read_preamble(c: &mut Cursor, len: usize) -> Result<u32, GgufError> {
    let magic = c.take(4).map_err(|f| f.in_context("magic", len))?;
    if magic != b"GGUF" {
        let mut found = [0; 4];
        found.copy_from_slice(magic);
        return Err(GgufError::BadMagic { found });
    }
    let version = c.u32().map_err(|f| f.in_context("version", len))?;
    match version {
        2 | 3 => Ok(version),
        _ => Err(GgufError::UnsupportedVersion { version }),
    }
}

/// Reads `count` key-value pairs; refuses duplicate keys and a bad `general.alignment`.
fn read_metadata(
    c: &mut Cursor,
    count: u64,
    len: usize,
) -> Result<BTreeMap<String, MetaValue>, GgufError> {
    let mut metadata = BTreeMap::new();
    for i in 0..count {
        let at = c.pos();
        let key = c
            .string()
            .map_err(|f| f.in_context(format!("key of metadata entry {i} of {count}"), len))?;
        let context = || format!("value of metadata key `{key}`");
        let kind_at = c.pos();
        let value = c
            .u32()
            .and_then(|kind| c.value(kind, kind_at))
            .map_err(|f| f.in_context(context(), len))?;
        if key == ALIGNMENT_KEY {
            check_alignment(&value, kind_at).map_err(|f| f.in_context(context(), len))?;
        }
        if metadata.contains_key(&key) {
            let problem = "the key appears twice".to_string();
            return Err(Fault::Bad { at, problem }.in_context(format!("metadata key `{key}`"), len));
        }
        metadata.insert(key, value);
    }
    Ok(metadata)
}

/// Accepts an alignment (the value at byte `at`) that is an integer and a power of two.
fn check_alignment(value: &MetaValue, at: u64) -> Result<(), Fault> {
    match value.as_u64() {
        Some(a) if a.is_power_of_two() && a <= u64::from(u32::MAX) => Ok(()),
        _ => Err(Fault::Bad {
            at,
            problem: format!("the alignment is {value:?}; it must be a power of two below 2^32"),
        }),
    }
}

/// Reads `count` tensor table records.
fn read_tensor_table(c: &mut Cursor, count: u64, len: usize) -> Result<Vec<Record>, GgufError> {
    let mut records = Vec::new();
    for i in 0..count {
        let at = c.pos();
        let name = c
            .string()
            .map_err(|f| f.in_context(format!("name of tensor info {i} of {count}"), len))?;
        let (dims, kind, offset) = read_tensor_fields(c)
            .map_err(|f| f.in_context(format!("tensor info {i} of {count} (`{name}`)"), len))?;
        let info = TensorInfo {
            name,
            dims,
            kind,
            offset,
        };
        records.push(Record { info, at });
    }
    Ok(records)
}

/// Reads the fields after a tensor's name: dimension count, dimensions, type and offset.
fn read_tensor_fields(c: &mut Cursor) -> Result<(Vec<u64>, GgmlType, u64), Fault> {
    let at = c.pos();
    let n_dims = c.u32()?;
    if n_dims > MAX_DIMS {
        let problem = format!("{n_dims} dimensions; ggml allows at most {MAX_DIMS}");
        return Err(Fault::Bad { at, problem });
    }
    let dims = (0..n_dims).map(|_| c.u64()).collect::<Result<_, _>>()?;
    let kind = GgmlType::from_id(c.u32()?);
    Ok((dims, kind, c.u64()?))
}

/// Checks every tensor: unique name, sane size, aligned offset, data inside the file.
fn check_tensors(
    records: &[Record],
    alignment: u64,
    data_offset: u64,
    len: usize,
) -> Result<(), GgufError> {
    let mut names = BTreeSet::new();
    for record in records {
        let name = &record.info.name;
        let bad = |problem: String| GgufError::Malformed {
            context: format!("tensor info for `{name}`"),
            at: record.at,
            problem,
        };
        if !names.insert(name.as_str()) {
            return Err(bad("a tensor of this name appears earlier".to_string()));
        }
        check_tensor(&record.info, alignment).map_err(bad)?;
        check_bounds(&record.info, data_offset, len)?;
    }
    Ok(())
}

/// Checks one tensor's dimensions, offset alignment and block layout.
fn check_tensor(info: &TensorInfo, alignment: u64) -> Result<(), String> {
    if let Some(d) = info.dims.iter().find(|&&d| d > i64::MAX as u64) {
        return Err(format!(
            "dimension {d} is larger than ggml allows (2^63 - 1)"
        ));
    }
    if info.checked_elements().is_none() {
        return Err(format!(
            "dimensions {:?} give more than 2^64 elements",
            info.dims
        ));
    }
    if !info.offset.is_multiple_of(alignment) {
        return Err(format!(
            "data offset {} is not a multiple of the alignment {alignment}",
            info.offset
        ));
    }
    match info.kind.block_layout() {
        Some((block, _)) if !info.row_len().is_multiple_of(block) => Err(format!(
            "rows of {} elements are not a whole number of {} blocks of {block}",
            info.row_len(),
            info.kind
        )),
        Some(_) if info.byte_len().is_none() => Err("the data size overflows".to_string()),
        _ => Ok(()),
    }
}

/// Checks that a tensor of known layout has all its data inside the file.
fn check_bounds(info: &TensorInfo, data_offset: u64, len: usize) -> Result<(), GgufError> {
    let Some(size) = info.byte_len() else {
        return Ok(());
    };
    let end = data_offset
        .checked_add(info.offset)
        .and_then(|start| start.checked_add(size))
        .unwrap_or(u64::MAX);
    if end > len as u64 {
        return Err(GgufError::DataOutOfBounds {
            name: info.name.clone(),
            end,
            len: len as u64,
        });
    }
    Ok(())
}
