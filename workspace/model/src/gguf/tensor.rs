//! Entries of a GGUF file's tensor table.

use super::types::GgmlType;

/// One entry of the tensor table: where a tensor's data lies and how to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// The dimensions as stored: `dims[0]` (ggml's `ne[0]`) varies fastest.
    pub dims: Vec<u64>,
    /// The element type.
    pub kind: GgmlType,
    /// Byte offset of the data from the start of the file's data section.
    pub offset: u64,
}

impl TensorInfo {
    /// The number of elements (saturating at `u64::MAX`; parsing refuses tensors that overflow).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |n, &d| n.saturating_mul(d))
    }

    /// The shape in row-major (numpy) order: `dims` reversed, so the last axis varies fastest.
    pub fn row_major_shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }

    /// The size of the data in bytes, or `None` where the type's layout is unknown, the rows
    /// are not whole blocks, or the size overflows.
    pub fn byte_len(&self) -> Option<u64> {
        let (block, bytes) = self.kind.block_layout()?;
        let n = self.checked_elements()?;
        if !self.row_len().is_multiple_of(block) {
            return None;
        }
        (n / block).checked_mul(bytes)
    }

    /// The number of elements, or `None` if it overflows a `u64`.
    pub(super) fn checked_elements(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
    }

    /// Elements per row (`dims[0]`; 1 for a tensor without dimensions).
    pub(super) fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }
}
