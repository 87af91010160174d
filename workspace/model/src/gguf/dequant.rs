//! Decoding of tensor data to `f32`, block by block, after ggml's `dequantize_row_*`
//! (ggml-quants.c) and the `gguf` Python package's `quants.py`.

use burn::tensor::f16;

use super::types::GgmlType;

/// Elements in a K-quant super-block.
const QK_K: usize = 256;

/// Decodes `data`, a whole number of blocks of type `kind`, into `f32`s in storage order.
///
/// Returns `None` for a type this module does not decode. Trailing bytes that do not fill a
/// block are ignored; the caller passes exactly the tensor's bytes.
pub(super) fn dequantize(kind: GgmlType, data: &[u8]) -> Option<Vec<f32>> {
    let mut out = Vec::new();
    match GgmlType::from_id(kind.id()) {
        GgmlType::F32 => out.extend(data.as_chunks().0.iter().map(|b| f32::from_le_bytes(*b))),
        GgmlType::F16 => out.extend(data.as_chunks().0.iter().map(|b| f16_le(*b))),
        GgmlType::BF16 => out.extend(data.as_chunks().0.iter().map(|b| bf16_le(*b))),
        GgmlType::Q8_0 => blocks(data, &mut out, q8_0),
        GgmlType::Q4_0 => blocks(data, &mut out, q4_0),
        GgmlType::Q4_1 => blocks(data, &mut out, q4_1),
        GgmlType::Q5_0 => blocks(data, &mut out, q5_0),
        GgmlType::Q5_1 => blocks(data, &mut out, q5_1),
        GgmlType::Q4_K => blocks(data, &mut out, q4_k),
        GgmlType::Q5_K => blocks(data, &mut out, q5_k),
        GgmlType::Q6_K => blocks(data, &mut out, q6_k),
        GgmlType::Q8_K => blocks(data, &mut out, q8_k),
        GgmlType::Other(_) => return None,
    }
    Some(out)
}

/// Runs `decode` over each `N`-byte block of `data`.
fn blocks<const N: usize>(data: &[u8], out: &mut Vec<f32>, decode: fn(&[u8; N], &mut Vec<f32>)) {
    let (blocks, _) = data.as_chunks::<N>();
    for block in blocks {
        decode(block, out);
    }
}

/// An IEEE half-precision float from its little-endian bytes.
pub(crate) fn f16_le(b: [u8; 2]) -> f32 {
    f16::from_bits(u16::from_le_bytes(b)).to_f32()
}

/// A bfloat16 from its little-endian bytes: the top half of an `f32`.
pub(crate) fn bf16_le(b: [u8; 2]) -> f32 {
    f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16)
}

/// `block_q8_0`: f16 `d`, then 32 `i8` values; `x = q * d`.
fn q8_0(b: &[u8; 34], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    out.extend(b[2..].iter().map(|&q| f32::from(q.cast_signed()) * d));
}

/// `block_q4_0`: f16 `d`, then 16 bytes whose low nibbles are elements 0..16 and high nibbles
/// 16..32; `x = (q - 8) * d`.
fn q4_0(b: &[u8; 18], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    let qs = &b[2..];
    out.extend(
        qs.iter()
            .map(|&q| f32::from((q & 0x0F).cast_signed() - 8) * d),
    );
    out.extend(
        qs.iter()
            .map(|&q| f32::from((q >> 4).cast_signed() - 8) * d),
    );
}

/// `block_q4_1`: f16 `d`, f16 `m`, then 16 bytes of nibbles as in Q4_0; `x = q * d + m`.
fn q4_1(b: &[u8; 20], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    let m = f16_le([b[2], b[3]]);
    let qs = &b[4..];
    out.extend(qs.iter().map(|&q| f32::from(q & 0x0F) * d + m));
    out.extend(qs.iter().map(|&q| f32::from(q >> 4) * d + m));
}

/// The fifth bits of a Q5_0 or Q5_1 block: bit `j` of the little-endian `u32` belongs to
/// element `j`.
fn high_bits(qh: &[u8]) -> u32 {
    u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]])
}

/// The 5-bit values of a Q5_0 or Q5_1 block: low nibbles of `qs` are elements 0..16 and high
/// nibbles 16..32, each topped with its bit of `qh`.
fn five_bit_values(qh: &[u8], qs: &[u8]) -> [u8; 32] {
    let high = high_bits(qh);
    let mut q = [0u8; 32];
    for (j, &byte) in qs.iter().enumerate() {
        let bit = |k: usize| (((high >> k) & 1) as u8) << 4;
        q[j] = (byte & 0x0F) | bit(j);
        q[j + 16] = (byte >> 4) | bit(j + 16);
    }
    q
}

