//! A bounds-checked little-endian reader over the bytes of a GGUF file.

use super::error::GgufError;
use super::value::MetaValue;

/// Arrays nested deeper than this are refused, so that a hostile file cannot exhaust the stack.
const MAX_ARRAY_DEPTH: usize = 16;

/// A low-level read failure, before it is told what was being read.
#[derive(Debug)]
pub(super) enum Fault {
    /// `need` bytes were needed at byte `at` but the file is shorter.
    Short {
        /// Where the field starts.
        at: u64,
        /// Bytes it needs.
        need: u64,
    },
    /// The field at byte `at` holds a value the format does not allow.
    Bad {
        /// Where the field starts.
        at: u64,
        /// What is wrong with it.
        problem: String,
    },
}

impl Fault {
    /// The public error, saying that `context` was being read from a file of `len` bytes.
    pub(super) fn in_context(self, context: impl Into<String>, len: usize) -> GgufError {
        let context = context.into();
        match self {
            Self::Short { at, need } => GgufError::Truncated {
                context,
                at,
                need,
                len: len as u64,
            },
            Self::Bad { at, problem } => GgufError::Malformed {
                context,
                at,
                problem,
            },
        }
    }
}

/// Reads fields one after another from a byte slice; never reads past its end.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The current byte offset.
    pub(super) fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left after the current offset.
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], Fault> {
        let len = usize::try_from(n)
            .ok()
            .filter(|&len| len <= self.remaining())
            .ok_or(Fault::Short {
                at: self.pos(),
                need: n,
            })?;
        let out = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    /// A little-endian `u32`.
    pub(super) fn u32(&mut self) -> Result<u32, Fault> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub(super) fn u64(&mut self) -> Result<u64, Fault> {
        self.array().map(u64::from_le_bytes)
    }

    /// A GGUF string: a `u64` byte length, then that many bytes of UTF-8.
    pub(super) fn string(&mut self) -> Result<String, Fault> {
        let len = self.u64()?;
        let at = self.pos();
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| Fault::Bad {
            at,
            problem: format!("string is not valid UTF-8 ({e})"),
        })
    }

    /// A metadata value of GGUF value type `kind` (read before it, at byte `kind_at`).
    pub(super) fn value(&mut self, kind: u32, kind_at: u64) -> Result<MetaValue, Fault> {
        self.value_at_depth(kind, kind_at, 0)
    }

    /// A metadata value inside `depth` enclosing arrays.
    fn value_at_depth(
        &mut self,
        kind: u32,
        kind_at: u64,
        depth: usize,
    ) -> Result<MetaValue, Fault> {
        Ok(match kind {
            0 => MetaValue::U8(u8::from_le_bytes(self.array()?)),
            1 => MetaValue::I8(i8::from_le_bytes(self.array()?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.array()?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array()?)),
            4 => MetaValue::U32(self.u32()?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array()?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array()?)),
            7 => MetaValue::Bool(self.bool()?),
            8 => MetaValue::String(self.string()?),
            9 => MetaValue::Array(self.array_value(depth)?),
            10 => MetaValue::U64(self.u64()?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array()?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array()?)),
            other => {
                return Err(Fault::Bad {
                    at: kind_at,
                    problem: format!("unknown metadata value type {other} (known: 0 to 12)"),
                });
            }
        })
    }

    /// A GGUF bool: one byte, 0 or 1.
    fn bool(&mut self) -> Result<bool, Fault> {
        let at = self.pos();
        match self.array::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            [b] => Err(Fault::Bad {
                at,
                problem: format!("bool byte is {b}, not 0 or 1"),
            }),
        }
    }

    /// The body of an array value: element type `u32`, count `u64`, then the elements.
    fn array_value(&mut self, depth: usize) -> Result<Vec<MetaValue>, Fault> {
        let kind_at = self.pos();
        if depth >= MAX_ARRAY_DEPTH {
            return Err(Fault::Bad {
                at: kind_at,
                problem: format!("arrays are nested more than {MAX_ARRAY_DEPTH} deep"),
            });
        }
        let kind = self.u32()?;
        if kind > 12 {
            return Err(Fault::Bad {
                at: kind_at,
                problem: format!("unknown array element type {kind} (known: 0 to 12)"),
            });
        }
        let count = self.u64()?;
        // Every element takes at least `min_size(kind)` bytes: refuse impossible counts before
        // allocating or looping.
        let need = count.saturating_mul(min_size(kind));
        if need > self.remaining() as u64 {
            return Err(Fault::Short {
                at: self.pos(),
                need,
            });
        }
        (0..count)
            .map(|_| self.value_at_depth(kind, kind_at, depth + 1))
            .collect()
    }
}

/// The fewest bytes a value of GGUF value type `kind` can take.
fn min_size(kind: u32) -> u64 {
    match kind {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 12,
        // Unreachable: element types are checked before their count.
        _ => 1,
    }
}
