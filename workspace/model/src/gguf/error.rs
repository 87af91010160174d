//! What can go wrong when reading a GGUF file or dequantising one of its tensors.

use std::path::PathBuf;

use thiserror::Error;

use super::types::GgmlType;

/// An error from reading a GGUF file or dequantising one of its tensors.
///
/// Every variant says what is wrong and, where the file is at fault, at which byte.
#[derive(Debug, Error)]
pub enum GgufError {
    /// The file could not be read from disk.
    #[error("cannot read GGUF file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the four bytes `GGUF`.
    #[error("not a GGUF file: it starts with \"{}\" where \"GGUF\" was expected", .found.escape_ascii())]
    BadMagic {
        /// The first four bytes of the file.
        found: [u8; 4],
    },
    /// The header names a version other than 2 or 3.
    #[error("unsupported GGUF version {version}{}; cavern reads versions 2 and 3", version_hint(*.version))]
    UnsupportedVersion {
        /// The version as read (little-endian).
        version: u32,
    },
    /// The file ends before a field that it must contain.
    #[error("{context}: needs {need} bytes at byte {at} but the file has only {len} bytes")]
    Truncated {
        /// What was being read, e.g. "value of metadata key `general.name`".
        context: String,
        /// Byte offset at which the field starts.
        at: u64,
        /// Bytes the field needs.
        need: u64,
        /// Length of the file.
        len: u64,
    },
    /// A field holds a value the format does not allow.
    #[error("{context} (at byte {at}): {problem}")]
    Malformed {
        /// What was being read.
        context: String,
        /// Byte offset of the offending field or record.
        at: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// A tensor's data runs past the end of the file.
    #[error("tensor `{name}` data ends at byte {end} but the file has {len} bytes")]
    DataOutOfBounds {
        /// The tensor.
        name: String,
        /// Absolute byte offset one past the tensor's last byte.
        end: u64,
        /// Length of the file.
        len: u64,
    },
    /// No tensor of the requested name is in the file.
    #[error("the GGUF file has no tensor named `{name}`")]
    NoSuchTensor {
        /// The requested name.
        name: String,
    },
    /// The tensor's element type cannot be dequantised by this reader.
    #[error(
        "tensor `{name}` has type {kind}, which cavern cannot dequantise (supported: {})",
        GgmlType::supported_names()
    )]
    UnsupportedType {
        /// The tensor.
        name: String,
        /// Its type.
        kind: GgmlType,
    },
}

/// Extra words for a version number that is a byte-swapped 2 or 3, or the retired version 1.
fn version_hint(version: u32) -> &'static str {
    match version {
        1 => " (version 1 used 32-bit counts and is obsolete)",
        v if matches!(v.swap_bytes(), 2 | 3) => " (this looks like a big-endian GGUF file)",
        _ => "",
    }
}
