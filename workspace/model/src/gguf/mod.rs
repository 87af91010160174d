//! GGUF files: the header, metadata and tensor table, and dequantisation of tensors at load.
//!
//! A GGUF file (versions 2 and 3, little-endian) is read whole into memory by
//! [`GgufFile::read`] or [`GgufFile::parse`], which check the header, every metadata value and
//! every tensor table entry, and that each tensor of known layout lies inside the file.
//! [`GgufFile::dequantize`] then decodes one tensor to `f32` from any of
//! [`GgmlType::supported`] (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K,
//! Q8_K), following ggml's reference decoders bit for bit.
//!
//! No input makes this module panic: a truncated or corrupt file gives a [`GgufError`] saying
//! what is wrong and at which byte.

mod cursor;
pub(crate) mod dequant;
mod error;
mod header;
mod tensor;
mod types;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub use error::GgufError;
pub use tensor::TensorInfo;
pub use types::GgmlType;
pub use value::MetaValue;

/// A parsed GGUF file, holding its bytes so that tensors can be decoded on demand.
#[derive(Clone)]
pub struct GgufFile {
    /// Format version: 2 or 3.
    pub version: u32,
    /// Metadata by key, e.g. `general.architecture` or `llama.block_count`.
    pub metadata: BTreeMap<String, MetaValue>,
    /// The tensor table, in file order.
    pub tensors: Vec<TensorInfo>,
    /// Data alignment in bytes (`general.alignment`, 32 if unset).
    alignment: u64,
    /// Absolute byte offset of the data section.
    data_offset: u64,
    /// The whole file.
    bytes: Vec<u8>,
}

impl GgufFile {
    /// Parses a whole GGUF file held in memory.
    pub fn parse(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
        let header = header::parse(&bytes)?;
        Ok(GgufFile {
            version: header.version,
            metadata: header.metadata,
            tensors: header.tensors,
            alignment: header.alignment,
            data_offset: header.data_offset,
            bytes,
        })
    }

    /// Reads and parses the GGUF file at `path`.
    pub fn read(path: &Path) -> Result<GgufFile, GgufError> {
        let bytes = std::fs::read(path).map_err(|source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(bytes)
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// The tensor table entry named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Data alignment in bytes.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute byte offset of the data section; tensor offsets count from here.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Length of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The raw bytes of tensor `name`, for a type whose block layout is known.
    pub fn tensor_data(&self, name: &str) -> Result<&[u8], GgufError> {
        let info = self.tensor_or_err(name)?;
        let malformed = |problem: &str| GgufError::Malformed {
            context: format!("tensor `{name}`"),
            at: self.data_offset.saturating_add(info.offset),
            problem: problem.to_string(),
        };
        let size = info
            .byte_len()
            .ok_or_else(|| malformed("the data size of this type and shape is unknown"))?;
        let start = self.data_offset.saturating_add(info.offset);
        let end = start.saturating_add(size);
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(start, end)| self.bytes.get(start..end))
            .ok_or_else(|| GgufError::DataOutOfBounds {
                name: name.to_string(),
                end,
                len: self.file_len(),
            })
    }

    /// Tensor `name` decoded to `f32`, in row-major order with `dims[0]` varying fastest
    /// (numpy shape [`TensorInfo::row_major_shape`]).
    pub fn dequantize(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let info = self.tensor_or_err(name)?;
        let unsupported = || GgufError::UnsupportedType {
            name: name.to_string(),
            kind: info.kind,
        };
        if !info.kind.is_supported() {
            return Err(unsupported());
        }
        dequant::dequantize(info.kind, self.tensor_data(name)?).ok_or_else(unsupported)
    }

    /// The tensor table entry named `name`, or [`GgufError::NoSuchTensor`].
    fn tensor_or_err(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensor(name).ok_or_else(|| GgufError::NoSuchTensor {
            name: name.to_string(),
        })
    }
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version)
            .field("metadata", &self.metadata)
            .field("tensors", &self.tensors)
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .field("file_len", &self.bytes.len())
            .finish()
    }
}