/// `block_q5_0`: f16 `d`, 4 bytes of fifth bits, then 16 bytes of nibbles; `x = (q - 16) * d`.
fn q5_0(b: &[u8; 22], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    let q = five_bit_values(&b[2..6], &b[6..]);
    out.extend(q.iter().map(|&q| f32::from(q.cast_signed() - 16) * d));
}

/// `block_q5_1`: f16 `d`, f16 `m`, 4 bytes of fifth bits, then 16 bytes of nibbles;
/// `x = q * d + m`.
fn q5_1(b: &[u8; 24], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    let m = f16_le([b[2], b[3]]);
    let q = five_bit_values(&b[4..8], &b[8..]);
    out.extend(q.iter().map(|&q| f32::from(q) * d + m));
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and minimum of sub-block `j` (0..8) from the
/// 12 packed bytes of a Q4_K super-block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// `block_q4_K`: f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales and minimums, then 128
/// bytes of nibbles. Each 32 bytes of nibbles hold two sub-blocks of 32: low nibbles first.
fn q4_k(b: &[u8; 144], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    let min = f16_le([b[2], b[3]]);
    let scales = &b[4..16];
    for (chunk, q) in b[16..].chunks_exact(32).enumerate() {
        let (sc, m) = scale_min_k4(2 * chunk, scales);
        let (d1, m1) = (d * f32::from(sc), min * f32::from(m));
        let (sc, m) = scale_min_k4(2 * chunk + 1, scales);
        let (d2, m2) = (d * f32::from(sc), min * f32::from(m));
        out.extend(q.iter().map(|&x| d1 * f32::from(x & 0x0F) - m1));
        out.extend(q.iter().map(|&x| d2 * f32::from(x >> 4) - m2));
    }
}

/// `block_q5_K`: f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales and minimums (as in
/// Q4_K), 32 bytes `qh` of fifth bits, then 128 bytes of nibbles. Each 32 bytes of nibbles hold
/// two sub-blocks of 32 (low nibbles first); sub-block `s` takes bit `s` of each `qh` byte.
fn q5_k(b: &[u8; 176], out: &mut Vec<f32>) {
    let d = f16_le([b[0], b[1]]);
    let min = f16_le([b[2], b[3]]);
    let scales = &b[4..16];
    let qh = &b[16..48];
    for (chunk, q) in b[48..].chunks_exact(32).enumerate() {
        for (half, shift) in [(0, 0), (1, 4)] {
            let sub = 2 * chunk + half;
            let (sc, m) = scale_min_k4(sub, scales);
            let (d, m) = (d * f32::from(sc), min * f32::from(m));
            out.extend(q.iter().zip(qh).map(|(&x, &h)| {
                let q = ((x >> shift) & 0x0F) | (((h >> sub) & 1) << 4);
                d * f32::from(q) - m
            }));
        }
    }
}

/// `block_q6_K`: 128 bytes `ql` (low 4 bits), 64 bytes `qh` (high 2 bits), 16 `i8` scales,
/// then f16 `d` last; `x = d * scale * (q - 32)`, in two halves of 128 elements.
fn q6_k(b: &[u8; 210], out: &mut Vec<f32>) {
    let d = f16_le([b[208], b[209]]);
    for half in 0..QK_K / 128 {
        let ql = &b[64 * half..64 * half + 64];
        let qh = &b[128 + 32 * half..128 + 32 * half + 32];
        let sc = &b[192 + 8 * half..192 + 8 * half + 8];
        let mut y = [0f32; 128];
        for l in 0..32 {
            let is = l / 16;
            let q = [
                (ql[l] & 0x0F) | ((qh[l] & 3) << 4),
                (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4),
                (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
            ];
            for (k, &q) in q.iter().enumerate() {
                let scale = f32::from(sc[is + 2 * k].cast_signed());
                y[l + 32 * k] = d * scale * f32::from(q.cast_signed() - 32);
            }
        }
        out.extend_from_slice(&y);
    }
}

/// `block_q8_K`: f32 `d`, 256 `i8` values, then 16 `i16` sums of groups of 16 (only used by
/// ggml's dot products); `x = q * d`.
fn q8_k(b: &[u8; 292], out: &mut Vec<f32>) {
    let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    out.extend(
        b[4..4 + QK_K]
            .iter()
            .map(|&q| f32::from(q.cast_signed()) * d),
    );
}
