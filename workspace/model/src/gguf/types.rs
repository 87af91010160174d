//! ggml tensor element types: their ids, names and block layouts.

use std::fmt;

/// The element type of a tensor in a GGUF file (`ggml_type` in ggml).
///
/// The named variants are the types [`GgufFile::dequantize`](super::GgufFile::dequantize)
/// supports; every other id is kept as [`GgmlType::Other`].
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// 32-bit IEEE floats (id 0).
    F32,
    /// 16-bit IEEE floats (id 1).
    F16,
    /// bfloat16 (id 30).
    BF16,
    /// Blocks of 32: an f16 scale and 32 signed bytes (id 8).
    Q8_0,
    /// Blocks of 32: an f16 scale and 32 nibbles offset by 8 (id 2).
    Q4_0,
    /// Blocks of 32: an f16 scale, an f16 minimum and 32 nibbles (id 3).
    Q4_1,
    /// Blocks of 32: an f16 scale and 32 five-bit values offset by 16 (id 6).
    Q5_0,
    /// Blocks of 32: an f16 scale, an f16 minimum and 32 five-bit values (id 7).
    Q5_1,
    /// Super-blocks of 256 with 6-bit sub-block scales and minimums and 4-bit values (id 12).
    Q4_K,
    /// Super-blocks of 256 with 6-bit sub-block scales and minimums and 5-bit values (id 13).
    Q5_K,
    /// Super-blocks of 256 with 8-bit sub-block scales and 6-bit values (id 14).
    Q6_K,
    /// Super-blocks of 256: an f32 scale and 256 signed bytes (id 15).
    Q8_K,
    /// Any other ggml type id, known to ggml or not.
    Other(u32),
}

impl GgmlType {
    /// The type with ggml id `id`; ids of the named variants never become [`GgmlType::Other`].
    pub fn from_id(id: u32) -> Self {
        match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            12 => Self::Q4_K,
            13 => Self::Q5_K,
            14 => Self::Q6_K,
            15 => Self::Q8_K,
            30 => Self::BF16,
            other => Self::Other(other),
        }
    }

    /// The ggml type id.
    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q5_0 => 6,
            Self::Q5_1 => 7,
            Self::Q8_0 => 8,
            Self::Q4_K => 12,
            Self::Q5_K => 13,
            Self::Q6_K => 14,
            Self::Q8_K => 15,
            Self::BF16 => 30,
            Self::Other(id) => id,
        }
    }

    /// ggml's name for the type (`"Q4_K"`), or `None` for an id ggml does not define.
    pub fn name(self) -> Option<&'static str> {
        self.row().map(|row| row.1)
    }

    /// `(elements per block, bytes per block)`, or `None` for an id ggml does not define.
    pub fn block_layout(self) -> Option<(u64, u64)> {
        self.row().map(|row| row.2)
    }

    /// This type's row of [`TYPE_TABLE`].
    fn row(self) -> Option<&'static TypeRow> {
        TYPE_TABLE.iter().find(|row| row.0 == self.id())
    }

    /// Whether [`GgufFile::dequantize`](super::GgufFile::dequantize) can decode this type.
    pub fn is_supported(self) -> bool {
        !matches!(Self::from_id(self.id()), Self::Other(_))
    }

    /// Every type [`GgufFile::dequantize`](super::GgufFile::dequantize) can decode, by id.
    pub fn supported() -> impl Iterator<Item = GgmlType> {
        TYPE_TABLE
            .iter()
            .map(|row| Self::from_id(row.0))
            .filter(|kind| kind.is_supported())
    }

    /// The names of [`GgmlType::supported`], comma-separated, for messages.
    pub fn supported_names() -> String {
        let names: Vec<&str> = Self::supported().filter_map(Self::name).collect();
        names.join(", ")
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) if self.is_supported() => f.write_str(name),
            Some(name) => write!(f, "{name} (ggml type {})", self.id()),
            None => write!(f, "unknown ggml type {}", self.id()),
        }
    }
}

/// `(id, name, (elements per block, bytes per block))`.
type TypeRow = (u32, &'static str, (u64, u64));

/// `(id, name, (elements per block, bytes per block))` for every ggml type, after ggml.h and
/// `GGML_QUANT_SIZES` of the `gguf` Python package.
const TYPE_TABLE: &[TypeRow] = &[
    (0, "F32", (1, 4)),
    (1, "F16", (1, 2)),
    (2, "Q4_0", (32, 18)),
    (3, "Q4_1", (32, 20)),
    (6, "Q5_0", (32, 22)),
    (7, "Q5_1", (32, 24)),
    (8, "Q8_0", (32, 34)),
    (9, "Q8_1", (32, 40)),
    (10, "Q2_K", (256, 84)),
    (11, "Q3_K", (256, 110)),
    (12, "Q4_K", (256, 144)),
    (13, "Q5_K", (256, 176)),
    (14, "Q6_K", (256, 210)),
    (15, "Q8_K", (256, 292)),
    (16, "IQ2_XXS", (256, 66)),
    (17, "IQ2_XS", (256, 74)),
    (18, "IQ3_XXS", (256, 98)),
    (19, "IQ1_S", (256, 50)),
    (20, "IQ4_NL", (32, 18)),
    (21, "IQ3_S", (256, 110)),
    (22, "IQ2_S", (256, 82)),
    (23, "IQ4_XS", (256, 136)),
    (24, "I8", (1, 1)),
    (25, "I16", (1, 2)),
    (26, "I32", (1, 4)),
    (27, "I64", (1, 8)),
    (28, "F64", (1, 8)),
    (29, "IQ1_M", (256, 56)),
    (30, "BF16", (1, 2)),
    (34, "TQ1_0", (256, 54)),
    (35, "TQ2_0", (256, 66)),
    (39, "MXFP4", (32, 17)),
    (40, "NVFP4", (64, 36)),
    (41, "Q1_0", (128, 18)),
];
